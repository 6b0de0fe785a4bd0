"""Prometheus metrics of the dashboard (`jedi_dashboard_*`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SESSIONS = Gauge("jedi_dashboard_sessions", "Signed-in sessions held")
STREAMS = Gauge("jedi_dashboard_streams", "Open Server-Sent Event streams (one Watch each)")
SIGNINS = Counter("jedi_dashboard_signins_total", "Sign-in attempts", ["outcome"])
VIEW_BUILD_SECONDS = Histogram(
    "jedi_dashboard_view_build_seconds", "Time to build a view from the query service", ["view"]
)
