"""What ingest's use cases need from the outside world, as small protocols.

The Kafka publisher, the ledger rebuilt from the event topics and the registry view rebuilt
from the compacted registry topics are the adapters behind these; tests may put anything
with the same shape in their place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from shared.domain.cycles import SurveyCycle
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse, Wave
from shared.domain.validation import IncidentTimes
from shared.event_records import EventRecord

Event = InterventionEvent | SurveyResponse


class PublishFailed(Exception):
    """Kafka did not confirm some records; they must be reported as not stored."""


class RecordPublisher(Protocol):
    async def publish(self, records: Iterable[EventRecord]) -> list[bool]:
        """Per record (in order, read once), whether Kafka acknowledged it; raises
        PublishFailed if Kafka is unreachable."""
        ...


class AcceptedEvents(Protocol):
    """What ingest has already stored: event ids, the incidents' lifecycle times, the survey
    responses' content fingerprints and their number per site and wave."""

    def knows(self, event_id: str) -> bool: ...

    def fingerprint(self, event_id: str) -> str | None: ...

    def responses(self, site_id: str, wave: Wave) -> int: ...

    def incident_times(self, site_id: str, incident_id: str) -> IncidentTimes: ...

    def record(self, event: Event) -> None: ...


class Registry(Protocol):
    """The registered sites by id, instruments by (id, version) and survey cycles by id."""

    @property
    def sites(self) -> Mapping[str, Site]: ...

    @property
    def instruments(self) -> Mapping[tuple[str, int], Instrument]: ...

    @property
    def cycles(self) -> Mapping[str, SurveyCycle]: ...

    def put_site(self, site: Site) -> None: ...

    def put_instrument(self, instrument: Instrument) -> None: ...

    def put_cycle(self, cycle: SurveyCycle) -> None: ...
