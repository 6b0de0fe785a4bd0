"""A survey cycle's checks: a valid cycle passes, each bad field is named, and every error of a
cycle comes at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.domain.cycles import SurveyCycle
from shared.domain.validation import (
    MAX_CYCLE_SITES,
    MAX_INTERIM_RELEASES,
    FieldError,
    validate_cycle,
)

OPENS = datetime(2026, 3, 1, tzinfo=UTC)
CLOSES = datetime(2026, 5, 1, tzinfo=UTC)
SITES = {"site-north", "site-south", "site-east"}
INSTRUMENTS = {("jedi-culture", 1), ("jedi-culture", 2)}

CYCLE = SurveyCycle(
    cycle_id="2026",
    name="2026 culture survey",
    instrument_id="jedi-culture",
    instrument_version=2,
    site_ids=("site-north", "site-south"),
    opens_at=OPENS,
    closes_at=CLOSES,
    interim_releases=(datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    approval_deadline=datetime(2026, 5, 15, tzinfo=UTC),
)


def fields(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


def test_a_valid_cycle_passes_with_and_without_the_registry():
    assert validate_cycle(CYCLE, sites=SITES, instruments=INSTRUMENTS) == []
    assert validate_cycle(CYCLE) == []


def test_an_empty_calendar_and_no_deadline_are_valid():
    cycle = replace(CYCLE, interim_releases=(), approval_deadline=None)
    assert validate_cycle(cycle, sites=SITES, instruments=INSTRUMENTS) == []


def test_release_times_at_the_open_and_close_and_a_deadline_at_the_close_are_valid():
    cycle = replace(CYCLE, interim_releases=(OPENS, CLOSES), approval_deadline=CLOSES)
    assert validate_cycle(cycle) == []


def test_an_offset_time_zone_is_as_good_as_utc():
    plus_two = timezone(timedelta(hours=2))
    cycle = replace(CYCLE, opens_at=OPENS.astimezone(plus_two))
    assert validate_cycle(cycle) == []


@pytest.mark.parametrize(
    ("change", "field", "reason_part"),
    [
        ({"cycle_id": ""}, "cycle.cycle_id", "is required"),
        ({"cycle_id": "has space"}, "cycle.cycle_id", "may contain only"),
        ({"cycle_id": "x" * 65}, "cycle.cycle_id", "at most 64"),
        ({"name": ""}, "cycle.name", "is required"),
        ({"name": "   "}, "cycle.name", "is required"),
        ({"name": "two\nlines"}, "cycle.name", "single line"),
        ({"instrument_id": ""}, "cycle.instrument_id", "is required"),
        ({"instrument_version": 0}, "cycle.instrument_version", "1 or more"),
        ({"site_ids": ()}, "cycle.site_ids", "at least one site"),
        ({"site_ids": ("site-north", "")}, "cycle.site_ids[1]", "is required"),
        (
            {"site_ids": ("site-north", "site-north")},
            "cycle.site_ids[1]",
            "more than once",
        ),
        ({"closes_at": OPENS}, "cycle.closes_at", "is not after opens_at"),
        ({"closes_at": OPENS - timedelta(days=1)}, "cycle.closes_at", "is not after opens_at"),
        ({"opens_at": datetime(2026, 3, 1)}, "cycle.opens_at", "time zone"),
        ({"opens_at": None}, "cycle.opens_at", "is required"),
        ({"opens_at": datetime(1999, 1, 1, tzinfo=UTC)}, "cycle.opens_at", "mis-parsed"),
        (
            {"interim_releases": (OPENS - timedelta(seconds=1),)},
            "cycle.interim_releases[0]",
            "outside the cycle",
        ),
        (
            {"interim_releases": (CLOSES + timedelta(days=1),)},
            "cycle.interim_releases[0]",
            "outside the cycle",
        ),
        (
            {"interim_releases": (datetime(2026, 4, 1, tzinfo=UTC),) * 2},
            "cycle.interim_releases[1]",
            "in order, each once",
        ),
        (
            {
                "interim_releases": (
                    datetime(2026, 4, 1, tzinfo=UTC),
                    datetime(2026, 3, 15, tzinfo=UTC),
                )
            },
            "cycle.interim_releases[1]",
            "in order, each once",
        ),
        (
            {"interim_releases": (datetime(2026, 4, 1),)},
            "cycle.interim_releases[0]",
            "time zone",
        ),
        (
            {"approval_deadline": CLOSES - timedelta(days=1)},
            "cycle.approval_deadline",
            "before closes_at",
        ),
        ({"approval_deadline": datetime(2026, 6, 1)}, "cycle.approval_deadline", "time zone"),
    ],
)
def test_each_rule_names_its_field(change, field, reason_part):
    errors = validate_cycle(replace(CYCLE, **change), sites=SITES, instruments=INSTRUMENTS)
    assert fields(errors) == [field], errors
    assert reason_part in errors[0].reason


def test_unknown_sites_and_instruments_are_refused_against_the_registry():
    cycle = replace(CYCLE, site_ids=("site-north", "site-west"), instrument_id="other-survey")
    errors = validate_cycle(cycle, sites=SITES, instruments=INSTRUMENTS)
    assert errors == [
        FieldError(
            "cycle.instrument_id",
            "instrument 'other-survey' is not registered (PutInstrument first)",
        ),
        FieldError("cycle.site_ids[1]", "site 'site-west' is not registered (PutSite first)"),
    ]
    # Without the registry, only the cycle's own fields are judged.
    assert validate_cycle(cycle) == []


def test_an_unregistered_version_names_the_registered_ones():
    errors = validate_cycle(replace(CYCLE, instrument_version=3), instruments=INSTRUMENTS)
    assert errors == [
        FieldError(
            "cycle.instrument_version",
            "instrument 'jedi-culture' has no version 3; registered: 1, 2",
        )
    ]


def test_every_error_of_a_cycle_comes_at_once():
    bad = SurveyCycle(
        cycle_id="",
        name="",
        instrument_id="jedi-culture",
        instrument_version=9,
        site_ids=("site-west", "site-north", "site-north"),
        opens_at=OPENS,
        closes_at=CLOSES,
        interim_releases=(CLOSES + timedelta(days=1),),
        approval_deadline=OPENS,
    )
    assert fields(validate_cycle(bad, sites=SITES, instruments=INSTRUMENTS)) == [
        "cycle.cycle_id",
        "cycle.name",
        "cycle.instrument_version",
        "cycle.site_ids[0]",
        "cycle.site_ids[2]",
        "cycle.interim_releases[0]",
        "cycle.approval_deadline",
    ]


def test_a_window_that_does_not_close_after_it_opens_is_one_error_not_one_per_release():
    cycle = replace(CYCLE, closes_at=OPENS, approval_deadline=None)
    assert fields(validate_cycle(cycle)) == ["cycle.closes_at"]


def test_too_many_sites_or_release_times_are_one_error_each():
    many_sites = tuple(f"site-{n}" for n in range(MAX_CYCLE_SITES + 1))
    step = (CLOSES - OPENS) / (MAX_INTERIM_RELEASES + 2)
    many_releases = tuple(OPENS + step * (n + 1) for n in range(MAX_INTERIM_RELEASES + 1))
    cycle = replace(CYCLE, site_ids=many_sites, interim_releases=many_releases)
    assert fields(validate_cycle(cycle)) == ["cycle.site_ids", "cycle.interim_releases"]


def test_takes_part():
    assert CYCLE.takes_part("site-north")
    assert not CYCLE.takes_part("site-east")
