"""Protobuf <-> domain translation: round trips, structural errors, and garbage never raising."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jedi.v1 import common_pb2, events_pb2, ingest_pb2, registry_pb2, survey_pb2
from shared import convert
from shared.domain import model
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.domain.validation import FieldError, index_instruments
from tests.support.proto_strategies import INT32, STRINGS, random_message
from tests.unit.test_validation import NOW, VALID_DETAILS, VALID_RESPONSE, VALID_SITE, intervention

REGISTRY = index_instruments([JEDI_CULTURE])


def fields(errors: object) -> list[str]:
    assert isinstance(errors, list), errors
    return [error.field for error in errors]


# --- Round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("detail", VALID_DETAILS, ids=lambda d: type(d).__name__)
def test_intervention_round_trip(detail: model.InterventionDetail) -> None:
    event = intervention(
        detail,
        levers=frozenset(model.Lever),
        principles=frozenset({model.Principle.CONFRONT_DEVALUING_PRACTICES}),
        occurred_at=datetime(2026, 10, 7, 14, 3, 5, 123456, tzinfo=UTC),
    )
    message = convert.intervention_to_proto(event)
    assert message.WhichOneof("detail") == convert.event_to_proto(event).intervention.WhichOneof(
        "detail"
    )
    assert convert.intervention_from_proto(message) == event
    assert (
        convert.intervention_from_proto(
            events_pb2.InterventionEvent.FromString(message.SerializeToString())
        )
        == event
    )


def test_survey_response_round_trip() -> None:
    answered_only = replace(
        VALID_RESPONSE, answers={k: v for k, v in VALID_RESPONSE.answers.items() if v is not None}
    )
    message = convert.survey_response_to_proto(VALID_RESPONSE)
    assert "INC1" not in message.answers  # None = not answered = absent on the wire
    assert message.HasField("experienced_discrimination") and not message.experienced_discrimination
    assert convert.survey_response_from_proto(message) == answered_only
    wire = survey_pb2.SurveyResponse.FromString(message.SerializeToString())
    assert convert.survey_response_from_proto(wire) == answered_only


def test_a_responses_cycle_travels_and_an_old_response_names_none() -> None:
    named = replace(VALID_RESPONSE, answers={"BEL1": 4}, cycle_id="2026")
    message = convert.survey_response_to_proto(named)
    assert message.HasField("cycle_id") and message.cycle_id == "2026"
    wire = survey_pb2.SurveyResponse.FromString(message.SerializeToString())
    assert convert.survey_response_from_proto(wire) == named
    # An event written before cycles (no field 14) reads as naming no cycle, and is valid.
    old = survey_pb2.SurveyResponse.FromString(message.SerializeToString())
    old.ClearField("cycle_id")
    decoded = convert.survey_response_from_proto(old)
    assert isinstance(decoded, model.SurveyResponse) and decoded.cycle_id is None
    envelope = ingest_pb2.Event(survey_response=old)
    assert isinstance(
        convert.validated_event_from_proto(envelope, REGISTRY, now=NOW, cycles={}),
        model.SurveyResponse,
    )
    # A response naming a cycle that is not registered is refused on that field.
    envelope = ingest_pb2.Event(survey_response=message)
    assert fields(convert.validated_event_from_proto(envelope, REGISTRY, now=NOW, cycles={})) == [
        "survey_response.cycle_id"
    ]


def test_unanswered_discrimination_items_stay_unanswered() -> None:
    unanswered = replace(
        VALID_RESPONSE,
        answers={"BEL1": 3},
        experienced_discrimination=None,
        witnessed_discrimination=None,
    )
    message = convert.survey_response_to_proto(unanswered)
    assert not message.HasField("experienced_discrimination")
    assert convert.survey_response_from_proto(message) == unanswered


def test_group_order_is_kept() -> None:
    groups = {model.GroupDimension.LGBTQ: "no", model.GroupDimension.URIM: "yes"}
    message = convert.survey_response_to_proto(replace(VALID_RESPONSE, groups=groups))
    result = convert.survey_response_from_proto(message)
    assert isinstance(result, model.SurveyResponse)
    assert list(result.groups.items()) == list(groups.items())


def test_site_round_trip() -> None:
    assert convert.site_from_proto(convert.site_to_proto(VALID_SITE)) == VALID_SITE


def test_instrument_round_trip() -> None:
    message = convert.instrument_to_proto(JEDI_CULTURE)
    assert len(message.items) == 24 and len(message.waves) == 3
    assert convert.instrument_from_proto(message) == JEDI_CULTURE


def test_event_envelope_round_trip() -> None:
    event = intervention(VALID_DETAILS[0])
    assert convert.event_from_proto(convert.event_to_proto(event)) == event
    assert convert.event_to_proto(VALID_RESPONSE).WhichOneof("payload") == "survey_response"
    assert convert.submitted_event_id(convert.event_to_proto(event)) == "evt-0001"
    assert convert.submitted_event_id(ingest_pb2.Event()) == ""


@pytest.mark.parametrize(
    ("domain_enum", "proto_enum"),
    [
        (model.Role, common_pb2.Role),
        (model.Department, common_pb2.Department),
        (model.Wave, common_pb2.Wave),
        (model.Composite, common_pb2.Composite),
        (model.GroupDimension, common_pb2.GroupDimension),
        (model.Lever, common_pb2.Lever),
        (model.Principle, common_pb2.Principle),
        (model.Urbanicity, registry_pb2.Urbanicity),
        (model.TeachingType, registry_pb2.TeachingType),
        (model.TrainingTopic, events_pb2.TrainingTopic),
        (model.PolicyStage, events_pb2.PolicyStage),
        (model.IncidentCategory, events_pb2.IncidentCategory),
    ],
)
def test_every_enum_matches_its_proto(domain_enum: type, proto_enum: object) -> None:
    names = list(proto_enum.keys())  # type: ignore[attr-defined]  # typed as object for the parametrisation
    proto_names = set(names) - {n for n in names if n.endswith("_UNSPECIFIED")}
    prefix = next(n for n in names if n.endswith("_UNSPECIFIED")).removesuffix("UNSPECIFIED")  # type: ignore[attr-defined]
    assert proto_names == {prefix + member.name for member in domain_enum}
    assert proto_enum.Value(prefix + "UNSPECIFIED") == 0  # type: ignore[attr-defined]


# --- Structural errors ------------------------------------------------------------------


def valid_intervention_proto() -> events_pb2.InterventionEvent:
    return convert.intervention_to_proto(intervention(VALID_DETAILS[0]))


def test_unspecified_enum_names_the_field() -> None:
    message = valid_intervention_proto()
    message.training_session.topic = events_pb2.TRAINING_TOPIC_UNSPECIFIED
    errors = convert.intervention_from_proto(message)
    assert fields(errors) == ["intervention.training_session.topic"]
    assert "TRAINING_TOPIC_UNSPECIFIED" in errors[0].reason  # type: ignore[index]


def test_unknown_enum_number_names_the_field() -> None:
    message = valid_intervention_proto()
    message.training_session.audience_role = 42
    assert fields(convert.intervention_from_proto(message)) == [
        "intervention.training_session.audience_role"
    ]


def test_unspecified_lever_names_its_position() -> None:
    message = valid_intervention_proto()
    message.levers.append(common_pb2.LEVER_UNSPECIFIED)
    assert fields(convert.intervention_from_proto(message)) == ["intervention.levers[1]"]


def test_missing_detail_and_time_are_both_reported() -> None:
    message = valid_intervention_proto()
    message.ClearField("training_session")
    message.ClearField("occurred_at")
    assert fields(convert.intervention_from_proto(message)) == [
        "intervention.occurred_at",
        "intervention.detail",
    ]


@pytest.mark.parametrize(
    ("seconds", "nanos"), [(2**62, 0), (-(2**62), 0), (1_760_000_000, -1), (1_760_000_000, 10**9)]
)
def test_out_of_range_timestamp_names_the_field(seconds: int, nanos: int) -> None:
    message = valid_intervention_proto()
    message.occurred_at.seconds = seconds
    message.occurred_at.nanos = nanos
    assert fields(convert.intervention_from_proto(message)) == ["intervention.occurred_at"]


def test_survey_structural_errors_name_the_fields() -> None:
    message = convert.survey_response_to_proto(VALID_RESPONSE)
    message.wave = common_pb2.WAVE_UNSPECIFIED
    message.department = 99
    message.ClearField("submitted_at")
    message.groups.add(dimension=common_pb2.GROUP_DIMENSION_URIM, value="no")  # listed twice
    message.groups.add(dimension=common_pb2.GROUP_DIMENSION_UNSPECIFIED, value="yes")
    assert fields(convert.survey_response_from_proto(message)) == [
        "survey_response.wave",
        "survey_response.department",
        "survey_response.submitted_at",
        "survey_response.groups[2].dimension",
        "survey_response.groups[3].dimension",
    ]


def test_missing_payload_is_reported() -> None:
    assert fields(convert.event_from_proto(ingest_pb2.Event())) == ["payload"]


def test_site_structural_errors() -> None:
    message = convert.site_to_proto(VALID_SITE)
    message.urbanicity = registry_pb2.URBANICITY_UNSPECIFIED
    message.eligible_headcount.add(role=common_pb2.ROLE_RESIDENT, headcount=1)
    assert fields(convert.site_from_proto(message)) == [
        "site.urbanicity",
        "site.eligible_headcount[2].role",
    ]


def test_instrument_structural_errors() -> None:
    message = convert.instrument_to_proto(JEDI_CULTURE)
    message.items[3].composite = common_pb2.COMPOSITE_UNSPECIFIED
    message.waves[1].ClearField("opens_at")
    assert fields(convert.instrument_from_proto(message)) == [
        "instrument.items[3].composite",
        "instrument.waves[1].opens_at",
    ]


def test_validated_event_from_proto() -> None:
    good = convert.event_to_proto(VALID_RESPONSE)
    assert isinstance(
        convert.validated_event_from_proto(good, REGISTRY, now=NOW), model.SurveyResponse
    )

    bad_answer = convert.event_to_proto(VALID_RESPONSE)
    bad_answer.survey_response.answers["BEL1"] = 0
    assert fields(convert.validated_event_from_proto(bad_answer, REGISTRY, now=NOW)) == [
        'survey_response.answers["BEL1"]'
    ]

    bad_counts = convert.event_to_proto(intervention(VALID_DETAILS[0]))
    bad_counts.intervention.training_session.completed = 1000
    assert fields(convert.validated_event_from_proto(bad_counts, REGISTRY, now=NOW)) == [
        "intervention.training_session.completed"
    ]


def test_every_error_of_an_event_is_reported_at_once() -> None:
    """An explicit UNSPECIFIED department, an answer of 9 and a future date: three errors, not one."""
    message = convert.event_to_proto(VALID_RESPONSE)
    message.survey_response.department = common_pb2.DEPARTMENT_UNSPECIFIED  # set, so present
    message.survey_response.answers["BEL1"] = 9
    message.survey_response.submitted_at.FromDatetime(datetime(2027, 6, 1))
    assert fields(convert.validated_event_from_proto(message, REGISTRY, now=NOW)) == [
        "survey_response.department",
        "survey_response.submitted_at",
        'survey_response.answers["BEL1"]',
    ]

    training = convert.event_to_proto(intervention(VALID_DETAILS[0]))
    training.intervention.training_session.topic = events_pb2.TRAINING_TOPIC_UNSPECIFIED
    training.intervention.training_session.completed = 1000
    training.intervention.event_id = ""
    assert fields(convert.validated_event_from_proto(training, REGISTRY, now=NOW)) == [
        "intervention.training_session.topic",
        "intervention.event_id",
        "intervention.training_session.completed",
    ]


def test_role_and_department_are_optional() -> None:
    unanswered = replace(
        VALID_RESPONSE,
        role=None,
        department=None,
        answers={k: v for k, v in VALID_RESPONSE.answers.items() if v is not None},
    )
    message = convert.survey_response_to_proto(unanswered)
    assert not message.HasField("role") and not message.HasField("department")
    wire = survey_pb2.SurveyResponse.FromString(message.SerializeToString())
    assert convert.survey_response_from_proto(wire) == unanswered
    event = convert.validated_event_from_proto(
        ingest_pb2.Event(survey_response=wire), REGISTRY, now=NOW
    )
    assert event == unanswered


def test_field_errors_to_proto() -> None:
    [wire] = convert.field_errors_to_proto([FieldError("intervention.event_id", "is required")])
    assert (wire.field, wire.reason) == ("intervention.event_id", "is required")


# --- Garbage never raises ------------------------------------------------------------------


def assert_domain_or_errors(result: object, domain_types: tuple[type, ...]) -> None:
    if isinstance(result, list):
        assert result, "an empty error list must never stand for a rejection"
        assert all(isinstance(e, FieldError) and e.field and e.reason for e in result)
    else:
        assert isinstance(result, domain_types), result


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(random_message(ingest_pb2.Event.DESCRIPTOR))
def test_random_events_convert_and_validate_without_raising(message: ingest_pb2.Event) -> None:
    event_types = (model.InterventionEvent, model.SurveyResponse)
    converted = convert.event_from_proto(message)
    assert_domain_or_errors(converted, event_types)
    assert_domain_or_errors(
        convert.validated_event_from_proto(message, REGISTRY, now=NOW), event_types
    )
    if not isinstance(converted, list):
        # Whatever converts, converts back to the same domain value.
        assert convert.event_from_proto(convert.event_to_proto(converted)) == converted


VALID_SURVEY_EVENT = convert.event_to_proto(VALID_RESPONSE)
VALID_INTERVENTION_EVENTS = [
    convert.event_to_proto(intervention(detail)) for detail in VALID_DETAILS
]


@st.composite
def mutated_valid_event(draw: st.DrawFn) -> ingest_pb2.Event:
    """A valid event with a few fields overwritten, so validation (not just conversion) is exercised."""
    event = ingest_pb2.Event()
    event.CopyFrom(
        draw(st.one_of(st.just(VALID_SURVEY_EVENT), st.sampled_from(VALID_INTERVENTION_EVENTS)))
    )
    payload = getattr(event, event.WhichOneof("payload"))
    payload.MergeFrom(draw(random_message(payload.DESCRIPTOR, density=12)))
    return event


@FUZZ
@given(mutated_valid_event())
def test_mutated_valid_events_convert_and_validate_without_raising(
    message: ingest_pb2.Event,
) -> None:
    event_types = (model.InterventionEvent, model.SurveyResponse)
    assert_domain_or_errors(convert.event_from_proto(message), event_types)
    assert_domain_or_errors(
        convert.validated_event_from_proto(message, REGISTRY, now=NOW), event_types
    )


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_past_parsing(data: bytes) -> None:
    try:
        message = ingest_pb2.Event.FromString(data)
    except DecodeError:
        return  # the gRPC layer refuses undecodable bytes before our code sees them
    assert_domain_or_errors(
        convert.validated_event_from_proto(message, REGISTRY, now=NOW),
        (model.InterventionEvent, model.SurveyResponse),
    )


@FUZZ
@given(random_message(registry_pb2.Site.DESCRIPTOR))
def test_random_sites_never_raise(message: registry_pb2.Site) -> None:
    from shared.domain.validation import validate_site

    site = convert.site_from_proto(message)
    assert_domain_or_errors(site, (model.Site,))
    if isinstance(site, model.Site):
        validate_site(site)
        assert convert.site_from_proto(convert.site_to_proto(site)) == site


@FUZZ
@given(random_message(registry_pb2.Instrument.DESCRIPTOR))
def test_random_instruments_never_raise(message: registry_pb2.Instrument) -> None:
    from shared.domain.validation import validate_instrument

    instrument = convert.instrument_from_proto(message)
    assert_domain_or_errors(instrument, (model.Instrument,))
    if isinstance(instrument, model.Instrument):
        validate_instrument(instrument)
        assert convert.instrument_from_proto(convert.instrument_to_proto(instrument)) == instrument


@FUZZ
@given(
    st.fixed_dictionaries(
        {
            "answers": st.dictionaries(STRINGS, st.one_of(st.none(), INT32), max_size=8),
            "groups": st.dictionaries(st.sampled_from(model.GroupDimension), STRINGS, max_size=6),
            "submitted_at": st.datetimes(timezones=st.just(UTC)),
            "instrument_version": INT32,
            "event_id": STRINGS,
        }
    )
)
def test_random_domain_survey_values_never_raise(changes: dict) -> None:
    from shared.domain.validation import validate_survey_response

    response = replace(VALID_RESPONSE, **changes)
    errors = validate_survey_response(response, REGISTRY, now=NOW)
    assert all(isinstance(e, FieldError) for e in errors)
    wire = convert.survey_response_to_proto(response)
    assert_domain_or_errors(convert.survey_response_from_proto(wire), (model.SurveyResponse,))
