"""Each validation rule: a valid example passes, and a bad case names the right field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain import model
from shared.domain.model import (
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    Composite,
    Department,
    GroupDimension,
    IncidentCategory,
    Instrument,
    InterventionEvent,
    Item,
    Lever,
    MentoringPairing,
    PolicyChange,
    PolicyStage,
    Principle,
    RecruitmentFunnelSnapshot,
    Role,
    Site,
    SurveyResponse,
    TeachingType,
    TrainingSession,
    TrainingTopic,
    Urbanicity,
    Wave,
    WaveWindow,
)
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.domain.validation import (
    CLOCK_SKEW_ALLOWANCE,
    FieldError,
    IncidentTimes,
    explain_identifying_column,
    identifying_column_errors,
    identifying_columns,
    index_instruments,
    validate_incident_transition,
    validate_instrument,
    validate_intervention,
    validate_site,
    validate_survey_response,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REGISTRY = index_instruments([JEDI_CULTURE])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fields(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


# --- Survey responses -----------------------------------------------------------------

VALID_RESPONSE = SurveyResponse(
    event_id="qualtrics:R_1a2B3c4D5e",
    site_id="site-north",
    instrument_id="jedi-culture",
    instrument_version=1,
    wave=Wave.BASELINE,
    role=Role.RESIDENT,
    department=Department.MEDICINE,
    submitted_at=utc(2025, 10, 15, 9, 30),
    source_system="qualtrics",
    answers={"BEL1": 4, "BEL2": 5, "BEL3": 2, "INC1": None, "PSY3": 1},
    groups={GroupDimension.URIM: "yes", GroupDimension.GENDER_IDENTITY: "prefer_not_to_say"},
    experienced_discrimination=False,
    witnessed_discrimination=True,
)


def test_valid_survey_response_passes() -> None:
    assert validate_survey_response(VALID_RESPONSE, REGISTRY, now=NOW) == []


def test_minimal_survey_response_passes() -> None:
    minimal = replace(
        VALID_RESPONSE,
        answers={"LEA4": 3},
        groups={},
        experienced_discrimination=None,
        witnessed_discrimination=None,
    )
    assert validate_survey_response(minimal, REGISTRY, now=NOW) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event_id": ""}, "survey_response.event_id"),
        ({"event_id": "x" * 129}, "survey_response.event_id"),
        ({"event_id": "jane.doe@hospital.org"}, "survey_response.event_id"),
        ({"event_id": "has space"}, "survey_response.event_id"),
        ({"site_id": ""}, "survey_response.site_id"),
        ({"site_id": "s" * 65}, "survey_response.site_id"),
        ({"source_system": ""}, "survey_response.source_system"),
        ({"instrument_id": ""}, "survey_response.instrument_id"),
        ({"instrument_id": "other-survey"}, "survey_response.instrument_id"),
        ({"instrument_version": 2}, "survey_response.instrument_version"),
        ({"instrument_version": 0}, "survey_response.instrument_version"),
        ({"answers": {"BEL1": 6}}, 'survey_response.answers["BEL1"]'),
        ({"answers": {"BEL1": 0}}, 'survey_response.answers["BEL1"]'),
        ({"answers": {"BEL1": 4, "NOPE9": 3}}, 'survey_response.answers["NOPE9"]'),
        ({"answers": {}}, "survey_response.answers"),
        ({"answers": {"BEL1": None}}, "survey_response.answers"),
        ({"groups": {GroupDimension.URIM: "maybe"}}, "survey_response.groups[0].value"),
        (
            {"groups": {GroupDimension.URIM: "no", GroupDimension.GENDER_IDENTITY: "yes"}},
            "survey_response.groups[1].value",
        ),
        (
            {"submitted_at": NOW + CLOCK_SKEW_ALLOWANCE + timedelta(seconds=1)},
            "survey_response.submitted_at",
        ),
        ({"submitted_at": datetime(2025, 10, 15, 9, 30)}, "survey_response.submitted_at"),
        ({"submitted_at": utc(1970, 1, 1)}, "survey_response.submitted_at"),
        ({"role": "resident"}, "survey_response.role"),
    ],
)
def test_bad_survey_response_names_the_field(changes: dict, field: str) -> None:
    errors = validate_survey_response(replace(VALID_RESPONSE, **changes), REGISTRY, now=NOW)
    assert fields(errors) == [field], errors
    assert errors[0].reason


def test_late_response_is_rejected_with_a_clear_reason() -> None:
    late = replace(VALID_RESPONSE, submitted_at=utc(2026, 1, 2))
    [error] = validate_survey_response(late, REGISTRY, now=NOW)
    assert error.field == "survey_response.submitted_at"
    assert "late response" in error.reason and "baseline" in error.reason


def test_window_is_half_open() -> None:
    at_close = replace(VALID_RESPONSE, submitted_at=utc(2026, 1, 1))
    at_open = replace(VALID_RESPONSE, submitted_at=utc(2025, 9, 1))
    assert fields(validate_survey_response(at_close, REGISTRY, now=NOW)) == [
        "survey_response.submitted_at"
    ]
    assert validate_survey_response(at_open, REGISTRY, now=NOW) == []


def test_early_response_is_rejected() -> None:
    early = replace(VALID_RESPONSE, wave=Wave.MIDPOINT, submitted_at=utc(2026, 2, 1))
    [error] = validate_survey_response(early, REGISTRY, now=NOW)
    assert (
        error.field == "survey_response.submitted_at"
        and "before the midpoint wave opened" in error.reason
    )


def test_wave_the_instrument_does_not_define() -> None:
    baseline_only = replace(JEDI_CULTURE, version=2, waves=JEDI_CULTURE.waves[:1])
    response = replace(
        VALID_RESPONSE, instrument_version=2, wave=Wave.FOLLOW_UP, submitted_at=utc(2026, 10, 1)
    )
    errors = validate_survey_response(response, index_instruments([baseline_only]), now=NOW)
    assert fields(errors) == ["survey_response.wave"]
    assert "no follow_up wave" in errors[0].reason


def test_small_clock_skew_is_allowed() -> None:
    open_follow_up = replace(VALID_RESPONSE, wave=Wave.FOLLOW_UP)
    slightly_ahead = replace(open_follow_up, submitted_at=NOW + CLOCK_SKEW_ALLOWANCE)
    assert validate_survey_response(slightly_ahead, REGISTRY, now=NOW) == []


def test_unknown_version_lists_registered_versions() -> None:
    [error] = validate_survey_response(
        replace(VALID_RESPONSE, instrument_version=3), REGISTRY, now=NOW
    )
    assert "registered: 1" in error.reason


def test_all_errors_are_reported_together() -> None:
    bad = replace(VALID_RESPONSE, event_id="", site_id="", answers={"BEL1": 9})
    assert set(fields(validate_survey_response(bad, REGISTRY, now=NOW))) == {
        "survey_response.event_id",
        "survey_response.site_id",
        'survey_response.answers["BEL1"]',
    }


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_survey_response(VALID_RESPONSE, REGISTRY, now=datetime(2026, 11, 25))


# --- Intervention events ----------------------------------------------------------------


def intervention(detail: model.InterventionDetail, **changes: object) -> InterventionEvent:
    event = InterventionEvent(
        event_id="evt-0001",
        site_id="site-north",
        occurred_at=utc(2026, 10, 7, 14),
        source_system="lms-export",
        detail=detail,
        levers=frozenset({Lever.AWARENESS}),
        principles=frozenset({Principle.ACKNOWLEDGE_AND_LEARN}),
    )
    return replace(event, **changes)


TRAINING = TrainingSession(
    "ses-17", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, invited=40, attended=31, completed=29
)
FUNNEL = RecruitmentFunnelSnapshot("2026-2027", 900, 120, 100, 12, 150, 25, 20, 3)

VALID_DETAILS: list[model.InterventionDetail] = [
    TRAINING,
    MentoringPairing("pair-3", Role.RESIDENT, Role.FACULTY),
    PolicyChange(
        "pol-holistic-review", PolicyStage.ADOPTED, "Holistic review of residency applications"
    ),
    BiasIncidentReported("inc-42", IncidentCategory.RACISM),
    BiasIncidentAcknowledged("inc-42"),
    BiasIncidentResolved("inc-42"),
    FUNNEL,
    CommunityPartnership("cp-9", "community health center"),
    AffinityGroupMeeting("ag-latinx", 14),
]


@pytest.mark.parametrize("detail", VALID_DETAILS, ids=lambda d: type(d).__name__)
def test_valid_intervention_passes(detail: model.InterventionDetail) -> None:
    assert validate_intervention(intervention(detail), now=NOW) == []


def test_levers_and_principles_are_optional() -> None:
    untagged = intervention(TRAINING, levers=frozenset(), principles=frozenset())
    assert validate_intervention(untagged, now=NOW) == []


P = "intervention"
T = f"{P}.training_session"
F = f"{P}.recruitment_funnel_snapshot"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (intervention(TRAINING, event_id=""), f"{P}.event_id"),
        (intervention(TRAINING, site_id="north site"), f"{P}.site_id"),
        (intervention(TRAINING, source_system=""), f"{P}.source_system"),
        (intervention(TRAINING, occurred_at=NOW + timedelta(hours=1)), f"{P}.occurred_at"),
        (intervention(TRAINING, occurred_at=datetime(2026, 10, 7)), f"{P}.occurred_at"),
        (intervention(TRAINING, levers=frozenset({"awareness"})), f"{P}.levers[0]"),
        (intervention(TRAINING, principles=frozenset({"nope"})), f"{P}.principles[0]"),
        (intervention("not a detail"), f"{P}.detail"),  # type: ignore[arg-type]
        (intervention(replace(TRAINING, session_id="")), f"{T}.session_id"),
        (intervention(replace(TRAINING, invited=-1, attended=0, completed=0)), f"{T}.invited"),
        (intervention(replace(TRAINING, attended=41)), f"{T}.attended"),
        (intervention(replace(TRAINING, completed=32)), f"{T}.completed"),
        (intervention(replace(TRAINING, topic="health_equity")), f"{T}.topic"),
        (
            intervention(MentoringPairing("", Role.RESIDENT, Role.FACULTY)),
            f"{P}.mentoring_pairing.pairing_id",
        ),
        (intervention(PolicyChange("pol-1", PolicyStage.PROPOSED, "")), f"{P}.policy_change.title"),
        (
            intervention(PolicyChange("pol-1", PolicyStage.PROPOSED, "A\nnarrative")),
            f"{P}.policy_change.title",
        ),
        (
            intervention(PolicyChange("pol-1", PolicyStage.PROPOSED, "x" * 201)),
            f"{P}.policy_change.title",
        ),
        (
            intervention(BiasIncidentReported("", IncidentCategory.OTHER)),
            f"{P}.bias_incident_reported.incident_id",
        ),
        (
            intervention(BiasIncidentAcknowledged("a b")),
            f"{P}.bias_incident_acknowledged.incident_id",
        ),
        (intervention(BiasIncidentResolved("")), f"{P}.bias_incident_resolved.incident_id"),
        (intervention(replace(FUNNEL, cycle="")), f"{F}.cycle"),
        (intervention(replace(FUNNEL, interviewed=901)), f"{F}.interviewed"),
        (intervention(replace(FUNNEL, ranked=121)), f"{F}.ranked"),
        (intervention(replace(FUNNEL, matched=101)), f"{F}.matched"),
        (intervention(replace(FUNNEL, matched_urim=-1)), f"{F}.matched_urim"),
        (intervention(replace(FUNNEL, ranked_urim=26)), f"{F}.ranked_urim"),
        (intervention(replace(FUNNEL, interviewed_urim=151)), f"{F}.interviewed_urim"),
        (intervention(replace(FUNNEL, matched=2, matched_urim=3)), f"{F}.matched_urim"),
        (intervention(CommunityPartnership("cp-1", "")), f"{P}.community_partnership.partner_kind"),
        (intervention(AffinityGroupMeeting("ag-1", -3)), f"{P}.affinity_group_meeting.attendees"),
    ],
)
def test_bad_intervention_names_the_field(event: InterventionEvent, field: str) -> None:
    errors = validate_intervention(event, now=NOW)
    assert field in fields(errors), errors
    assert all(error.reason for error in errors)


def test_urim_stage_larger_than_its_total_is_named() -> None:
    # urim counts are monotone here, but ranked_urim exceeds ranked.
    funnel = RecruitmentFunnelSnapshot("2026", 900, 120, 10, 5, 150, 25, 20, 3)
    errors = validate_intervention(intervention(funnel), now=NOW)
    assert fields(errors) == [f"{F}.ranked_urim"]
    assert "more than ranked (10)" in errors[0].reason


# --- Incident lifecycle -------------------------------------------------------------------

REPORTED = intervention(
    BiasIncidentReported("inc-42", IncidentCategory.RACISM), occurred_at=utc(2026, 10, 1)
)
ACKNOWLEDGED = intervention(BiasIncidentAcknowledged("inc-42"), occurred_at=utc(2026, 10, 3))
RESOLVED = intervention(BiasIncidentResolved("inc-42"), occurred_at=utc(2026, 10, 20))


def test_incident_lifecycle_in_order_passes() -> None:
    times = IncidentTimes()
    for event in (REPORTED, ACKNOWLEDGED, RESOLVED):
        assert validate_incident_transition(times, event) == []
        times = times.after(event)
    assert times == IncidentTimes(utc(2026, 10, 1), utc(2026, 10, 3), utc(2026, 10, 20))


@pytest.mark.parametrize(
    ("known", "event", "field", "words"),
    [
        (
            IncidentTimes(),
            ACKNOWLEDGED,
            f"{P}.bias_incident_acknowledged.incident_id",
            "never reported",
        ),
        (
            IncidentTimes(utc(2026, 10, 1)),
            RESOLVED,
            f"{P}.bias_incident_resolved.incident_id",
            "never acknowledged",
        ),
        (
            IncidentTimes(utc(2026, 10, 1)),
            REPORTED,
            f"{P}.bias_incident_reported.incident_id",
            "already reported",
        ),
        (
            IncidentTimes(utc(2026, 10, 1), utc(2026, 10, 2)),
            ACKNOWLEDGED,
            f"{P}.bias_incident_acknowledged.incident_id",
            "already acknowledged",
        ),
        (
            IncidentTimes(utc(2026, 10, 1), utc(2026, 10, 2), utc(2026, 10, 5)),
            RESOLVED,
            f"{P}.bias_incident_resolved.incident_id",
            "already resolved",
        ),
        (
            IncidentTimes(utc(2026, 10, 4)),
            ACKNOWLEDGED,
            f"{P}.occurred_at",
            "before it was reported",
        ),
        (
            IncidentTimes(utc(2026, 10, 1), utc(2026, 10, 21)),
            RESOLVED,
            f"{P}.occurred_at",
            "before it was acknowledged",
        ),
    ],
)
def test_incident_out_of_order_is_rejected(
    known: IncidentTimes, event: InterventionEvent, field: str, words: str
) -> None:
    [error] = validate_incident_transition(known, event)
    assert error.field == field and words in error.reason


def test_non_incident_events_have_no_lifecycle() -> None:
    assert validate_incident_transition(IncidentTimes(), intervention(TRAINING)) == []


# --- Registry -------------------------------------------------------------------------------

VALID_SITE = Site(
    site_id="site-north",
    name="North Valley Medical Center",
    region="northeast",
    urbanicity=Urbanicity.URBAN,
    teaching_type=TeachingType.ACADEMIC_MEDICAL_CENTER,
    collaborative="cohort-2025",
    eligible_headcount={Role.RESIDENT: 180, Role.FACULTY: 420},
)


def test_valid_site_passes() -> None:
    assert validate_site(VALID_SITE) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"site_id": ""}, "site.site_id"),
        ({"name": " "}, "site.name"),
        ({"region": ""}, "site.region"),
        ({"collaborative": ""}, "site.collaborative"),
        ({"urbanicity": "urban"}, "site.urbanicity"),
        (
            {"eligible_headcount": {Role.RESIDENT: 10, Role.NURSE: -1}},
            "site.eligible_headcount[1].headcount",
        ),
    ],
)
def test_bad_site_names_the_field(changes: dict, field: str) -> None:
    assert fields(validate_site(replace(VALID_SITE, **changes))) == [field]


def test_sample_instrument_is_valid_and_realistic() -> None:
    assert validate_instrument(JEDI_CULTURE) == []
    assert (JEDI_CULTURE.instrument_id, JEDI_CULTURE.version) == ("jedi-culture", 1)
    assert len(JEDI_CULTURE.items) == 24
    for composite in Composite:
        assert sum(item.composite == composite for item in JEDI_CULTURE.items) == 4
    assert any(item.reverse_worded for item in JEDI_CULTURE.items)
    assert {window.wave for window in JEDI_CULTURE.waves} == set(Wave)
    # Demo data dated today must fit into at least two waves already opened.
    assert sum(window.opens_at < NOW for window in JEDI_CULTURE.waves) >= 2


@pytest.mark.parametrize(
    ("instrument", "field"),
    [
        (replace(JEDI_CULTURE, instrument_id=""), "instrument.instrument_id"),
        (replace(JEDI_CULTURE, version=0), "instrument.version"),
        (replace(JEDI_CULTURE, items=()), "instrument.items"),
        (
            replace(JEDI_CULTURE, items=JEDI_CULTURE.items + (JEDI_CULTURE.items[0],)),
            "instrument.items[24].code",
        ),
        (
            replace(JEDI_CULTURE, items=(Item("1BAD", Composite.BELONGING),)),
            "instrument.items[0].code",
        ),
        (
            replace(JEDI_CULTURE, waves=JEDI_CULTURE.waves + (JEDI_CULTURE.waves[0],)),
            "instrument.waves[3].wave",
        ),
        (
            replace(
                JEDI_CULTURE, waves=(WaveWindow(Wave.BASELINE, utc(2026, 1, 1), utc(2025, 1, 1)),)
            ),
            "instrument.waves[0].closes_at",
        ),
        (
            replace(
                JEDI_CULTURE,
                waves=(WaveWindow(Wave.BASELINE, datetime(2025, 1, 1), utc(2026, 1, 1)),),
            ),
            "instrument.waves[0].opens_at",
        ),
    ],
)
def test_bad_instrument_names_the_field(instrument: Instrument, field: str) -> None:
    assert fields(validate_instrument(instrument)) == [field]


# --- Identifying columns in survey exports ----------------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        "respondent_id",
        "RespondentID",
        "email",
        "RecipientEmail",
        "name",
        "Full Name",
        "RecipientLastName",
        "first_name",
        "employee_id",
        "EmployeeNumber",
        "emp_no",
        "badge_number",
        "mrn",
        "MRN",
        "ip_address",
        "IPAddress",
        "phone",
        "mobile",
        "date_of_birth",
        "DOB",
        "birth_date",
        "ExternalReference",
        "LocationLatitude",
        "zip_code",
        "comments",
        "free_text",
        "Q27_TEXT",
        "other_specify",
        "notes",
        "username",
        "device_id",
        "response_id",
        "ResponseId",
        "record_id",
        "redcap_survey_identifier",
    ],
)
def test_identifying_columns_are_flagged(column: str) -> None:
    assert identifying_columns([column]) == [column]
    assert explain_identifying_column(column)


@pytest.mark.parametrize(
    "column",
    [
        "id",
        "event_id",
        "site_id",
        "site_name",
        "instrument_id",
        "instrument_version",
        "wave",
        "role",
        "respondent_role",
        "department",
        "submitted_at",
        "StartDate",
        "BEL1",
        "TRU3",
        "urim",
        "gender_identity",
        "first_generation",
        "disability",
        "lgbtq",
        "rural_background",
        "experienced_discrimination",
        "witnessed_discrimination",
        "source_system",
    ],
)
def test_expected_columns_are_not_flagged(column: str) -> None:
    assert identifying_columns([column]) == []


def test_identifying_columns_keeps_input_order_and_explains() -> None:
    columns = ["id", "email", "BEL1", "Name", "wave"]
    assert identifying_columns(columns) == ["email", "Name"]
    errors = identifying_column_errors(columns)
    assert fields(errors) == ["email", "Name"]
    assert "email address" in errors[0].reason
