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

The messages mirror the dataclasses field for field, so each pair translates by field
name (`shared.message_shapes`); what is left here is the envelope and the registry's
all-or-nothing answers.

Lossy on purpose, in two places: a `None` answer (not answered) is left out of the
`answers` map, which is how the wire says "not answered", so it comes back absent; and
timestamps keep microseconds, the precision of `datetime`.
"""

from __future__ import annotations

from datetime import datetime

from jedi.v1 import common_pb2, events_pb2, ingest_pb2, registry_pb2, survey_pb2
from shared.domain import model
from shared.domain.validation import (
    INSTRUMENT,
    INTERVENTION,
    SITE,
    SURVEY_RESPONSE,
    CycleRegistry,
    FieldError,
    InstrumentRegistry,
    validate_intervention,
    validate_survey_response,
)
from shared.message_shapes import MessageShape

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
    "submitted_event_id",
    "survey_response_from_proto",
    "survey_response_to_proto",
    "validated_event_from_proto",
]

_INTERVENTION = MessageShape(
    model.InterventionEvent,
    events_pb2.InterventionEvent.DESCRIPTOR,
    oneof_required={"detail": "say which kind of intervention this is"},
)
_SURVEY_RESPONSE = MessageShape(model.SurveyResponse, survey_pb2.SurveyResponse.DESCRIPTOR)
_SITE = MessageShape(model.Site, registry_pb2.Site.DESCRIPTOR)
_INSTRUMENT = MessageShape(model.Instrument, registry_pb2.Instrument.DESCRIPTOR)
_NO_PAYLOAD = FieldError("payload", "is required: an intervention or a survey_response")


def intervention_to_proto(event: model.InterventionEvent) -> events_pb2.InterventionEvent:
    message = events_pb2.InterventionEvent()
    _INTERVENTION.encode(event, message)
    return message


def intervention_from_proto(
    message: events_pb2.InterventionEvent,
) -> model.InterventionEvent | list[FieldError]:
    """The domain event, or why this message cannot be one."""
    errors: list[FieldError] = []
    event = _INTERVENTION.decode(message, INTERVENTION, errors)
    return errors or event


def survey_response_to_proto(response: model.SurveyResponse) -> survey_pb2.SurveyResponse:
    message = survey_pb2.SurveyResponse()
    _SURVEY_RESPONSE.encode(response, message)
    return message


def survey_response_from_proto(
    message: survey_pb2.SurveyResponse,
) -> model.SurveyResponse | list[FieldError]:
    """The domain response, or why this message cannot be one."""
    errors: list[FieldError] = []
    response = _SURVEY_RESPONSE.decode(message, SURVEY_RESPONSE, errors)
    return errors or response


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
    return [_NO_PAYLOAD]


def submitted_event_id(message: ingest_pb2.Event) -> str:
    """The event_id of whichever payload is set, for reporting a result; "" if none."""
    kind = message.WhichOneof("payload")
    event_id: str = getattr(message, kind).event_id if kind else ""
    return event_id


def validated_event_from_proto(
    message: ingest_pb2.Event,
    instrument_registry: InstrumentRegistry,
    *,
    now: datetime,
    cycles: CycleRegistry | None = None,
) -> model.InterventionEvent | model.SurveyResponse | list[FieldError]:
    """Convert and validate a submitted event: a valid domain event, or every reason it is not.

    `cycles`, the registered survey cycles, judge a response that names its cycle (None: only
    the cycle id's form is checked).

    Incident lifecycle order needs what ingest remembers about the incident, so
    `validation.validate_incident_transition` is left to the caller.
    """
    kind = message.WhichOneof("payload")
    errors: list[FieldError] = []
    event: model.InterventionEvent | model.SurveyResponse
    # The event as far as it converts (None where a field does not) is judged as well.
    if kind == INTERVENTION:
        event = _INTERVENTION.decode(message.intervention, INTERVENTION, errors)
        validation_errors = validate_intervention(event, now=now)
    elif kind == SURVEY_RESPONSE:
        event = _SURVEY_RESPONSE.decode(message.survey_response, SURVEY_RESPONSE, errors)
        validation_errors = validate_survey_response(
            event, instrument_registry, now=now, cycles=cycles
        )
    else:
        return [_NO_PAYLOAD]
    # Every reason at once: what did not convert, and what validation finds in the rest
    # (a field that did not convert is reported once, by the conversion).
    reported = {error.field for error in errors}
    errors += [error for error in validation_errors if error.field not in reported]
    return errors or event


# --- Registry: a site or instrument converts whole or not at all ---------------------


def site_to_proto(site: model.Site) -> registry_pb2.Site:
    message = registry_pb2.Site()
    _SITE.encode(site, message)
    return message


def site_from_proto(message: registry_pb2.Site) -> model.Site | list[FieldError]:
    """The domain site, or why this message cannot be one."""
    errors: list[FieldError] = []
    site = _SITE.decode(message, SITE, errors)
    return errors or site


def instrument_to_proto(instrument: model.Instrument) -> registry_pb2.Instrument:
    message = registry_pb2.Instrument()
    _INSTRUMENT.encode(instrument, message)
    return message


def instrument_from_proto(message: registry_pb2.Instrument) -> model.Instrument | list[FieldError]:
    """The domain instrument, or why this message cannot be one."""
    errors: list[FieldError] = []
    instrument = _INSTRUMENT.decode(message, INSTRUMENT, errors)
    return errors or instrument


def field_errors_to_proto(errors: list[FieldError]) -> list[common_pb2.FieldError]:
    """Domain field errors as the wire's FieldError messages, for an EventResult."""
    return [common_pb2.FieldError(field=error.field, reason=error.reason) for error in errors]
