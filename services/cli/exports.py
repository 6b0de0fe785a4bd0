"""Reads a survey tool's CSV export as the tool writes it: Qualtrics, REDCap or a plain CSV.

- The file must be UTF-8 (a byte-order mark and CRLF line ends are fine; Qualtrics and
  REDCap write both). Another encoding is refused with the line of the first bad byte, unless
  it is named (`--encoding latin-1` reads a Latin-1 / Windows-1252 file correctly).
- *Qualtrics* writes three header rows: the column names, the question texts and a row of
  `{"ImportId": ...}` JSON. The second row is kept (as `question_texts`, for `jedi mapping
  init`); the third is skipped. A file whose third row is not ImportId JSON is not a Qualtrics
  export.
- *REDCap* writes one header row; `record_id` comes first and each instrument adds a
  `<form>_complete` status column.
- The format is detected when not given: the ImportId row means Qualtrics; a first column
  `record_id`, a `redcap_survey_identifier` or a `*_complete` column means REDCap; anything
  else is a plain CSV.

A column that could identify a respondent (`shared.domain.validation.explain_identifying_column`)
is dropped from each row as soon as the CSV parser yields the row: its values are never kept,
sent or logged; only its name is reported.

The survey tool's response id is one of them, read first: Qualtrics `ResponseId`; REDCap
`record_id` with `redcap_event_name`, `redcap_repeat_instrument` and `redcap_repeat_instance`
where present; in a plain CSV the column the mapping names `response_id` (which may also
override the tool's). As the parser yields a row, its id cells go to the caller's `keyer`
(the site's keyed hash, `shared.domain.response_keys`) and only what it returns is kept.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from shared.domain.validation import FieldError, explain_identifying_column


class ExportFormat(StrEnum):
    QUALTRICS = "qualtrics"
    REDCAP = "redcap"
    CSV = "csv"


class ExportError(ValueError):
    """The file cannot be read as a survey export; one FieldError per problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Export:
    format: ExportFormat
    columns: tuple[str, ...]  # the header without the dropped columns
    rows: tuple[tuple[str, ...], ...]  # data rows, cells in `columns` order
    dropped: tuple[str, ...]  # identifying columns but the key columns, dropped while reading
    question_texts: tuple[str, ...] = ()  # Qualtrics' second header row, in `columns` order
    header_rows: int = 1  # rows before the first data row
    # The columns a response's id in the survey tool is read from (dropped like the others);
    # () when the file has none.
    key_columns: tuple[str, ...] = ()
    # Per data row, what the keyer made of its id cells ("" when they were blank); () without
    # a keyer or key columns.
    row_keys: tuple[str, ...] = ()

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


_REDCAP_DICTIONARY_FIRST_COLUMN = "Variable / Field Name"
QUALTRICS_RESPONSE_ID = "ResponseId"
CSV_RESPONSE_ID = "response_id"  # a plain CSV's id column when the mapping names none
REDCAP_RECORD_ID = "record_id"
# What tells two rows of one REDCap record apart (longitudinal events, repeating instruments).
REDCAP_RECORD_QUALIFIERS = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
)
Keyer = Callable[[Sequence[str]], str]


def key_columns(header: Sequence[str], format: ExportFormat, named: str | None) -> tuple[str, ...]:
    """The columns a response's survey-tool id is read from, in order; () when there are none."""
    if format is ExportFormat.REDCAP or (named is None and REDCAP_RECORD_ID in header):
        first = named or REDCAP_RECORD_ID
        if first not in header:
            return ()
        return (first, *(c for c in REDCAP_RECORD_QUALIFIERS if c in header))
    first = named or (
        QUALTRICS_RESPONSE_ID if format is ExportFormat.QUALTRICS else CSV_RESPONSE_ID
    )
    return (first,) if first in header else ()


def decode(data: bytes, path: Path, encoding: str | None) -> str:
    """The file's text; a clear error for a file in another encoding than the one named."""
    name = encoding or "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        raise ExportError([FieldError("--encoding", f"unknown encoding {name!r}")]) from None
    if codecs.lookup(name).name == "utf-8":
        name = "utf-8-sig"  # Excel's and Qualtrics' byte-order mark is not part of the first column name
    try:
        return data.decode(name)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        hint = (
            (
                "save it again as 'CSV UTF-8', or name its encoding: --encoding latin-1 "
                "(Latin-1 / Windows-1252 files)"
            )
            if encoding is None
            else "name the encoding it was written in"
        )
        raise ExportError(
            [
                FieldError(
                    path.name,
                    f"is not {encoding or 'UTF-8'} text (byte 0x{data[error.start]:02x} on line {line}); {hint}",
                )
            ]
        ) from None


