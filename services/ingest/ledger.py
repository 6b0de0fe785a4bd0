"""What ingest has already accepted: event ids (for duplicates), incident lifecycles, and per
survey response its content fingerprint (to tell a changed re-export from an unchanged one)
and the number of responses per site and wave (for the eligible-headcount check).

Rebuilt at start by reading the event topics, the system of record, so a restarted
ingest still answers a client's retry as a duplicate.
"""

from __future__ import annotations

from collections import Counter

from aiokafka import ConsumerRecord

from jedi.v1 import events_pb2, survey_pb2
from shared.convert import intervention_from_proto, survey_response_from_proto
from shared.domain.model import (
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    InterventionEvent,
    SurveyResponse,
    Wave,
)
from shared.domain.response_keys import content_fingerprint
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
        self._fingerprints: dict[str, str] = {}  # survey response event id -> its content's
        self._responses: Counter[tuple[str, Wave]] = Counter()

    def __len__(self) -> int:
        return len(self._accepted)

    def knows(self, event_id: str) -> bool:
        return event_id in self._accepted

    def incident_times(self, site_id: str, incident_id: str) -> IncidentTimes:
        return self._incidents.get((site_id, incident_id), IncidentTimes())

    def fingerprint(self, event_id: str) -> str | None:
        """The content fingerprint of the stored survey response with this id, if any."""
        return self._fingerprints.get(event_id)

    def responses(self, site_id: str, wave: Wave) -> int:
        """Survey responses stored for the site and wave."""
        return self._responses[(site_id, wave)]

    def record(self, event: InterventionEvent | SurveyResponse) -> None:
        if event.event_id in self._accepted:
            return
        self._accepted.add(event.event_id)
        if isinstance(event, SurveyResponse):
            self._fingerprints[event.event_id] = content_fingerprint(event)
            self._responses[(event.site_id, event.wave)] += 1
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
        response = survey_response_from_proto(survey_pb2.SurveyResponse.FromString(record.value))
        if not isinstance(response, list):
            self.record(response)
            return
        event_id = dict(record.headers or ()).get(EVENT_ID_HEADER)
        if event_id:
            self._accepted.add(event_id.decode())
