"""Prometheus metrics of the ingest service."""

from __future__ import annotations

import collections
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from services.ingest.submission import Verdict

REQUESTS = Counter(
    "jedi_ingest_requests_total", "Ingest calls by RPC and status code.", ["rpc", "code"]
)
REQUEST_SECONDS = Histogram(
    "jedi_ingest_request_seconds",
    "Time to answer an ingest call, by RPC.",
    ["rpc"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS = Counter(
    "jedi_ingest_events_total",
    "Submitted events by kind and outcome (accepted, duplicate, rejected).",
    ["kind", "status"],
)
REJECTIONS = Counter(
    "jedi_ingest_rejections_total",
    "Field errors of rejected events, by field (map keys left out).",
    ["field"],
)
PUBLISH_SECONDS = Histogram(
    "jedi_ingest_publish_seconds",
    "Time from sending a batch to Kafka until every record of it was acknowledged.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_MAP_KEY = re.compile(r"\[.*?\]")


def count_verdicts(kinds: Sequence[str], verdicts: Sequence[Verdict]) -> None:
    """Count each event by its kind and outcome, and each field error of the rejected ones."""
    # Tallied first: a labelled increment takes a lock, and a call holds thousands of events.
    outcomes = collections.Counter(
        (kind, verdict.outcome.value) for kind, verdict in zip(kinds, verdicts, strict=True)
    )
    for (kind, outcome), count in outcomes.items():
        EVENTS.labels(kind, outcome).inc(count)
    fields = collections.Counter(
        _MAP_KEY.sub("", error.field) for verdict in verdicts for error in verdict.errors
    )
    for field, count in fields.items():
        REJECTIONS.labels(field).inc(count)