def read_export(
    path: Path,
    *,
    format: ExportFormat | None = None,
    encoding: str | None = None,
    response_id_column: str | None = None,
    keyer: Keyer | None = None,
) -> Export:
    data = Path(path).read_bytes()
    if not data.strip():
        raise ExportError([FieldError(path.name, "is empty: export the survey's responses again")])
    if data[:4] == b"PK\x03\x04":
        raise ExportError(
            [
                FieldError(
                    path.name,
                    "is an Excel workbook or a zip file, not CSV: export the responses as CSV",
                )
            ]
        )
    rows = _rows(decode(data, path, encoding), path)
    first = next(rows, None)
    if first is None:
        raise ExportError([FieldError(path.name, "is empty: export the survey's responses again")])
    header = [cell.strip() for cell in first]
    if header and header[0] == _REDCAP_DICTIONARY_FIRST_COLUMN:
        raise ExportError(
            [
                FieldError(
                    path.name,
                    "is a REDCap data dictionary, not a data export: pass it with --dictionary",
                )
            ]
        )
    head = list(itertools.islice(rows, 2))  # Qualtrics' question texts and ImportIds, or data rows
    detected = _detect(header, head)
    chosen = format or detected
    if format is not None and format is not detected and ExportFormat.CSV not in (format, detected):
        raise ExportError(
            [
                FieldError(
                    path.name,
                    f"looks like a {detected} export, not {format}: "
                    f"pass --format {detected} (or leave --format out)",
                )
            ]
        )
    if chosen is ExportFormat.QUALTRICS and detected is not ExportFormat.QUALTRICS:
        raise ExportError(
            [
                FieldError(
                    path.name,
                    "is not a Qualtrics export as Qualtrics writes it: its third row is "
                    "not the ImportId row (pass --format csv for a single header row)",
                )
            ]
        )
    if chosen is ExportFormat.REDCAP and detected is not ExportFormat.REDCAP:
        raise ExportError(
            [
                FieldError(
                    path.name,
                    "is not a REDCap export: it has no record_id, "
                    "redcap_survey_identifier or *_complete column",
                )
            ]
        )
    errors = [
        FieldError(path.name, f"column {name!r} appears more than once")
        for index, name in enumerate(header)
        if name and name in header[:index]
    ]
    if any(not name for name in header):
        errors.append(
            FieldError(path.name, f"column {header.index('') + 1} of the header has no name")
        )
    keys = key_columns(header, chosen, response_id_column)
    key_at = [header.index(name) for name in keys]
    keep = [
        index
        for index, name in enumerate(header)
        if explain_identifying_column(name) is None and name not in keys
    ]
    dropped = tuple(
        name for name in header if explain_identifying_column(name) is not None and name not in keys
    )
    row_keys: list[str] = []
    header_rows = 3 if chosen is ExportFormat.QUALTRICS else 1
    texts = tuple(head[0][index] for index in keep) if chosen is ExportFormat.QUALTRICS else ()
    kept: list[tuple[str, ...]] = []
    # Each row's identifying cells are removed as soon as the parser yields the row.
    for number, row in enumerate(
        itertools.chain(head[header_rows - 1 :], rows), start=header_rows + 1
    ):
        if len(row) != len(header):
            errors.append(
                FieldError(
                    path.name, f"line {number} has {len(row)} cells, the header {len(header)}"
                )
            )
            if len(errors) > 10:
                break
            continue
        kept.append(tuple(row[index] for index in keep))
        if keyer is not None and key_at:
            cells = [row[index].strip() for index in key_at]
            row_keys.append(keyer(cells) if cells[0] else "")
    if not kept and not errors:
        errors.append(FieldError(path.name, "has a header but no responses"))
    if errors:
        raise ExportError(errors)
    return Export(
        chosen,
        tuple(header[index] for index in keep),
        tuple(kept),
        dropped,
        texts,
        header_rows,
        keys,
        tuple(row_keys),
    )


def _rows(text: str, path: Path) -> Iterator[list[str]]:
    """The CSV rows of the text, blank lines left out; a clear error for text that is not CSV."""
    try:
        for row in csv.reader(io.StringIO(text, newline=""), strict=True):
            if any(cell.strip() for cell in row):
                yield row
    except csv.Error as error:
        raise ExportError([FieldError(path.name, f"is not readable as CSV: {error}")]) from None


def _detect(header: list[str], head: list[list[str]]) -> ExportFormat:
    if len(head) >= 2 and _is_import_id_row(head[1]):
        return ExportFormat.QUALTRICS
    lowered = [name.lower() for name in header]
    if (
        (lowered and lowered[0] == "record_id")
        or "redcap_survey_identifier" in lowered
        or any(name.endswith("_complete") for name in lowered)
    ):
        return ExportFormat.REDCAP
    return ExportFormat.CSV


def _is_import_id_row(row: list[str]) -> bool:
    cells = [cell for cell in row if cell.strip()]
    if not cells:
        return False
    try:
        return all("ImportId" in json.loads(cell) for cell in cells)
    except (ValueError, TypeError):
        return False
