"""A survey response naming its cycle, judged against the registered cycle: inside its window, of
a site taking part, with the cycle's instrument version; each refusal names the field, the cycle
and its dates, every error of the response at once. A response naming no cycle is judged as
before."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.cycles import SurveyCycle
from shared.domain.model import Department, Role, SurveyResponse, Wave
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.domain.validation import FieldError, index_instruments, validate_survey_response

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REGISTRY = index_instruments([JEDI_CULTURE, replace(JEDI_CULTURE, version=2)])
OPENS = datetime(2026, 4, 1, tzinfo=UTC)
CLOSES = datetime(2026, 5, 31, tzinfo=UTC)
DATES = "(opens 2026-04-01T00:00:00Z, closes 2026-05-31T00:00:00Z)"
CYCLE = SurveyCycle(
    cycle_id="2026",
    name="2026 culture survey",
    instrument_id="jedi-culture",
    instrument_version=1,
    site_ids=("site-north", "site-south"),
    opens_at=OPENS,
    closes_at=CLOSES,
)
CYCLES = {CYCLE.cycle_id: CYCLE}

# Inside the midpoint wave's window (2026-03-01 .. 2026-06-01) and inside the cycle's.
RESPONSE = SurveyResponse(
    event_id="qualtrics:R_cycle1",
    site_id="site-north",
    instrument_id="jedi-culture",
    instrument_version=1,
    wave=Wave.MIDPOINT,
    role=Role.RESIDENT,
    department=Department.MEDICINE,
    submitted_at=datetime(2026, 4, 15, 9, 30, tzinfo=UTC),
    source_system="qualtrics",
    answers={"BEL1": 4, "BEL2": 5},
    cycle_id="2026",
)


def judged(response: SurveyResponse, cycles: dict[str, SurveyCycle] | None = CYCLES):
    return validate_survey_response(response, REGISTRY, now=NOW, cycles=cycles)


def test_a_response_inside_its_cycle_passes() -> None:
    assert judged(RESPONSE) == []


def test_a_response_naming_no_cycle_is_judged_as_before() -> None:
    old = replace(RESPONSE, cycle_id=None, submitted_at=datetime(2026, 3, 2, tzinfo=UTC))
    assert judged(old) == []
    assert validate_survey_response(old, REGISTRY, now=NOW) == []


@pytest.mark.parametrize(
    ("submitted_at", "shown"),
    [
        (datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC), "2026-03-31T23:59:59Z"),
        (CLOSES, "2026-05-31T00:00:00Z"),  # the window is half-open, as a wave's is
    ],
)
def test_a_response_outside_the_window_is_refused_naming_the_cycle_and_its_dates(
    submitted_at: datetime, shown: str
) -> None:
    assert judged(replace(RESPONSE, submitted_at=submitted_at)) == [
        FieldError(
            "survey_response.submitted_at", f"submitted_at {shown} is outside cycle '2026' {DATES}"
        )
    ]


def test_the_window_holds_its_opening_and_the_last_moment_before_the_close() -> None:
    assert judged(replace(RESPONSE, submitted_at=OPENS)) == []
    assert judged(replace(RESPONSE, submitted_at=CLOSES - timedelta(microseconds=1))) == []


def test_a_refusal_before_the_opening_reads_as_a_sentence() -> None:
    early = replace(RESPONSE, wave=Wave.MIDPOINT, submitted_at=datetime(2026, 3, 1, tzinfo=UTC))
    [error] = judged(early)
    assert error.reason == (
        "submitted_at 2026-03-01T00:00:00Z is outside cycle '2026' "
        "(opens 2026-04-01T00:00:00Z, closes 2026-05-31T00:00:00Z)"
    )


def test_a_site_not_taking_part_is_refused_and_no_other_site_is_named() -> None:
    [error] = judged(replace(RESPONSE, site_id="site-east"))
    assert error == FieldError(
        "survey_response.site_id", f"site 'site-east' does not take part in cycle '2026' {DATES}"
    )
    assert "site-north" not in error.reason and "site-south" not in error.reason


def test_another_instrument_version_is_refused() -> None:
    [error] = judged(replace(RESPONSE, instrument_version=2))
    assert error.field == "survey_response.instrument_version"
    assert error.reason == (
        f"instrument 'jedi-culture' version 2 is not the instrument of cycle '2026' {DATES}: "
        "it uses 'jedi-culture' version 1"
    )


def test_another_instrument_is_refused_on_its_id() -> None:
    other = replace(JEDI_CULTURE, instrument_id="other-survey")
    registry = {**REGISTRY, ("other-survey", 1): other}
    response = replace(RESPONSE, instrument_id="other-survey")
    errors = validate_survey_response(response, registry, now=NOW, cycles=CYCLES)
    assert [e.field for e in errors] == ["survey_response.instrument_id"]


def test_an_unregistered_cycle_is_refused() -> None:
    assert judged(replace(RESPONSE, cycle_id="2027")) == [
        FieldError(
            "survey_response.cycle_id",
            "cycle '2027' is not registered (jedi cycle list shows the cycles a credential "
            "may read)",
        )
    ]


@pytest.mark.parametrize("cycle_id", ["", "two words", "x" * 200])
def test_a_malformed_cycle_id_is_refused_with_or_without_a_registry(cycle_id: str) -> None:
    for cycles in (CYCLES, None):
        errors = judged(replace(RESPONSE, cycle_id=cycle_id), cycles)
        assert [e.field for e in errors] == ["survey_response.cycle_id"]


def test_without_a_registry_of_cycles_only_the_id_is_checked() -> None:
    assert judged(replace(RESPONSE, cycle_id="2027", site_id="site-east"), None) == []


def test_every_error_of_the_response_comes_at_once() -> None:
    bad = replace(
        RESPONSE,
        site_id="site-east",
        instrument_version=2,
        submitted_at=datetime(2026, 3, 15, tzinfo=UTC),
        answers={"BEL1": 9},
    )
    assert sorted(e.field for e in judged(bad)) == [
        'survey_response.answers["BEL1"]',
        "survey_response.instrument_version",
        "survey_response.site_id",
        "survey_response.submitted_at",
    ]


def test_a_field_refused_on_its_own_is_not_judged_against_the_cycle_again() -> None:
    future = replace(RESPONSE, submitted_at=NOW + timedelta(days=30), site_id="bad site")
    errors = judged(future)
    assert sorted(e.field for e in errors) == [
        "survey_response.site_id",
        "survey_response.submitted_at",
    ]
    assert all("cycle" not in e.reason for e in errors)
    unknown_version = replace(RESPONSE, instrument_version=7)
    assert [e.reason for e in judged(unknown_version)] == [
        "instrument 'jedi-culture' has no version 7 (registered: 1, 2)"
    ]
