"""Kafka records in, domain inputs out: the translation at the processor's edge.

`InputRecord` is what the agents hand to the drivers, whatever consumed it (Faust in the
service, a list in the unit tests). `site_input` turns one into a `SiteChange` or `SiteEvent`;
a record that cannot be read becomes a `SiteEvent` with an `error`, which is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from jedi.v1 import events_pb2, registry_pb2, survey_pb2
from shared.convert import intervention_from_proto, site_from_proto, survey_response_from_proto
from shared.domain.publication.site_step import SiteChange, SiteEvent, SiteInput
from shared.domain.validation import FieldError
from shared.event_records import EVENT_ID_HEADER
from shared.topics import Topics

SITE_VERSION_HEADER = "site-version"
Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class InputRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    ref: Any = field(default=None, compare=False)  # the Faust event, for table access

    def header(self, name: str) -> str | None:
        return next(
            (value.decode("utf-8", "replace") for key, value in self.headers if key == name), None
        )

    @property
    def site_id(self) -> str:
        return (self.key or b"").decode("utf-8", "replace")


@dataclass(frozen=True)
class SiteTopics:
    """Names of the topics the site stage reads, to tell which kind a record is."""

    survey_responses: str
    interventions: str
    site_changes: str

    @classmethod
    def of(cls, topics: Topics, site_changes: str) -> SiteTopics:
        return cls(topics.survey_responses.name, topics.interventions.name, site_changes)


def _errors(errors: Sequence[FieldError]) -> str:
    return "; ".join(f"{error.field}: {error.reason}" for error in errors)


def _event(record: InputRecord, message_type: Any, convert: Any) -> SiteEvent[InputRecord]:
    header_id = record.header(EVENT_ID_HEADER) or ""
    if record.value is None:
        return SiteEvent(record, header_id, None, "the record has no value")
    try:
        message = message_type.FromString(record.value)
    except DecodeError as error:
        return SiteEvent(
            record, header_id, None, f"not a {message_type.DESCRIPTOR.full_name}: {error}"
        )
    event = convert(message)
    event_id = header_id or message.event_id
    if isinstance(event, list):
        return SiteEvent(record, event_id, None, _errors(event))
    if event.site_id != record.site_id:
        return SiteEvent(
            record, event_id, None, f"site {event.site_id!r} published under key {record.site_id!r}"
        )
    if event.event_id != event_id:
        return SiteEvent(
            record, event_id, None, f"header event id {event_id!r} differs from {event.event_id!r}"
        )
    return SiteEvent(record, event_id, event)


def _site_change(record: InputRecord) -> SiteInput[InputRecord]:
    version = record.header(SITE_VERSION_HEADER)
    if version is None or not version.lstrip("-").isdigit():
        return SiteEvent(
            record, "", None, f"a site change needs an integer {SITE_VERSION_HEADER} header"
        )
    if record.value is None:
        return SiteChange(record, int(version), None)
    try:
        site = site_from_proto(registry_pb2.Site.FromString(record.value))
    except DecodeError as error:
        return SiteEvent(record, "", None, f"not a jedi.v1.Site: {error}")
    if isinstance(site, list):
        return SiteEvent(record, "", None, _errors(site))
    if site.site_id != record.site_id:
        return SiteEvent(
            record, "", None, f"site {site.site_id!r} published under key {record.site_id!r}"
        )
    return SiteChange(record, int(version), site)


def site_input(record: InputRecord, topics: SiteTopics) -> SiteInput[InputRecord]:
    if record.topic == topics.survey_responses:
        return _event(record, survey_pb2.SurveyResponse, survey_response_from_proto)
    if record.topic == topics.interventions:
        return _event(record, events_pb2.InterventionEvent, intervention_from_proto)
    if record.topic == topics.site_changes:
        return _site_change(record)
    return SiteEvent(record, "", None, f"the site stage does not read topic {record.topic!r}")
