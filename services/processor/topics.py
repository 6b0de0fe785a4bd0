"""The processor's topics: the platform's, its own internal ones, and its table changelogs.

Every topic is created before the Faust worker starts (Faust needs its source topics to exist).
Changelogs are created here too, compacted and never deleted: Faust has open reports of
changelog recovery hanging once retention deleted records.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.processor.settings import ProcessorSettings
from shared.topics import COMPACTED, MAX_RECORD_BYTES, Topics, TopicSpec

SITE_TABLE = "sites"
GROUP_TABLE = "groups"


@dataclass(frozen=True)
class ProcessorTopics:
    platform: Topics
    app_id: str  # the Faust app id: namespace + app id

    @classmethod
    def of(cls, settings: ProcessorSettings) -> ProcessorTopics:
        namespace = settings.topic_namespace
        return cls(Topics(namespace), f"{namespace}{settings.app_id}")

    def _internal(self, name: str, partitions: int) -> TopicSpec:
        # A site's table value grows with its events, a wave's with its sites.
        config = {**COMPACTED, "max.message.bytes": str(MAX_RECORD_BYTES)}
        return TopicSpec(f"{self.app_id}-{name}", partitions, config)

    @property
    def site_partitions(self) -> int:
        """The site stage's partitions: those of the event topics, so a site's events share one."""
        return self.platform.survey_responses.partitions

    @property
    def site_changes(self) -> TopicSpec:
        """Registry records of sites (and refreshes), keyed by site id like the events."""
        return self._internal("site-changes", self.site_partitions)

    @property
    def site_summaries(self) -> TopicSpec:
        """Each site's eligible scores, for the one-partition cross-site stage."""
        return self._internal("site-summaries", 1)

    def changelog(self, table: str, partitions: int) -> TopicSpec:
        return self._internal(f"{table}-changelog", partitions)

    @property
    def all(self) -> tuple[TopicSpec, ...]:
        if self.platform.interventions.partitions != self.site_partitions:
            raise ValueError("the event topics must have as many partitions as each other")
        return (
            *self.platform.all,
            self.site_changes,
            self.site_summaries,
            self.changelog(SITE_TABLE, self.site_partitions),
            self.changelog(GROUP_TABLE, 1),
        )
