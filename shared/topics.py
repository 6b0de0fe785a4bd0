"""The platform's Kafka topics: names, partitions and configuration in one place.

A namespace prefixes every name, so that tests (or two environments sharing a cluster)
can run side by side without reading each other's records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
# The largest record the processor writes, before compression. A cross-site release is one
# record holding a wave's ranks of every site, about 1.3 KB per site: 1.3 MB at 1,000 sites, over
# Kafka's default limit of 1 MiB. 8 MiB holds about 6,000 sites (docs/scaling.md).
MAX_RECORD_BYTES = 8 * 1024 * 1024
HOUR_MS = 3600 * 1000
# The benchmarks topic serves the latest release of each scope, not its history (docs/privacy.md,
# "History"). Kafka never compacts the active segment of a partition, and by default a segment
# rolls only after 7 days or 1 GiB: every old release would stay readable from offset 0 for a
# week. So the active segment rolls after an hour (on the next write after that hour), the
# cleaner takes a partition once 10 % of it is superseded records, and at the latest 2 hours
# after a record was written; tombstones stay an hour, long enough for a reader that starts
# at offset 0 to finish its scan. Readers who keep everything they ever read are assumed by
# the privacy rule anyway: this only stops the topic from serving history to new readers.
PROMPTLY_COMPACTED = {
    **COMPACTED,
    "segment.ms": str(HOUR_MS),
    "min.cleanable.dirty.ratio": "0.1",
    "max.compaction.lag.ms": str(2 * HOUR_MS),
    "delete.retention.ms": str(HOUR_MS),
}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    namespace: str = ""

    def _spec(self, name: str, partitions: int, config: Mapping[str, str]) -> TopicSpec:
        return TopicSpec(f"{self.namespace}{name}", partitions, config)

    @property
    def interventions(self) -> TopicSpec:
        """System of record: kept forever, keyed by site id."""
        return self._spec("jedi.interventions.v1", 6, KEEP_FOREVER)

    @property
    def survey_responses(self) -> TopicSpec:
        """System of record: kept forever, keyed by site id."""
        return self._spec("jedi.survey-responses.v1", 6, KEEP_FOREVER)

    @property
    def sites(self) -> TopicSpec:
        return self._spec("jedi.sites.v1", 1, COMPACTED)

    @property
    def instruments(self) -> TopicSpec:
        return self._spec("jedi.instruments.v1", 1, COMPACTED)

    @property
    def cycles(self) -> TopicSpec:
        """Survey cycles (`jedi.v1.SurveyCycle`, PutCycle), keyed by cycle id: the latest of each."""
        return self._spec("jedi.cycles.v1", 1, COMPACTED)

    @property
    def deadletter(self) -> TopicSpec:
        return self._spec("jedi.deadletter.v1", 1, {"retention.ms": str(30 * 24 * 3600 * 1000)})

    @property
    def benchmarks(self) -> TopicSpec:
        """Releases, already suppressed, safe for any subscriber (docs/privacy.md).

        Keyed by scope ("site/<id>", "cross-site/<wave>") and "progress/<scope>": one record is
        a whole release, which replaces the scope's previous one. Compacted promptly, so that
        the topic holds the latest release of each scope and not the older ones.
        """
        return self._spec(
            "jedi.benchmarks.v1",
            3,
            {**PROMPTLY_COMPACTED, "max.message.bytes": str(MAX_RECORD_BYTES)},
        )

    @property
    def audit_trail(self) -> TopicSpec:
        """Who did what (protos/jedi/v1/audit_trail.proto): append-only, kept forever, one
        partition (one order). Written by ingest and the query service, read by the query
        service for coordinators. Not among `all`: the processor never touches it."""
        return self._spec("jedi.audit-trail.v1", 1, KEEP_FOREVER)

    @property
    def site_flags(self) -> TopicSpec:
        """Ingest's refusals of implausible uploads (`jedi.v1.SiteFlag`), keyed "<site>/<wave>":
        the latest per site and wave, for coordinators. Counts only, no survey content."""
        return self._spec("jedi.site-flags.v1", 1, COMPACTED)

    @property
    def all(self) -> tuple[TopicSpec, ...]:
        return (
            self.interventions,
            self.survey_responses,
            self.sites,
            self.instruments,
            self.cycles,
            self.deadletter,
            self.benchmarks,
            self.site_flags,
        )
