"""A response's keyed event id, its content fingerprint, and the eligible-headcount check."""

from __future__ import annotations

import dataclasses
import hashlib
from zoneinfo import ZoneInfo

import pytest

from shared.domain.model import Wave
from shared.domain.plausibility import check_headcount
from shared.domain.response_keys import (
    ResponseKeyError,
    content_fingerprint,
    new_response_key,
    parse_response_key,
    response_event_id,
)
from tests.unit.domain.factories import response, site

KEY = bytes(range(32))


def event_id(key: bytes = KEY, *parts: str, site_id: str = "site-north", wave: str = "") -> str:
    return response_event_id(
        key, site_id=site_id, instrument_id="jedi-culture", wave=wave, parts=parts or ("R_1",)
    )


def test_the_same_survey_tool_id_gives_the_same_event_id_only_under_the_same_key_and_scope():
    assert event_id() == event_id()
    assert event_id().startswith("resp-") and len(event_id()) == 45
    others = {
        event_id(bytes(32)),
        event_id(KEY, "R_2"),
        event_id(KEY, "R_1", site_id="site-south"),
        event_id(KEY, "R_1", wave="baseline"),
        event_id(KEY, "1", "visit_1_arm_1"),
        event_id(KEY, "1", "visit_2_arm_1"),
    }
    assert event_id() not in others and len(others) == 6
    # Nothing unkeyed: neither the id nor its plain hash appears in the event id.
    assert "R_1" not in event_id() and hashlib.sha256(b"R_1").hexdigest()[:40] not in event_id()


def test_a_response_key_file_holds_64_hex_digits():
    assert len(parse_response_key(new_response_key() + "\n")) == 32
    assert new_response_key() != new_response_key()
    with pytest.raises(ResponseKeyError, match="expected 64 hex digits"):
        parse_response_key("not hex")
    with pytest.raises(ResponseKeyError, match="holds 3 bytes"):
        parse_response_key("abcdef")


def test_the_fingerprint_ignores_the_event_id_and_how_times_are_written_but_not_content():
    first = response({"BEL1": 4, "BEL2": None})
    same = dataclasses.replace(
        first,
        event_id="other",
        answers={"BEL1": 4},
        submitted_at=first.submitted_at.astimezone(ZoneInfo("Asia/Tokyo")),
    )
    assert content_fingerprint(first) == content_fingerprint(same)
    for changed in (
        dataclasses.replace(first, answers={"BEL1": 5}),
        dataclasses.replace(first, role=None),
        dataclasses.replace(first, witnessed_discrimination=True),
        dataclasses.replace(first, submitted_at=first.submitted_at.replace(minute=1)),
    ):
        assert content_fingerprint(changed) != content_fingerprint(first)


def test_the_headcount_check_refuses_only_past_the_eligible_headcount():
    hospital = site("s1", resident=30, faculty=20)
    assert check_headcount(hospital, Wave.BASELINE, 40, 10) is None  # exactly 100 %
    excess = check_headcount(hospital, Wave.BASELINE, 40, 11)
    assert excess is not None and (excess.eligible, excess.stored, excess.arriving) == (50, 40, 11)
    assert "51 responses for the baseline wave (40 stored + 11 new)" in excess.reason()
    assert "a response rate of 102%" in excess.reason()
    assert check_headcount(site("s2"), Wave.BASELINE, 1000, 1000) is None  # no headcount: no rate
    assert check_headcount(hospital, Wave.BASELINE, 60, 0) is None  # nothing new
