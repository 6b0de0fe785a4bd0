"""What ingest has already accepted: event ids (for duplicates) and incident lifecycles.

Rebuilt at start by reading the event topics, the system of record, so a restarted
ingest still answers a client's retry as a duplicate.
"""

from __future__ import annotations

from aiokafka import ConsumerRecord

from jedi.v1 import events_pb2
from shared.convert import intervention_from_proto
from shared.domain.model import (
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    InterventionEvent,
    SurveyResponse,
)
from shared.domain.validation import IncidentTimes
from shared.event_records import EVENT_ID_HEADER
from shared.topics import Topics

_INCIDENT_DETAILS = (BiasIncidentReported, BiasIncidentAcknowledged, BiasIncidentResolved)


class EventLedger:
    def __init__(self, topics: Topics) -> None:
        self._interventions_topic = topics.interventions.name
        self.topics = (self._interventions_topic, topics.survey_responses.name)
        self._accepted: set[str] = set()
        self._incidents: dict[tuple[str, str], IncidentTimes] = {}

    def __len__(self) -> int:
        return len(self._accepted)

    def knows(self, event_id: str) -> bool:
        return event_id in self._accepted

    def incident_times(self, site_id: str, incident_id: str) -> IncidentTimes:
        return self._incidents.get((site_id, incident_id), IncidentTimes())

    def record(self, event: InterventionEvent | SurveyResponse) -> None:
        self._accepted.add(event.event_id)
        if isinstance(event, InterventionEvent) and isinstance(event.detail, _INCIDENT_DETAILS):
            key = (event.site_id, event.detail.incident_id)
            self._incidents[key] = self.incident_times(*key).after(event)

    def apply_record(self, record: ConsumerRecord) -> None:
        """Learn from one record of an event topic (read back at start)."""
        if record.topic == self._interventions_topic:
            event = intervention_from_proto(events_pb2.InterventionEvent.FromString(record.value))
            if not isinstance(event, list):
                self.record(event)
                return
        event_id = dict(record.headers or ()).get(EVENT_ID_HEADER)
        if event_id:
            self._accepted.add(event_id.decode())
