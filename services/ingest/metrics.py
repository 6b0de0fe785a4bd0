"""Prometheus metrics of the ingest service."""

from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "jedi_ingest_events_total",
    "Submitted events by kind and outcome (accepted, duplicate, rejected, unavailable).",
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
