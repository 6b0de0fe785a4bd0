"""How an accepted event is stored on Kafka: ingest writes these records, the processor reads them.

The topic is the event's kind, the key its site id (a site's events share a partition and keep
their order), the value the event's own protobuf message, and the event id travels in a header
as well, so that a reader can deduplicate without decoding the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message

from jedi.v1 import flags_pb2
from shared.convert import intervention_to_proto, survey_response_to_proto
from shared.domain.model import InterventionEvent, SurveyResponse, Wave
from shared.domain.plausibility import HeadcountExceeded
from shared.proto_enums import value_name
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
        return [(EVENT_ID_HEADER, self.event_id.encode())] if self.event_id else []


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


def site_flag_key(site_id: str, wave: str) -> bytes:
    return f"{site_id}/{wave}".encode()


def site_flag_record(topics: Topics, flag: HeadcountExceeded, flagged_at: datetime) -> EventRecord:
    """The record of jedi.site-flags.v1 for ingest's refusal of an implausible upload."""
    message = flags_pb2.SiteFlag(
        site_id=flag.site_id,
        wave=value_name(Wave, flag.wave.value),
        eligible_headcount=flag.eligible,
        stored_responses=flag.stored,
        refused_responses=flag.arriving,
        reason=flag.reason(),
    )
    message.flagged_at.FromDatetime(flagged_at)
    return EventRecord(
        topics.site_flags.name,
        site_flag_key(flag.site_id, flag.wave.value),
        message.SerializeToString(),
        "",
    )
