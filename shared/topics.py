"""The platform's Kafka topics: names, partitions and configuration in one place.

A namespace prefixes every name, so that tests (or two environments sharing a cluster)
can run side by side without reading each other's records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}


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
    def deadletter(self) -> TopicSpec:
        return self._spec("jedi.deadletter.v1", 1, {"retention.ms": str(30 * 24 * 3600 * 1000)})

    @property
    def benchmarks(self) -> TopicSpec:
        """Already suppressed, safe for any subscriber; keyed by cell key, a tombstone withdraws a cell."""
        return self._spec("jedi.benchmarks.v1", 3, COMPACTED)

    @property
    def all(self) -> tuple[TopicSpec, ...]:
        return (
            self.interventions,
            self.survey_responses,
            self.sites,
            self.instruments,
            self.deadletter,
            self.benchmarks,
        )
