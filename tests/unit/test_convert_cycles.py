"""SurveyCycle between proto and domain, and as a record of the compacted cycles topic."""

from __future__ import annotations

from datetime import UTC, datetime

from jedi.v1 import registry_pb2
from shared.convert_cycles import cycle_from_proto, cycle_to_proto, validated_cycle_errors
from shared.domain.cycles import SurveyCycle
from shared.domain.validation import FieldError
from shared.registry_records import Removed, Unreadable, cycle_key, decode_cycle_record

CYCLE = SurveyCycle(
    cycle_id="2026",
    name="2026 culture survey",
    instrument_id="jedi-culture",
    instrument_version=1,
    site_ids=("site-north", "site-south"),
    opens_at=datetime(2026, 3, 1, tzinfo=UTC),
    closes_at=datetime(2026, 5, 1, tzinfo=UTC),
    interim_releases=(datetime(2026, 4, 1, 12, 30, 0, 250, tzinfo=UTC),),
    approval_deadline=datetime(2026, 5, 15, tzinfo=UTC),
)


def test_a_cycle_round_trips():
    assert cycle_from_proto(cycle_to_proto(CYCLE)) == (CYCLE, [])
    bare = SurveyCycle(**{**CYCLE.__dict__, "interim_releases": (), "approval_deadline": None})
    message = cycle_to_proto(bare)
    assert not message.HasField("approval_deadline")
    assert cycle_from_proto(message) == (bare, [])


def test_an_empty_message_reports_every_required_field_once():
    cycle, errors = cycle_from_proto(registry_pb2.SurveyCycle())
    assert errors == []  # nothing is out of range; validation says what is missing
    assert [e.field for e in validated_cycle_errors(cycle, errors)] == [
        "cycle.cycle_id",
        "cycle.name",
        "cycle.instrument_id",
        "cycle.instrument_version",
        "cycle.site_ids",
        "cycle.opens_at",
        "cycle.closes_at",
    ]


def test_an_out_of_range_timestamp_is_one_error_beside_the_others():
    message = cycle_to_proto(CYCLE)
    message.cycle_id = ""
    message.interim_releases[0].seconds = 10**12
    cycle, errors = cycle_from_proto(message)
    assert [e.field for e in errors] == ["cycle.interim_releases[0]"]
    assert [e.field for e in validated_cycle_errors(cycle, errors)] == [
        "cycle.interim_releases[0]",
        "cycle.cycle_id",
    ]


def test_registry_checks_pass_through():
    message = cycle_to_proto(CYCLE)
    cycle, errors = cycle_from_proto(message)
    assert validated_cycle_errors(
        cycle, errors, sites={"site-north"}, instruments={("jedi-culture", 1)}
    ) == [FieldError("cycle.site_ids[1]", "site 'site-south' is not registered (PutSite first)")]


def test_cycle_records():
    value = cycle_to_proto(CYCLE).SerializeToString()
    assert decode_cycle_record(cycle_key("2026"), value) == CYCLE
    assert decode_cycle_record(b"2026", None) == Removed("2026")
    assert isinstance(decode_cycle_record(None, None), Unreadable)
    assert isinstance(decode_cycle_record(b"x", b"\xff\xff"), Unreadable)
    invalid = cycle_to_proto(CYCLE)
    invalid.ClearField("site_ids")
    unreadable = decode_cycle_record(b"2026", invalid.SerializeToString())
    assert isinstance(unreadable, Unreadable) and "cycle.site_ids" in unreadable.reason
