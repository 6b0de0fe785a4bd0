"""The export mapping names the survey cycle (`"cycle": "2026"`), `jedi push --cycle` overrides
it, and every response read from the export carries it; a mapping naming none reads as before,
with the same event ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jedi.v1 import ingest_pb2
from services.cli import main, survey_push
from services.cli.mapping import MappingError, SurveyMapping
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.unit.cli.test_response_ids import ids
from tests.unit.cli.test_survey_rows import SAMPLES, outcomes, read

QUALTRICS = SAMPLES / "qualtrics_culture.csv"
MAPPING = json.loads((SAMPLES / "qualtrics_culture_mapping.json").read_text())


def mapping_file(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({**MAPPING, **changes}))
    return path


def test_the_mapping_names_the_cycle_and_every_response_carries_it(tmp_path):
    mapping = SurveyMapping.from_file(mapping_file(tmp_path, cycle="2026"))
    assert mapping.cycle == "2026"
    rows = outcomes(read(QUALTRICS), mapping)
    assert rows and {row.response.cycle_id for row in rows if row.response} == {"2026"}


def test_an_option_overrides_the_mappings_cycle(tmp_path):
    path = mapping_file(tmp_path, cycle="2026")
    assert SurveyMapping.from_file(path, cycle="2027").cycle == "2027"
    assert SurveyMapping.from_file(path, cycle=None).cycle == "2026"  # no option given
    assert SurveyMapping.from_file(mapping_file(tmp_path), cycle="2027").cycle == "2027"


def test_a_mapping_without_a_cycle_reads_as_before(tmp_path):
    plain = SurveyMapping.from_file(mapping_file(tmp_path))
    named = SurveyMapping.from_file(mapping_file(tmp_path, cycle="2026"))
    assert plain.cycle is None
    rows = outcomes(read(QUALTRICS), plain)
    assert {row.response.cycle_id for row in rows if row.response} == {None}
    # The cycle is not part of a response's event id: naming it later counts no response twice.
    assert ids(QUALTRICS, plain) == ids(QUALTRICS, named)


@pytest.mark.parametrize("cycle", [2026, "", "  ", ["2026"]])
def test_a_cycle_that_is_not_an_id_string_is_a_mapping_error(tmp_path, cycle):
    with pytest.raises(MappingError) as raised:
        SurveyMapping.from_file(mapping_file(tmp_path, cycle=cycle))
    [error] = raised.value.errors
    assert error.field == "cycle" and '"cycle": "2026"' in error.reason


def test_push_cycle_overrides_the_mapping_and_the_events_sent_carry_it(
    tmp_path, capsys, monkeypatch
):
    """`jedi push survey --check --cycle 2027`: ingest (stubbed here) is asked about events
    naming 2027; the file's summary says which cycle."""
    key = tmp_path / "site-north.key"
    assert main(["response-key", "create", "--site", "site-north", "--file", str(key)]) == 0

    async def instrument(*_args: object, **_kwargs: object):
        return JEDI_CULTURE

    judged: list[ingest_pb2.Event] = []

    async def judge(_arguments, rows, *, validate_only, bar=None):
        assert validate_only
        judged.extend(row.event for row in rows)

    monkeypatch.setattr(survey_push, "fetch_instrument", instrument)
    monkeypatch.setattr(survey_push, "_judge", judge)
    argv = [
        "push",
        "survey",
        str(QUALTRICS),
        "--mapping",
        str(mapping_file(tmp_path, cycle="2026")),
    ]
    argv += ["--check", "--response-key", str(key), "--api-key", "unused", "--cycle", "2027"]
    status = main(argv)
    assert status == 0, capsys.readouterr()
    assert judged and {event.survey_response.cycle_id for event in judged} == {"2027"}
    assert all(event.survey_response.HasField("cycle_id") for event in judged)
    assert "survey cycle: 2027" in capsys.readouterr().out
