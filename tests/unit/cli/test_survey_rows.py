"""From export rows to responses: the mapping, every problem at once, and the tools' policies."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.cli.exports import read_export
from services.cli.mapping import MappingError, SurveyMapping, plan_columns
from services.cli.mapping_init import initial_mapping
from services.cli.redcap import combine_checked, read_dictionary
from services.cli.survey_csv import read_rows
from shared.domain.model import Department, GroupDimension, Role
from shared.domain.response_keys import response_event_id
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.domain.validation import FieldError

SAMPLES = Path(__file__).parents[2] / "fixtures" / "exports"
NOW = datetime(2026, 11, 20, tzinfo=UTC)
# The example of the mapping file's documentation, word for word.
DOCUMENTED = SurveyMapping(
    site_id="site-north",
    instrument_id="jedi-culture",
    instrument_version=1,
    wave="baseline",
    source_system="qualtrics",
    columns={
        "EndDate": "submitted_at",
        "Q_Role": "role",
        "Q_Dept": "department",
        "Q_URiM": "group:urim",
        "Q7_1": "item:BEL1",
        "Q_Disc": "experienced_discrimination",
    },
    values={"role": {"Resident physician": "resident"}},
)


KEY = bytes(range(32))


def keyer(parts):
    return response_event_id(
        KEY, site_id="site-north", instrument_id="jedi-culture", wave="baseline", parts=parts
    )


def read(path: Path, **options):
    return read_export(path, keyer=keyer, **options)


def export_of(tmp_path: Path, text: str):
    path = tmp_path / "export.csv"
    path.write_text(text)
    return read(path)


def outcomes(export, mapping, **options):
    plan = plan_columns(export, mapping, JEDI_CULTURE)
    return list(read_rows(export, plan, mapping, JEDI_CULTURE, now=NOW, **options))


def test_the_documented_mapping_reads_item_codes_from_the_instrument(tmp_path):
    export = export_of(
        tmp_path,
        "response_id,EndDate,Q_Role,Q_Dept,Q_URiM,Q7_1,Q_Disc,PSY2\n"
        "R_1,2025-10-01 09:00:00,Resident physician,medicine,yes,Agree,no,5\n",
    )
    [row] = outcomes(export, DOCUMENTED)
    assert row.errors == [] and row.event_id == keyer(["R_1"])
    assert "response_id" not in export.columns and export.key_columns == ("response_id",)
    response = row.response
    assert response.answers == {"BEL1": 4, "PSY2": 5} and response.role is Role.RESIDENT
    assert (
        response.groups == {GroupDimension.URIM: "yes"}
        and response.experienced_discrimination is False
    )
    assert response.submitted_at == datetime(2025, 10, 1, 9, tzinfo=UTC)


def test_every_mapping_problem_at_once_and_nothing_read(tmp_path):
    export = export_of(
        tmp_path,
        "EndDate,Q_Role,Mystery,Q7_1,Q9,RecipientEmail,Q_Disc,Q_Other\n"
        "2025-10-01 09:00:00,resident,x,4,5,a@b.org,no,faculty\n",
    )
    mapping = replace(
        DOCUMENTED,
        columns={
            **DOCUMENTED.columns,
            "Q9": "item:NOPE1",
            "RecipientEmail": "role",
            "Q_Extra": "department",
            "Q_Disc": "?",
            "Q_Other": "role",
        },
    )
    with pytest.raises(MappingError) as raised:
        plan_columns(export, mapping, JEDI_CULTURE)
    assert [(e.field, e.reason.split(":")[0].split(",")[0]) for e in raised.value.errors] == [
        ("Q_Dept", "is in the mapping's columns but not in the file"),
        ("Q_URiM", "is in the mapping's columns but not in the file"),
        ("Q_Disc", "'?' is not a target"),
        ("Q9", "maps to 'NOPE1'"),
        ("RecipientEmail", "the mapping maps it to 'role'"),
        ("Q_Extra", "is in the mapping's columns but not in the file"),
        ("Mystery", "unknown column"),
        ("role", "more than one column maps to role"),
        ("response_id", "no column gives each response's id in the survey tool"),
    ]
    assert "Q_Role, Q_Other" in raised.value.errors[-2].reason
    assert "call the column 'response_id'" in raised.value.errors[-1].reason


def test_a_row_reports_every_problem_at_once_named_by_column(tmp_path):
    export = export_of(
        tmp_path,
        "EndDate,Q_Role,Q_Dept,Q7_1,PSY2,response_id\n"
        "2027-06-01 09:00:00,astronaut,cardiology,9,Agree,a1\n"
        "01/10/2025 9:00,faculty,,4,,a2\n",
    )
    future, unreadable = outcomes(
        export,
        replace(
            DOCUMENTED,
            columns={
                k: v
                for k, v in DOCUMENTED.columns.items()
                if k in ("EndDate", "Q_Role", "Q_Dept", "Q7_1")
            },
        ),
    )
    assert future.response is None
    assert [e.field for e in future.errors] == ["Q_Role", "Q_Dept", "EndDate", "Q7_1"]
    assert "is in the future" in future.errors[2].reason and "Likert" in future.errors[3].reason
    assert [e.field for e in unreadable.errors] == ["EndDate"]
    assert "is not a date and time the uploader can read" in unreadable.errors[0].reason


def test_role_department_and_groups_are_optional(tmp_path):
    export = export_of(
        tmp_path,
        "response_id,EndDate,Q_Role,Q_Dept,Q_URiM,Q7_1,Q_Disc\n1,2025-10-01 09:00:00,,,,3,\n",
    )
    [row] = outcomes(export, DOCUMENTED)
    assert row.errors == []
    assert (row.response.role, row.response.department, row.response.groups) == (None, None, {})


def test_a_file_without_a_department_column_needs_no_department(tmp_path):
    export = export_of(
        tmp_path, "submitted_at,role,BEL1,response_id\n2025-10-01 09:00:00,nurse,5,x\n"
    )
    [row] = outcomes(export, replace(DOCUMENTED, columns={}))
    assert row.errors == [] and row.response.department is None and row.response.role is Role.NURSE


def test_qualtrics_policies_previews_unfinished_and_time_zone():
    export = read(SAMPLES / "qualtrics_culture.csv")
    mapping = SurveyMapping.from_file(SAMPLES / "qualtrics_culture_mapping.json")
    rows = outcomes(export, mapping)
    assert {r.row_number: r.skipped for r in rows if r.skipped} == {
        3: "survey preview",
        21: "unfinished, no item answered",
    }
    [unfinished] = [r for r in rows if r.unfinished]
    assert unfinished.row_number == 8 and unfinished.response is not None
    assert all(r.errors == [] for r in rows)
    first = rows[0].response
    assert first.submitted_at.utcoffset().total_seconds() == -4 * 3600  # New York, October: EDT
    assert first.source_system == "qualtrics"
    assert any(
        r.response and r.response.department is None for r in rows
    )  # blank department: not answered
    assert {r.response.department for r in rows if r.response} >= {
        Department.MEDICINE,
        Department.EMERGENCY,
    }


def test_redcap_dictionary_checkboxes_and_complete_status():
    export = read(SAMPLES / "redcap_culture.csv")
    mapping = SurveyMapping.from_file(SAMPLES / "redcap_culture_mapping.json")
    dictionary = read_dictionary(SAMPLES / "redcap_culture_dictionary.csv")
    rows = outcomes(export, mapping, dictionary=dictionary)
    assert [r.row_number for r in rows if r.skipped] == [5, 17, 23]
    assert all(r.errors == [] for r in rows) and len([r for r in rows if r.response]) == 27
    by_record = {r.row_number: r.response for r in rows if r.response}
    records = export.records()
    for number, response in by_record.items():
        checked = {code for code in "123456" if records[number - 1][f"race___{code}"] == "1"}
        expected = (
            "prefer_not_to_say"
            if checked == {"6"}
            else "yes"
            if checked & {"1", "3", "4"}
            else "no"
        )
        assert response.groups[GroupDimension.URIM] == expected, (number, checked)
    assert {r.groups.get(GroupDimension.GENDER_IDENTITY) for r in by_record.values()} <= {
        "woman",
        "man",
        "nonbinary",
        "prefer_not_to_say",
    }

    taken = outcomes(export, replace(mapping, include_incomplete=True), dictionary=dictionary)
    assert not any(r.skipped for r in taken)
    assert {e.field for r in taken for e in r.errors} == {
        "jedi_culture_timestamp"
    }  # "[not completed]"


def test_checked_choices_combine_into_one_value():
    urim, gender = GroupDimension.URIM, GroupDimension.GENDER_IDENTITY
    errors: list[FieldError] = []
    assert combine_checked(urim, ["no", "yes"], "race", errors) == "yes"
    assert combine_checked(urim, ["no", "prefer_not_to_say"], "race", errors) == "no"
    assert combine_checked(urim, ["prefer_not_to_say"], "race", errors) == "prefer_not_to_say"
    assert combine_checked(urim, [], "race", errors) is None and errors == []
    assert combine_checked(gender, ["woman", "nonbinary"], "gender", errors) is None
    assert [e.field for e in errors] == ["gender"] and "nonbinary, woman" in errors[0].reason


def test_mapping_file_problems(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps({"site_id": "s", "instrument_id": "i", "colums": {}, "timezone": "Mars/Olympus"})
    )
    with pytest.raises(MappingError) as raised:
        SurveyMapping.from_file(path)
    assert [e.field for e in raised.value.errors] == ["colums", "instrument_version", "timezone"]
    path.write_text("{not json")
    with pytest.raises(MappingError, match="is not JSON"):
        SurveyMapping.from_file(path)


def test_mapping_init_guesses_from_question_texts_and_marks_the_dropped_columns():
    export = read_export(SAMPLES / "qualtrics_culture.csv")
    document = initial_mapping(export, JEDI_CULTURE, None, site_id="site-north")
    assert (
        document["columns"]["Q4_1"] == "item:BEL1" and document["columns"]["Q4_24"] == "item:LEA4"
    )
    assert document["columns"]["Q1"] == "role" and document["columns"]["Q2"] == "department"
    assert (
        document["columns"]["Q3"] == "group:urim"
        and document["columns"]["EndDate"] == "submitted_at"
    )
    assert document["columns"]["Q5"] == "experienced_discrimination"
    assert "IPAddress" in document["dropped"] and "Finished" in document["survey_tool_columns"]
    assert next(iter(document["columns"].items())) == ("ResponseId", "response_id")
    assert document["values"]["role"]["Resident physician"] == "resident"
    assert document["values"]["department"]["Emergency Medicine"] == "emergency"
    assert document["wave"] == "baseline"
    listed = (
        set(document["columns"]) | set(document["dropped"]) | set(document["survey_tool_columns"])
    )
    # every column is listed
    assert listed == set(export.columns) | set(export.dropped) | set(export.key_columns)


def test_mapping_init_reads_redcap_labels_from_the_dictionary():
    export = read_export(SAMPLES / "redcap_culture.csv")
    dictionary = read_dictionary(SAMPLES / "redcap_culture_dictionary.csv")
    document = initial_mapping(export, JEDI_CULTURE, dictionary, site_id=None)
    assert document["site_id"] == "?" and document["columns"]["bel1"] == "item:BEL1"
    assert document["columns"]["record_id"] == "response_id"
    assert (
        document["columns"]["race"] == "?"
    )  # race is not a dimension of its own: the site decides
    assert document["columns"]["gender"] == "group:gender_identity"
    assert document["values"]["department"] == {
        "Internal Medicine": "medicine",
        "Emergency Medicine": "emergency",
    }
    assert "role" not in document["values"]  # Resident, Fellow, ... are platform values already
