"""Each row's event id comes from the survey tool's response id, keyed; exports without one
are refused; REDCap checkboxes are ignored by their base name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import main
from services.cli.exports import read_export
from services.cli.mapping import MappingError, SurveyMapping, plan_columns
from services.cli.mapping_init import initial_mapping, report
from services.cli.survey_csv import read_rows
from shared.domain.response_keys import response_event_id
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.unit.cli.test_survey_rows import NOW, SAMPLES, keyer

CSV_MAPPING = SurveyMapping(
    site_id="site-north",
    instrument_id="jedi-culture",
    instrument_version=1,
    wave="baseline",
    columns={"RespID": "response_id", "EndDate": "submitted_at"},
)


def ids(path: Path, mapping: SurveyMapping) -> list[str]:
    export = read_export(path, keyer=keyer, response_id_column=mapping.response_id_column)
    plan = plan_columns(export, mapping, JEDI_CULTURE)
    return [row.event_id for row in read_rows(export, plan, mapping, JEDI_CULTURE, now=NOW)]


def test_event_ids_follow_the_response_not_the_row_nor_the_other_columns(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("RespID,EndDate,BEL1\nA7,2025-10-01 09:00:00,4\nB8,2025-10-01 10:00:00,5\n")
    first = ids(path, CSV_MAPPING)
    assert first == [keyer(["A7"]), keyer(["B8"])]
    path.write_text(
        "Q_RecaptchaScore,BEL1,EndDate,RespID\n"
        "1,5,2025-10-01 10:00:00,B8\n1,3,2025-10-01 11:00:00,C9\n1,4,2025-10-01 09:00:00,A7\n"
    )
    mapping = SurveyMapping(**{**CSV_MAPPING.__dict__, "ignore": frozenset({"Q_RecaptchaScore"})})
    assert ids(path, mapping) == [first[1], keyer(["C9"]), first[0]]


def test_a_redcap_record_is_keyed_with_its_event_and_repeat_instance(tmp_path):
    path = tmp_path / "redcap.csv"
    path.write_text(
        "record_id,redcap_event_name,redcap_repeat_instance,jedi_culture_timestamp,bel1,"
        "jedi_culture_complete\n"
        "7,baseline_arm_1,,2025-10-01 09:00:00,4,2\n"
        "7,followup_arm_1,1,2025-10-02 09:00:00,4,2\n"
        "7,followup_arm_1,2,2025-10-03 09:00:00,4,2\n"
    )
    mapping = SurveyMapping("site-north", "jedi-culture", 1, wave="baseline")
    assert ids(path, mapping) == [
        keyer(["7", "baseline_arm_1", ""]),
        keyer(["7", "followup_arm_1", "1"]),
        keyer(["7", "followup_arm_1", "2"]),
    ]


def test_blank_and_repeated_response_ids_are_errors_of_their_rows(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "RespID,EndDate,BEL1\nA7,2025-10-01 09:00:00,4\n,2025-10-01 10:00:00,5\n"
        "A7,2025-10-01 11:00:00,3\n"
    )
    export = read_export(path, keyer=keyer, response_id_column="RespID")
    plan = plan_columns(export, CSV_MAPPING, JEDI_CULTURE)
    rows = list(read_rows(export, plan, CSV_MAPPING, JEDI_CULTURE, now=NOW))
    assert rows[0].errors == []
    assert [(e.field, e.reason) for e in rows[1].errors] == [
        ("RespID", "is blank: every response needs its survey-tool id")
    ]
    assert [(e.field, e.reason) for e in rows[2].errors] == [
        ("RespID", "repeats the response id of row 1: one row per response (RespID)")
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("EndDate,BEL1", "call the column 'response_id', or name the column holding it"),
        (
            "record_id_x,jedi_culture_complete,jedi_culture_timestamp,bel1",
            "REDCap writes it as 'record_id'",
        ),
    ],
)
def test_a_survey_export_without_a_response_id_is_refused_naming_the_column(
    tmp_path, header, expected
):
    path = tmp_path / "export.csv"
    path.write_text(
        header
        + "\n"
        + ",".join(["2025-10-01 09:00:00", "4", "x", "y"][: header.count(",") + 1])
        + "\n"
    )
    export = read_export(path, keyer=keyer)
    mapping = SurveyMapping(
        "site-north", "jedi-culture", 1, wave="baseline", ignore=frozenset({"record_id_x"})
    )
    with pytest.raises(MappingError) as raised:
        plan_columns(export, mapping, JEDI_CULTURE)
    [error] = [e for e in raised.value.errors if e.field == "response_id"]
    assert expected in error.reason and '"COLUMN": "response_id"' in error.reason


def test_a_qualtrics_export_without_response_id_is_refused_naming_response_id(tmp_path):
    lines = (SAMPLES / "qualtrics_culture.csv").read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    at = header.index("ResponseId")
    path = tmp_path / "no_ids.csv"
    path.write_text(
        "\n".join(",".join(c for i, c in enumerate(_cells(line)) if i != at) for line in lines)
    )
    export = read_export(path, keyer=keyer)
    mapping = SurveyMapping.from_file(SAMPLES / "qualtrics_culture_mapping.json")
    with pytest.raises(MappingError) as raised:
        plan_columns(export, mapping, JEDI_CULTURE)
    [error] = [e for e in raised.value.errors if e.field == "response_id"]
    assert "Qualtrics writes it as 'ResponseId'" in error.reason


def _cells(line: str) -> list[str]:
    import csv

    [cells] = list(csv.reader([line]))
    return [f'"{c}"' if "," in c or '"' in c else c for c in (c.replace('"', '""') for c in cells)]


def test_a_redcap_checkbox_field_is_ignored_by_its_base_name():
    mapping = SurveyMapping.from_file(SAMPLES / "redcap_culture_mapping.json")
    columns = {k: v for k, v in mapping.columns.items() if k != "race"}
    ignoring = SurveyMapping(
        **{**mapping.__dict__, "columns": columns, "ignore": frozenset({"race"})}
    )
    export = read_export(SAMPLES / "redcap_culture.csv", keyer=keyer)
    plan = plan_columns(export, ignoring, JEDI_CULTURE)
    assert [c for c in plan.ignored] == [f"race___{code}" for code in "123456"]
    assert not plan.checkboxes


def test_mapping_init_proposes_a_plain_csv_id_column_or_says_to_name_one(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Response ID,EndDate,BEL1\nA7,2025-10-01 09:00:00,4\n")
    document = initial_mapping(read_export(path), JEDI_CULTURE, None, site_id="site-north")
    assert document["columns"]["Response ID"] == "response_id"
    path.write_text("EndDate,BEL1\n2025-10-01 09:00:00,4\n")
    document = initial_mapping(read_export(path), JEDI_CULTURE, None, site_id="site-north")
    assert any("response_id: no column found" in line for line in report(document, path))


def test_push_without_a_response_key_says_how_to_create_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JEDI_RESPONSE_KEY_FILE", raising=False)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"site_id": "site-north", "instrument_id": "jedi-culture", "instrument_version": 1}
        )
    )
    status = main(
        [
            "push",
            "survey",
            str(SAMPLES / "qualtrics_culture.csv"),
            "--mapping",
            str(mapping),
            "--api-key",
            "unused",
            "--address",
            "127.0.0.1:1",
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    expected = tmp_path / "config" / "jedi" / "response-keys" / "site-north.key"
    assert f"no response key for site 'site-north' at {expected}" in err, err
    assert "jedi response-key create --site site-north" in err


def test_response_key_create_writes_a_private_key_once(tmp_path, capsys):
    path = tmp_path / "keys" / "site-north.key"
    assert main(["response-key", "create", "--site", "site-north", "--file", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_text().strip()) == 64
    before = path.read_text()
    assert main(["response-key", "create", "--site", "site-north", "--file", str(path)]) == 2
    assert path.read_text() == before and "exists: keep using it" in capsys.readouterr().err
    assert response_event_id  # the key is what response_event_id takes (see test_response_keys)
