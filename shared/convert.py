"""Translation between the jedi.v1 protobuf messages and the domain dataclasses.

Pure functions. `*_to_proto` turns a domain object into its message. `*_from_proto`
turns a message into a domain object or, when the message cannot be one, a list of
`FieldError`s; it never raises for bad data. What it rejects is what the domain types
cannot hold: an enum left UNSPECIFIED or set to a number this code does not know, a
missing or out-of-range timestamp, an unset `detail` or `payload` oneof, a group
dimension or role listed twice. Everything the types can hold (empty ids, negative
counts, a Likert 7) converts, and `shared.domain.validation` judges it afterwards.
`validated_event_from_proto` does both steps, which is what ingest needs, and reports every
reason at once (what did not convert and what validation finds in the rest):

    result = validated_event_from_proto(event, instruments, now=now)
    if isinstance(result, list):  # list[FieldError]: reject the event with these
        ...

Field paths in errors start at the `jedi.v1.Event` payload (`intervention.`,
`survey_response.`) or at the registry request field (`site.`, `instrument.`).

Lossy on purpose, in two places: a `None` answer (not answered) is left out of the
`answers` map, which is how the wire says "not answered", so it comes back absent; and
timestamps keep microseconds, the precision of `datetime`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import Enum
from typing import Generic, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from jedi.v1 import common_pb2, events_pb2, ingest_pb2, registry_pb2, survey_pb2
from shared.domain import model
from shared.domain.validation import (
    INSTRUMENT,
    INTERVENTION,
    SITE,
    SURVEY_RESPONSE,
    FieldError,
    InstrumentRegistry,
    validate_intervention,
    validate_survey_response,
)

__all__ = [
    "FieldError",
    "event_from_proto",
    "event_to_proto",
    "field_errors_to_proto",
    "instrument_from_proto",
    "instrument_to_proto",
    "intervention_from_proto",
    "intervention_to_proto",
    "site_from_proto",
    "site_to_proto",
    "survey_response_from_proto",
    "submitted_event_id",
    "survey_response_to_proto",
    "validated_event_from_proto",
]

DomainEnum = TypeVar("DomainEnum", bound=Enum)

# The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
_TIMESTAMP_MIN_SECONDS = -62_135_596_800
_TIMESTAMP_MAX_SECONDS = 253_402_300_799


class _EnumMapping(Generic[DomainEnum]):
    """Pairs a domain string enum with its protobuf enum by name: Role.RESIDENT <-> ROLE_RESIDENT."""

    def __init__(self, domain_enum: type[DomainEnum], proto_enum: object) -> None:
        descriptor = proto_enum.DESCRIPTOR  # type: ignore[attr-defined]
        prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", descriptor.name).upper() + "_"
        self.domain_enum = domain_enum
        self.unspecified_name = prefix + "UNSPECIFIED"
        self._to_number: dict[DomainEnum, int] = {}
        self._to_domain: dict[int, DomainEnum] = {}
        for member in domain_enum:
            number = descriptor.values_by_name[prefix + member.name].number
            self._to_number[member] = number
            self._to_domain[number] = member
        unmapped = {value.name for value in descriptor.values if value.number != 0} - {
            prefix + member.name for member in domain_enum
        }
        if unmapped:
            # The .proto and model.py disagree: a programming error, caught at import.
            raise ImportError(
                f"{descriptor.full_name} values without a domain member: {sorted(unmapped)}"
            )

    def to_proto(self, member: DomainEnum) -> int:
        return self._to_number[member]

    def from_proto(self, number: int, field: str, errors: list[FieldError]) -> DomainEnum | None:
        member = self._to_domain.get(number)
        if member is None:
            if number == 0:
                reason = f"is required ({self.unspecified_name} is not a value)"
            else:
                reason = f"unknown value {number}"
            allowed = ", ".join(m.value for m in self.domain_enum)  # type: ignore[attr-defined]
            errors.append(FieldError(field, f"{reason}; one of: {allowed}"))
        return member


_ROLE = _EnumMapping(model.Role, common_pb2.Role)
_DEPARTMENT = _EnumMapping(model.Department, common_pb2.Department)
_WAVE = _EnumMapping(model.Wave, common_pb2.Wave)
_COMPOSITE = _EnumMapping(model.Composite, common_pb2.Composite)
_GROUP_DIMENSION = _EnumMapping(model.GroupDimension, common_pb2.GroupDimension)
_LEVER = _EnumMapping(model.Lever, common_pb2.Lever)
_PRINCIPLE = _EnumMapping(model.Principle, common_pb2.Principle)
_URBANICITY = _EnumMapping(model.Urbanicity, registry_pb2.Urbanicity)
_TEACHING_TYPE = _EnumMapping(model.TeachingType, registry_pb2.TeachingType)
_TRAINING_TOPIC = _EnumMapping(model.TrainingTopic, events_pb2.TrainingTopic)
_POLICY_STAGE = _EnumMapping(model.PolicyStage, events_pb2.PolicyStage)
_INCIDENT_CATEGORY = _EnumMapping(model.IncidentCategory, events_pb2.IncidentCategory)


# --- Timestamps -----------------------------------------------------------------------


def _time_from_proto(
    message: object, name: str, field: str, errors: list[FieldError]
) -> datetime | None:
    if not message.HasField(name):  # type: ignore[attr-defined]
        errors.append(FieldError(field, "is required"))
        return None
    timestamp: Timestamp = getattr(message, name)
    if not _TIMESTAMP_MIN_SECONDS <= timestamp.seconds <= _TIMESTAMP_MAX_SECONDS:
        errors.append(
            FieldError(field, f"seconds {timestamp.seconds} is outside the years 0001..9999")
        )
        return None
    if not 0 <= timestamp.nanos <= 999_999_999:
        errors.append(FieldError(field, f"nanos {timestamp.nanos} must be within 0..999999999"))
        return None
    return timestamp.ToDatetime(tzinfo=UTC)


def _set_time(timestamp: Timestamp, moment: datetime) -> None:
    # A naive datetime is taken as UTC (protobuf's own rule); domain validation refuses them anyway.
    timestamp.FromDatetime(moment)


# --- Intervention events --------------------------------------------------------------


def intervention_to_proto(event: model.InterventionEvent) -> events_pb2.InterventionEvent:
    message = events_pb2.InterventionEvent(
        event_id=event.event_id,
        site_id=event.site_id,
        source_system=event.source_system,
        # Sorted: the domain holds sets, and equal events should encode to equal bytes.
        levers=sorted(_LEVER.to_proto(lever) for lever in event.levers),
        principles=sorted(_PRINCIPLE.to_proto(principle) for principle in event.principles),
    )
    _set_time(message.occurred_at, event.occurred_at)
    _detail_to_proto(event.detail, message)
    return message


def _detail_to_proto(
    detail: model.InterventionDetail, message: events_pb2.InterventionEvent
) -> None:
    match detail:
        case model.TrainingSession():
            message.training_session.CopyFrom(
                events_pb2.TrainingSession(
                    session_id=detail.session_id,
                    topic=_TRAINING_TOPIC.to_proto(detail.topic),
                    audience_role=_ROLE.to_proto(detail.audience_role),
                    invited=detail.invited,
                    attended=detail.attended,
                    completed=detail.completed,
                )
            )
        case model.MentoringPairing():
            message.mentoring_pairing.CopyFrom(
                events_pb2.MentoringPairing(
                    pairing_id=detail.pairing_id,
                    mentee_role=_ROLE.to_proto(detail.mentee_role),
                    mentor_role=_ROLE.to_proto(detail.mentor_role),
                )
            )
        case model.PolicyChange():
            message.policy_change.CopyFrom(
                events_pb2.PolicyChange(
                    policy_id=detail.policy_id,
                    stage=_POLICY_STAGE.to_proto(detail.stage),
                    title=detail.title,
                )
            )
        case model.BiasIncidentReported():
            message.bias_incident_reported.CopyFrom(
                events_pb2.BiasIncidentReported(
                    incident_id=detail.incident_id,
                    category=_INCIDENT_CATEGORY.to_proto(detail.category),
                )
            )
        case model.BiasIncidentAcknowledged():
            message.bias_incident_acknowledged.CopyFrom(
                events_pb2.BiasIncidentAcknowledged(incident_id=detail.incident_id)
            )
        case model.BiasIncidentResolved():
            message.bias_incident_resolved.CopyFrom(
                events_pb2.BiasIncidentResolved(incident_id=detail.incident_id)
            )
        case model.RecruitmentFunnelSnapshot():
            message.recruitment_funnel_snapshot.CopyFrom(
                events_pb2.RecruitmentFunnelSnapshot(
                    cycle=detail.cycle,
                    applicants=detail.applicants,
                    interviewed=detail.interviewed,
                    ranked=detail.ranked,
                    matched=detail.matched,
                    applicants_urim=detail.applicants_urim,
                    interviewed_urim=detail.interviewed_urim,
                    ranked_urim=detail.ranked_urim,
                    matched_urim=detail.matched_urim,
                )
            )
        case model.CommunityPartnership():
            message.community_partnership.CopyFrom(
                events_pb2.CommunityPartnership(
                    partnership_id=detail.partnership_id, partner_kind=detail.partner_kind
                )
            )
        case model.AffinityGroupMeeting():
            message.affinity_group_meeting.CopyFrom(
                events_pb2.AffinityGroupMeeting(
                    group_id=detail.group_id, attendees=detail.attendees
                )
            )
        case _:
            raise TypeError(f"not an intervention detail: {type(detail).__name__}")


def intervention_from_proto(
    message: events_pb2.InterventionEvent,
) -> model.InterventionEvent | list[FieldError]:
    """The domain event, or why this message cannot be one."""
    event, errors = _intervention_parts(message)
    return errors or event


def _intervention_parts(
    message: events_pb2.InterventionEvent,
) -> tuple[model.InterventionEvent, list[FieldError]]:
    """The event as far as it converts (None where a field does not), and why the rest does not."""
    errors: list[FieldError] = []
    occurred_at = _time_from_proto(message, "occurred_at", f"{INTERVENTION}.occurred_at", errors)
    levers = [
        _LEVER.from_proto(number, f"{INTERVENTION}.levers[{index}]", errors)
        for index, number in enumerate(message.levers)
    ]
    principles = [
        _PRINCIPLE.from_proto(number, f"{INTERVENTION}.principles[{index}]", errors)
        for index, number in enumerate(message.principles)
    ]
    detail = _detail_from_proto(message, errors)
    return model.InterventionEvent(
        event_id=message.event_id,
        site_id=message.site_id,
        occurred_at=occurred_at,  # type: ignore[arg-type]
        source_system=message.source_system,
        detail=detail,  # type: ignore[arg-type]
        levers=frozenset(lever for lever in levers if lever is not None),
        principles=frozenset(principle for principle in principles if principle is not None),
    ), errors


def _detail_from_proto(
    message: events_pb2.InterventionEvent, errors: list[FieldError]
) -> model.InterventionDetail | None:
    kind = message.WhichOneof("detail")
    if kind is None:
        errors.append(
            FieldError(
                f"{INTERVENTION}.detail", "is required: say which kind of intervention this is"
            )
        )
        return None
    path = f"{INTERVENTION}.{kind}"
    detail = getattr(message, kind)
    result: model.InterventionDetail
    match kind:
        case "training_session":
            result = model.TrainingSession(
                session_id=detail.session_id,
                topic=_TRAINING_TOPIC.from_proto(detail.topic, f"{path}.topic", errors),  # type: ignore[arg-type]
                audience_role=_ROLE.from_proto(
                    detail.audience_role, f"{path}.audience_role", errors
                ),  # type: ignore[arg-type]
                invited=detail.invited,
                attended=detail.attended,
                completed=detail.completed,
            )
        case "mentoring_pairing":
            result = model.MentoringPairing(
                pairing_id=detail.pairing_id,
                mentee_role=_ROLE.from_proto(detail.mentee_role, f"{path}.mentee_role", errors),  # type: ignore[arg-type]
                mentor_role=_ROLE.from_proto(detail.mentor_role, f"{path}.mentor_role", errors),  # type: ignore[arg-type]
            )
        case "policy_change":
            result = model.PolicyChange(
                policy_id=detail.policy_id,
                stage=_POLICY_STAGE.from_proto(detail.stage, f"{path}.stage", errors),  # type: ignore[arg-type]
                title=detail.title,
            )
        case "bias_incident_reported":
            result = model.BiasIncidentReported(
                incident_id=detail.incident_id,
                category=_INCIDENT_CATEGORY.from_proto(detail.category, f"{path}.category", errors),  # type: ignore[arg-type]
            )
        case "bias_incident_acknowledged":
            result = model.BiasIncidentAcknowledged(incident_id=detail.incident_id)
        case "bias_incident_resolved":
            result = model.BiasIncidentResolved(incident_id=detail.incident_id)
        case "recruitment_funnel_snapshot":
            result = model.RecruitmentFunnelSnapshot(
                cycle=detail.cycle,
                applicants=detail.applicants,
                interviewed=detail.interviewed,
                ranked=detail.ranked,
                matched=detail.matched,
                applicants_urim=detail.applicants_urim,
                interviewed_urim=detail.interviewed_urim,
                ranked_urim=detail.ranked_urim,
                matched_urim=detail.matched_urim,
            )
        case "community_partnership":
            result = model.CommunityPartnership(
                partnership_id=detail.partnership_id, partner_kind=detail.partner_kind
            )
        case "affinity_group_meeting":
            result = model.AffinityGroupMeeting(
                group_id=detail.group_id, attendees=detail.attendees
            )
        case _:  # a detail kind added to events.proto but not here yet
            errors.append(FieldError(path, "this kind of intervention is not supported yet"))
            return None
    return result  # with None where a value did not convert; the caller has the errors


# --- Survey responses -----------------------------------------------------------------


def survey_response_to_proto(response: model.SurveyResponse) -> survey_pb2.SurveyResponse:
    message = survey_pb2.SurveyResponse(
        event_id=response.event_id,
        site_id=response.site_id,
        instrument_id=response.instrument_id,
        instrument_version=response.instrument_version,
        wave=_WAVE.to_proto(response.wave),
        source_system=response.source_system,
        answers={code: value for code, value in response.answers.items() if value is not None},
        groups=[
            survey_pb2.GroupMembership(dimension=_GROUP_DIMENSION.to_proto(dimension), value=value)
            for dimension, value in response.groups.items()
        ],
    )
    _set_time(message.submitted_at, response.submitted_at)
    if response.role is not None:  # optional: unset means not answered
        message.role = _ROLE.to_proto(response.role)
    if response.department is not None:
        message.department = _DEPARTMENT.to_proto(response.department)
    if response.experienced_discrimination is not None:
        message.experienced_discrimination = response.experienced_discrimination
    if response.witnessed_discrimination is not None:
        message.witnessed_discrimination = response.witnessed_discrimination
    return message


def survey_response_from_proto(
    message: survey_pb2.SurveyResponse,
) -> model.SurveyResponse | list[FieldError]:
    """The domain response, or why this message cannot be one."""
    response, errors = _survey_response_parts(message)
    return errors or response


def _survey_response_parts(
    message: survey_pb2.SurveyResponse,
) -> tuple[model.SurveyResponse, list[FieldError]]:
    """The response as far as it converts (None where a field does not), and why the rest does not."""
    errors: list[FieldError] = []
    path = SURVEY_RESPONSE
    wave = _WAVE.from_proto(message.wave, f"{path}.wave", errors)
    role = (
        _ROLE.from_proto(message.role, f"{path}.role", errors) if message.HasField("role") else None
    )  # optional: unset is "not answered"
    department = (
        _DEPARTMENT.from_proto(message.department, f"{path}.department", errors)
        if message.HasField("department")
        else None
    )
    submitted_at = _time_from_proto(message, "submitted_at", f"{path}.submitted_at", errors)
    groups: dict[model.GroupDimension, str] = {}
    for index, membership in enumerate(message.groups):
        field = f"{path}.groups[{index}].dimension"
        dimension = _GROUP_DIMENSION.from_proto(membership.dimension, field, errors)
        if dimension is None:
            continue
        if dimension in groups:
            errors.append(FieldError(field, f"{dimension.value} is listed more than once"))
            continue
        groups[dimension] = membership.value
    return model.SurveyResponse(
        event_id=message.event_id,
        site_id=message.site_id,
        instrument_id=message.instrument_id,
        instrument_version=message.instrument_version,
        wave=wave,  # type: ignore[arg-type]
        role=role,  # type: ignore[arg-type]
        department=department,  # type: ignore[arg-type]
        submitted_at=submitted_at,  # type: ignore[arg-type]
        source_system=message.source_system,
        answers={code: message.answers[code] for code in sorted(message.answers)},
        groups=groups,
        experienced_discrimination=(
            message.experienced_discrimination
            if message.HasField("experienced_discrimination")
            else None
        ),
        witnessed_discrimination=(
            message.witnessed_discrimination
            if message.HasField("witnessed_discrimination")
            else None
        ),
    ), errors


# --- The ingest envelope --------------------------------------------------------------


def event_to_proto(event: model.InterventionEvent | model.SurveyResponse) -> ingest_pb2.Event:
    if isinstance(event, model.InterventionEvent):
        return ingest_pb2.Event(intervention=intervention_to_proto(event))
    if isinstance(event, model.SurveyResponse):
        return ingest_pb2.Event(survey_response=survey_response_to_proto(event))
    raise TypeError(f"not an event: {type(event).__name__}")


def event_from_proto(
    message: ingest_pb2.Event,
) -> model.InterventionEvent | model.SurveyResponse | list[FieldError]:
    """The domain event in a submitted envelope, or why it cannot be one."""
    kind = message.WhichOneof("payload")
    if kind == INTERVENTION:
        return intervention_from_proto(message.intervention)
    if kind == SURVEY_RESPONSE:
        return survey_response_from_proto(message.survey_response)
    return [FieldError("payload", "is required: an intervention or a survey_response")]


def submitted_event_id(message: ingest_pb2.Event) -> str:
    """The event_id of whichever payload is set, for reporting a result; "" if none."""
    kind = message.WhichOneof("payload")
    return getattr(message, kind).event_id if kind else ""


def validated_event_from_proto(
    message: ingest_pb2.Event, instrument_registry: InstrumentRegistry, *, now: datetime
) -> model.InterventionEvent | model.SurveyResponse | list[FieldError]:
    """Convert and validate a submitted event: a valid domain event, or every reason it is not.

    Incident lifecycle order needs what ingest remembers about the incident, so
    `validation.validate_incident_transition` is left to the caller.
    """
    kind = message.WhichOneof("payload")
    if kind == INTERVENTION:
        intervention, errors = _intervention_parts(message.intervention)
        validation_errors = validate_intervention(intervention, now=now)
        event: model.InterventionEvent | model.SurveyResponse = intervention
    elif kind == SURVEY_RESPONSE:
        event, errors = _survey_response_parts(message.survey_response)
        validation_errors = validate_survey_response(event, instrument_registry, now=now)
    else:
        return [FieldError("payload", "is required: an intervention or a survey_response")]
    # Every reason at once: what did not convert, and what validation finds in the rest
    # (a field that did not convert is reported once, by the conversion).
    reported = {error.field for error in errors}
    errors += [error for error in validation_errors if error.field not in reported]
    return errors or event


# --- Registry -------------------------------------------------------------------------


def site_to_proto(site: model.Site) -> registry_pb2.Site:
    return registry_pb2.Site(
        site_id=site.site_id,
        name=site.name,
        region=site.region,
        urbanicity=_URBANICITY.to_proto(site.urbanicity),
        teaching_type=_TEACHING_TYPE.to_proto(site.teaching_type),
        collaborative=site.collaborative,
        eligible_headcount=[
            registry_pb2.RoleHeadcount(role=_ROLE.to_proto(role), headcount=headcount)
            for role, headcount in site.eligible_headcount.items()
        ],
    )


def site_from_proto(message: registry_pb2.Site) -> model.Site | list[FieldError]:
    """The domain site, or why this message cannot be one."""
    errors: list[FieldError] = []
    urbanicity = _URBANICITY.from_proto(message.urbanicity, f"{SITE}.urbanicity", errors)
    teaching_type = _TEACHING_TYPE.from_proto(
        message.teaching_type, f"{SITE}.teaching_type", errors
    )
    headcount: dict[model.Role, int] = {}
    for index, entry in enumerate(message.eligible_headcount):
        field = f"{SITE}.eligible_headcount[{index}].role"
        role = _ROLE.from_proto(entry.role, field, errors)
        if role is None:
            continue
        if role in headcount:
            errors.append(FieldError(field, f"{role.value} is listed more than once"))
            continue
        headcount[role] = entry.headcount
    if errors:
        return errors
    return model.Site(
        site_id=message.site_id,
        name=message.name,
        region=message.region,
        urbanicity=urbanicity,  # type: ignore[arg-type]
        teaching_type=teaching_type,  # type: ignore[arg-type]
        collaborative=message.collaborative,
        eligible_headcount=headcount,
    )


def instrument_to_proto(instrument: model.Instrument) -> registry_pb2.Instrument:
    message = registry_pb2.Instrument(
        instrument_id=instrument.instrument_id,
        version=instrument.version,
        items=[
            registry_pb2.Item(
                code=item.code,
                composite=_COMPOSITE.to_proto(item.composite),
                reverse_worded=item.reverse_worded,
                text=item.text,
            )
            for item in instrument.items
        ],
    )
    for window in instrument.waves:
        wave = message.waves.add(wave=_WAVE.to_proto(window.wave))
        _set_time(wave.opens_at, window.opens_at)
        _set_time(wave.closes_at, window.closes_at)
    return message


def instrument_from_proto(message: registry_pb2.Instrument) -> model.Instrument | list[FieldError]:
    """The domain instrument, or why this message cannot be one."""
    errors: list[FieldError] = []
    items = []
    for index, item in enumerate(message.items):
        composite = _COMPOSITE.from_proto(
            item.composite, f"{INSTRUMENT}.items[{index}].composite", errors
        )
        if composite is not None:
            items.append(model.Item(item.code, composite, item.reverse_worded, item.text))
    waves = []
    for index, window in enumerate(message.waves):
        path = f"{INSTRUMENT}.waves[{index}]"
        wave = _WAVE.from_proto(window.wave, f"{path}.wave", errors)
        opens_at = _time_from_proto(window, "opens_at", f"{path}.opens_at", errors)
        closes_at = _time_from_proto(window, "closes_at", f"{path}.closes_at", errors)
        if wave is not None and opens_at is not None and closes_at is not None:
            waves.append(model.WaveWindow(wave, opens_at, closes_at))
    if errors:
        return errors
    return model.Instrument(
        instrument_id=message.instrument_id,
        version=message.version,
        items=tuple(items),
        waves=tuple(waves),
    )


def field_errors_to_proto(errors: list[FieldError]) -> list[common_pb2.FieldError]:
    """Domain field errors as the wire's FieldError messages, for an EventResult."""
    return [common_pb2.FieldError(field=error.field, reason=error.reason) for error in errors]
