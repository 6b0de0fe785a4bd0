"""Prometheus metrics of the processor (served on JEDI_METRICS_PORT)."""

from prometheus_client import Counter, Histogram

INPUTS = Counter(
    "jedi_processor_inputs_total",
    "Records the site stage folded, by outcome (applied, duplicate, rejected, site).",
    ["outcome"],
)
PUBLISHED = Counter(
    "jedi_processor_published_total",
    "Records written to the benchmarks topic, by stage (site, cross_site) and kind (release, progress).",
    ["stage", "kind"],
)
BATCH_SECONDS = Histogram(
    "jedi_processor_batch_seconds",
    "Time to process one batch, from the records to the stored table values, by stage.",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RELEASES_WITHHELD = Counter(
    "jedi_processor_releases_withheld_total",
    "Releases the auditor found something in, kept back (fail closed): should stay 0",
    ["stage"],
)
