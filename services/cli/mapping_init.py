"""`jedi mapping init EXPORT --instrument ID`: a starting mapping file for a survey export.

The column holding each response's id in the survey tool comes first under `columns`, as
`response_id` (Qualtrics `ResponseId`, REDCap `record_id`, or a plain CSV's column named like
an id); when none is found the report says to name one, as `jedi push` refuses a survey export
without it. Every column of the export is listed: under `columns` with a guess of its target (`"?"`
where there is none: edit those), under `survey_tool_columns` (read by the uploader itself,
never sent) or under `dropped` (could identify a respondent: dropped while reading). Guesses
come from the column's name (an item code or a field), Qualtrics' question text or the REDCap
dictionary's field label (matched against the registered instrument's item texts), and a few
keywords. For role, department and group columns, the answers found in the file that are not
already platform values are listed under `values` with a guess. The two informational lists
are ignored when the mapping is read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from services.cli.arguments import readable_file
from services.cli.exports import Export, ExportError, ExportFormat, read_export
from services.cli.instruments import InstrumentUnavailable, fetch_instrument
from services.cli.mapping import GROUP_TARGETS, RESPONSE_ID, guess_target, is_tool_column
from services.cli.push import add_connection_arguments
from services.cli.redcap import CHECKBOX, DataDictionary, read_dictionary
from shared.domain.model import GROUP_VALUES, Department, GroupDimension, Instrument, Role

UNKNOWN = "?"
_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"under.?represented|urim", "group:urim"),
    (r"gender", "group:gender_identity"),
    (r"first.?generation", "group:first_generation"),
    (r"disabilit", "group:disability"),
    (r"lgbt", "group:lgbtq"),
    (r"rural", "group:rural_background"),
    (r"experienced.*discriminat|discriminat.*experienced", "experienced_discrimination"),
    (r"witnessed.*discriminat|discriminat.*witnessed", "witnessed_discrimination"),
    (r"department|specialty|service line", "department"),
    (r"\brole\b|position|job (title|category)", "role"),
)
_ENUMS = {"role": Role, "department": Department}
# A plain CSV's column that looks like a response id: "RespID", "Response ID", "respondent_id", "id".
_ID_COLUMN = re.compile(
    r"^(resp(onse|ondent)?|record|submission|survey[ _-]?response)?[ _-]?id$", re.I
)


class MappingDocument(TypedDict):
    """The mapping file `jedi mapping init` writes: its guesses, UNKNOWN where the site decides."""

    site_id: str
    instrument_id: str
    instrument_version: int
    wave: str | None
    source_system: str
    timezone: str | None
    columns: dict[str, str]  # export column → target field
    values: dict[str, dict[str, str]]  # target field → raw answer → its value
    ignore: list[str]
    survey_tool_columns: list[str]
    dropped: list[str]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "mapping", help="write a starting mapping file for a survey export"
    )
    commands = parser.add_subparsers(dest="action", required=True)
    init = commands.add_parser(
        "init", help="guess a mapping from an export and the registered instrument"
    )
    init.add_argument("export", type=readable_file)
    init.add_argument("--instrument", required=True, help="the registered instrument's id")
    init.add_argument(
        "--instrument-version", type=int, default=0, help="default: the highest registered"
    )
    init.add_argument("--site", default=os.environ.get("JEDI_SITE_ID"), help="your site id")
    init.add_argument("--format", choices=[f.value for f in ExportFormat], help="default: detected")
    init.add_argument("--dictionary", type=readable_file, help="REDCap data dictionary (CSV)")
    init.add_argument("--encoding", help="the export's text encoding when it is not UTF-8")
    init.add_argument("--out", type=Path, default=Path("mapping.json"))
    init.add_argument("--force", action="store_true", help="overwrite --out")
    add_connection_arguments(init)
    init.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    if arguments.out.exists() and not arguments.force:
        print(
            f"jedi mapping init: {arguments.out} exists; pass --force to overwrite it",
            file=sys.stderr,
        )
        return 2
    if not arguments.api_key:
        print("jedi mapping init: no API key: pass --api-key or set JEDI_API_KEY", file=sys.stderr)
        return 2
    try:
        export = read_export(
            arguments.export,
            encoding=arguments.encoding,
            format=ExportFormat(arguments.format) if arguments.format else None,
        )
        dictionary = (
            read_dictionary(arguments.dictionary, arguments.encoding)
            if arguments.dictionary
            else None
        )
        instrument = asyncio.run(
            fetch_instrument(
                arguments.address,
                arguments.api_key,
                arguments.instrument,
                arguments.instrument_version,
                ca_file=arguments.ca_file,
            )
        )
    except ExportError as error:
        for problem in error.errors:
            print(f"jedi mapping init: {problem.field}: {problem.reason}", file=sys.stderr)
        return 2
    except InstrumentUnavailable as error:
        print(f"jedi mapping init: {error}", file=sys.stderr)
        return 2
    document = initial_mapping(export, instrument, dictionary, site_id=arguments.site)
    arguments.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    for line in report(document, arguments.out):
        print(line)
    return 0


def report(document: MappingDocument, out: Path) -> list[str]:
    """What `initial_mapping` guessed, and each thing left for the site to fill in."""
    unknown = [column for column, target in document["columns"].items() if target == UNKNOWN]
    unknown_values = [
        (target, raw)
        for target, guesses in document["values"].items()
        for raw, value in guesses.items()
        if value == UNKNOWN
    ]
    lines = [
        f"wrote {out}: {len(document['columns'])} columns mapped ({len(document['columns']) - len(unknown)} "
        f"guessed, {len(unknown)} to fill in), {len(document['survey_tool_columns'])} survey-tool columns, "
        f"{len(document['dropped'])} dropped, {len(unknown_values)} answer labels to fill in"
    ]
    for column, target in document["columns"].items():
        lines.append(
            f"  {column:<28} -> {target}"
            + (
                "   <- edit: an item:CODE, a field, or move it to ignore"
                if target == UNKNOWN
                else ""
            )
        )
    lines += [
        f"  {column:<28} dropped (could identify a respondent)" for column in document["dropped"]
    ]
    if RESPONSE_ID not in document["columns"].values():
        lines.append(
            "  response_id: no column found   <- edit: add the column holding each response's id "
            'in the survey tool to columns as "COLUMN": "response_id" (jedi push needs it)'
        )
    lines += [
        f"  values.{target}: {raw!r} -> ?   <- edit: the platform's value for this answer"
        for target, raw in unknown_values
    ]
    for key in ("site_id", "wave"):
        if document[key] in (None, UNKNOWN):
            lines.append(f"  {key}: not known   <- edit")
    lines.append(
        "  timezone: not set, dates will be read as UTC   <- edit: the time zone the export's dates "
        "are in (an IANA name such as America/New_York)"
    )
    return lines


def initial_mapping(
    export: Export,
    instrument: Instrument,
    dictionary: DataDictionary | None,
    *,
    site_id: str | None,
) -> MappingDocument:
    items = {item.code.upper(): item.code for item in instrument.items}
    # Only Qualtrics exports have question texts; other formats have none (an empty tuple).
    texts = dict(zip(export.columns, export.question_texts, strict=False))
    columns: dict[str, str] = {}
    if export.key_columns:
        columns[export.key_columns[0]] = RESPONSE_ID
    elif export.format is ExportFormat.CSV and (
        id_column := next(
            (c for c in (*export.dropped, *export.columns) if _ID_COLUMN.match(c.strip())), None
        )
    ):
        columns[id_column] = RESPONSE_ID
    tool: list[str] = []
    for column in export.columns:
        match = CHECKBOX.match(column)
        name = match["field"] if match and export.format is ExportFormat.REDCAP else column
        if name in columns:
            continue  # a checkbox field's further choices, or the response id
        if is_tool_column(column, export.format):
            tool.append(column)
            continue
        label = texts.get(column) or (dictionary.field_labels.get(name, "") if dictionary else "")
        columns[name] = guess_target(name, items) or _guess_from_text(label, instrument) or UNKNOWN
    if (
        export.format is ExportFormat.QUALTRICS
        and "EndDate" in tool
        and "submitted_at" not in columns.values()
    ):
        tool.remove("EndDate")
        columns["EndDate"] = "submitted_at"
    records = export.records()
    values: dict[str, dict[str, str]] = {}
    for column, target in columns.items():
        if target in _ENUMS or target in GROUP_TARGETS:
            found = sorted(
                {
                    (dictionary.label(column, r[column]) if dictionary else r[column]).strip()
                    for r in records
                    if r.get(column, "").strip()
                }
            )
            guesses = {
                raw: _guess_value(raw, target) for raw in found if not _is_value(raw, target)
            }
            if guesses:
                values[target] = guesses
    return {
        "site_id": site_id or UNKNOWN,
        "instrument_id": instrument.instrument_id,
        "instrument_version": instrument.version,
        "wave": _guess_wave(export, columns, instrument),
        "source_system": export.format.value
        if export.format is not ExportFormat.CSV
        else "csv-upload",
        "timezone": None,
        "columns": columns,
        "values": values,
        "ignore": [],
        "survey_tool_columns": tool,
        "dropped": [column for column in export.dropped if column not in columns],
    }


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _guess_from_text(text: str, instrument: Instrument) -> str | None:
    if not text:
        return None
    spoken = _words(text)
    for item in instrument.items:
        if item.text and _words(item.text) in spoken:
            return f"item:{item.code}"
    for pattern, target in _KEYWORDS:
        if re.search(pattern, spoken):
            return target
    return None


def _normalised(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def _is_value(raw: str, target: str) -> bool:
    if target in _ENUMS:
        return _normalised(raw) in {m.value for m in _ENUMS[target]}
    return _normalised(raw) in GROUP_VALUES[GroupDimension(target[6:])]


def _guess_value(raw: str, target: str) -> str:
    allowed = (
        [m.value for m in _ENUMS[target]]
        if target in _ENUMS
        else sorted(GROUP_VALUES[GroupDimension(target[6:])])
    )
    spoken = _words(raw).replace(" ", "_")
    if "prefer" in spoken and "prefer_not_to_say" in allowed:
        return "prefer_not_to_say"
    found = [(spoken.find(value), value) for value in allowed if value in spoken]
    return min(found)[1] if found else UNKNOWN


def _guess_wave(export: Export, columns: dict[str, str], instrument: Instrument) -> str | None:
    column = next((c for c, t in columns.items() if t == "submitted_at"), None)
    if not column:
        return None
    for record in export.records():
        try:
            moment = datetime.fromisoformat(record[column].strip()).replace(tzinfo=UTC)
        except ValueError:
            continue
        for window in instrument.waves:
            if window.opens_at <= moment < window.closes_at:
                return window.wave.value
    return None
