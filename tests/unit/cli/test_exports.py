"""Reading survey exports as the tools write them: formats, encodings, dropped columns, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.cli.exports import ExportError, ExportFormat, read_export

SAMPLES = Path(__file__).parents[2] / "fixtures" / "exports"


def problems(path: Path, **options) -> list[str]:
    with pytest.raises(ExportError) as raised:
        read_export(path, **options)
    return [f"{e.field}: {e.reason}" for e in raised.value.errors]


def test_a_qualtrics_export_as_written_bom_crlf_three_header_rows():
    raw = (SAMPLES / "qualtrics_culture.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    export = read_export(SAMPLES / "qualtrics_culture.csv")
    assert export.format is ExportFormat.QUALTRICS and export.header_rows == 3
    assert export.columns[0] == "StartDate"  # the byte-order mark is not part of the name
    assert len(export.rows) == 40
    assert export.question_texts[export.columns.index("Q1")] == "What is your current role?"
    assert export.key_columns == ("ResponseId",)  # read for the event id, then dropped
    assert set(export.dropped) == {
        "IPAddress",
        "RecipientLastName",
        "RecipientFirstName",
        "RecipientEmail",
        "ExternalReference",
        "LocationLatitude",
        "LocationLongitude",
        "Q7_TEXT",
    }
    kept = "\n".join(",".join(row) for row in export.rows)
    for identifying in (
        "203.0.113.",
        "@hospital.example.org",
        "R_01xQ7mP3vT9kLb2cD",
        "42.33",
        "EMP-44",
        "Dr. Lee",
    ):
        assert identifying not in kept


def test_a_redcap_export_is_detected_and_its_record_ids_dropped():
    export = read_export(SAMPLES / "redcap_culture.csv")
    assert (
        export.format is ExportFormat.REDCAP and export.header_rows == 1 and len(export.rows) == 30
    )
    assert export.key_columns == ("record_id",)  # read for the event id, then dropped
    assert set(export.dropped) == {"redcap_survey_identifier", "email", "comments"}
    assert "race___3" in export.columns and "record_id" not in export.columns


def test_a_plain_csv_is_csv_and_the_format_can_be_forced_only_where_it_fits(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("submitted_at,BEL1\n2025-10-01 09:00:00,4\n")
    assert read_export(plain).format is ExportFormat.CSV
    [problem] = problems(plain, format=ExportFormat.QUALTRICS)
    assert "not a Qualtrics export" in problem and "ImportId" in problem
    [problem] = problems(SAMPLES / "qualtrics_culture.csv", format=ExportFormat.REDCAP)
    assert "looks like a qualtrics export, not redcap" in problem


def test_latin1_is_refused_with_the_line_and_read_when_its_encoding_is_named():
    [problem] = problems(SAMPLES / "latin1_culture.csv")
    assert "is not UTF-8 text (byte 0xe9 on line 2)" in problem and "--encoding latin-1" in problem
    export = read_export(SAMPLES / "latin1_culture.csv", encoding="latin-1")
    assert export.records()[0]["role"] == "Résident" and export.records()[1]["role"] == "Infirmière"


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty"),
        (b"\r\n\r\n", "is empty"),
        (b"submitted_at,BEL1\r\n", "has a header but no responses"),
        (b"PK\x03\x04rest-of-a-workbook", "is an Excel workbook or a zip file, not CSV"),
        (
            b"Variable / Field Name,Form Name\nbel1,jedi\n",
            "is a REDCap data dictionary, not a data export",
        ),
        (b"a,b,a\n1,2,3\n", "column 'a' appears more than once"),
        (b"a,b\n1,2,3\n", "line 2 has 3 cells, the header 2"),
    ],
)
def test_bad_files_get_one_clear_line_each(tmp_path, content: bytes, expected: str):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    assert any(expected in problem for problem in problems(path)), problems(path)


def test_unknown_encoding_is_named(tmp_path):
    path = tmp_path / "export.csv"
    shutil.copy(SAMPLES / "latin1_culture.csv", path)
    assert problems(path, encoding="klingon") == ["--encoding: unknown encoding 'klingon'"]
