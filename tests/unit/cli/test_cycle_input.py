"""`jedi cycle create`'s input: a JSON file, flags, or both (flags win)."""

from __future__ import annotations

import json

import pytest

from services.cli import build_parser
from services.cli.cycles import BadCycleInput, cycle_message, cycles_table, describe_cycle


def parse(*argv: str):
    return build_parser().parse_args(["cycle", "create", "--api-key", "k", *argv])


FLAGS = (
    "--id=2026",
    "--name=2026 culture survey",
    "--instrument=jedi-culture@1",
    "--sites=site-north, site-south",
    "--opens=2026-03-01T00:00:00Z",
    "--closes=2026-05-01T00:00:00Z",
    "--release=2026-04-01T00:00:00Z",
    "--approval-deadline=2026-05-15T00:00:00Z",
)


def test_flags_make_the_whole_cycle():
    message = cycle_message(parse(*FLAGS))
    assert message.cycle_id == "2026"
    assert (message.instrument_id, message.instrument_version) == ("jedi-culture", 1)
    assert list(message.site_ids) == ["site-north", "site-south"]
    assert [t.ToJsonString() for t in message.interim_releases] == ["2026-04-01T00:00:00Z"]
    assert message.approval_deadline.ToJsonString() == "2026-05-15T00:00:00Z"
    text = describe_cycle(message)
    assert "jedi-culture@1" in text and "  site-south" in text
    assert "2026 culture survey" in cycles_table([message])


def test_a_flag_replaces_that_field_of_the_file(tmp_path):
    path = tmp_path / "cycle.json"
    path.write_text(
        json.dumps(
            {
                "cycleId": "2025",
                "name": "2025 culture survey",
                "instrument_id": "jedi-culture",
                "instrument_version": 1,
                "siteIds": ["site-north"],
                "opens_at": "2025-03-01T00:00:00Z",
                "closes_at": "2025-05-01T00:00:00Z",
                "interim_releases": ["2025-04-01T00:00:00Z"],
            }
        )
    )
    message = cycle_message(parse("--file", str(path), "--id=2025b", "--no-releases"))
    assert message.cycle_id == "2025b"
    assert message.name == "2025 culture survey"
    assert list(message.site_ids) == ["site-north"]
    assert not message.interim_releases
    assert not message.HasField("approval_deadline")


@pytest.mark.parametrize(
    "argv",
    [("--instrument=jedi-culture",), ("--opens=next tuesday",), ("--instrument=x@one",)],
)
def test_bad_flags_are_input_errors(argv):
    with pytest.raises(BadCycleInput):
        cycle_message(parse(*argv))


def test_a_file_that_is_not_a_cycle_is_an_input_error(tmp_path):
    path = tmp_path / "cycle.json"
    path.write_text('{"colour": "blue"}')
    with pytest.raises(BadCycleInput, match="colour"):
        cycle_message(parse("--file", str(path)))
    path.write_text("[1, 2]")
    with pytest.raises(BadCycleInput, match="JSON object"):
        cycle_message(parse("--file", str(path)))
