"""Prometheus metrics of the query service."""

from prometheus_client import Counter, Gauge, Histogram

REQUEST_SECONDS = Histogram(
    "jedi_query_request_seconds",
    "Time to answer a unary query, by RPC (Watch streams are not timed).",
    ["rpc"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REQUESTS = Counter(
    "jedi_query_requests_total",
    "Query calls by RPC and status code.",
    ["rpc", "code"],
)
REPLIES_REUSED = Counter(
    "jedi_query_replies_reused_total",
    "Unary answers served again from the same view version's earlier, identical call.",
)
WATCH_SUBSCRIBERS = Gauge("jedi_query_watch_subscribers", "Watch streams open now.")
VIEW_CELLS = Gauge("jedi_query_view_cells", "Benchmark cells in the current view.")
VIEW_RELEASES = Gauge(
    "jedi_query_view_releases", "Release scopes with a status in the current view."
)
VIEW_VERSION = Gauge(
    "jedi_query_view_version", "Version of the current view (one per applied batch)."
)
REFUSED_RECORDS = Counter(
    "jedi_query_refused_records_total",
    "Benchmark records the view refused whole (unreadable, unknown key, key not the release's scope).",
    ["reason"],
)
REFUSED_CELLS = Counter(
    "jedi_query_refused_cells_total",
    "Cells the view left out of a release (below the size floor, key mismatch, outside the scope).",
    ["reason"],
)
STALE_RELEASES = Counter(
    "jedi_query_stale_releases_total",
    "Releases ignored because the view already held a newer release of their scope.",
)
