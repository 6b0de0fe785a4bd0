"""How an accepted event is stored on Kafka: ingest writes these records, the processor reads them.

The topic is the event's kind, the key its site id (a site's events share a partition and keep
their order), the value the event's own protobuf message, and the event id travels in a header
as well, so that a reader can deduplicate without decoding the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from shared.convert import intervention_to_proto, survey_response_to_proto
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.topics import Topics

EVENT_ID_HEADER = "event-id"


@dataclass(frozen=True)
class EventRecord:
    topic: str
    key: bytes
    value: bytes
    event_id: str

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return [(EVENT_ID_HEADER, self.event_id.encode())]


def event_record(topics: Topics, event: SurveyResponse | InterventionEvent) -> EventRecord:
    message: Message
    if isinstance(event, SurveyResponse):
        topic, message = topics.survey_responses, survey_response_to_proto(event)
    elif isinstance(event, InterventionEvent):
        topic, message = topics.interventions, intervention_to_proto(event)
    else:
        raise TypeError(f"not an event: {type(event).__name__}")
    return EventRecord(
        topic.name, event.site_id.encode(), message.SerializeToString(), event.event_id
    )
