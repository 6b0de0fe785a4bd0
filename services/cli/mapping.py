"""The mapping file: what each column of a survey export means.

    {
      "site_id": "site-north", "instrument_id": "jedi-culture", "instrument_version": 1,
      "wave": "baseline", "cycle": "2026", "source_system": "qualtrics",
      "timezone": "America/New_York",
      "columns": {"EndDate": "submitted_at", "Q_Role": "role", "Q_Dept": "department",
                  "Q_URiM": "group:urim", "Q7_1": "item:BEL1", "Q_Disc": "experienced_discrimination"},
      "values": {"role": {"Resident physician": "resident"}},
      "ignore": ["Q_Comments_Topic"]
    }

Every survey export needs the column holding each response's id in the survey tool, the
target `response_id`: Qualtrics `ResponseId` and REDCap `record_id` (with
`redcap_event_name` / `redcap_repeat_instrument` / `redcap_repeat_instance` where present) are
taken without an entry, a plain CSV's column named `response_id` too; any other column must be
named (`"RespID": "response_id"`). Its value is turned into the event id with the site's
response key and dropped like every identifying column: it is what makes an export uploaded
again count each response once. A file without one is refused.

Targets: `item:CODE` (CODE an item of the registered instrument version), `group:DIMENSION`
(urim, gender_identity, first_generation, disability, lgbtq, rural_background), `role`,
`department`, `submitted_at`, `wave`, `experienced_discrimination`, `witnessed_discrimination`.
A REDCap checkbox field is mapped, or listed under `ignore`, by its name (`"race": "group:urim"`
or `"ignore": ["race"]` for `race___1` .. `race___6`). `values` translates a target's answers (labels, or codes) to the platform's
values, before they are read. `cycle` (optional; `jedi push --cycle` overrides it) names
the registered survey cycle every response of the file belongs to: ingest then refuses a
response of a site not taking part, of another instrument version or submitted outside the
cycle's window. `timezone` is the zone the export's dates are written in
(default UTC, with a warning); `include_incomplete` (REDCap) also takes rows whose
`*_complete` status is not 2.

Columns needing no entry: those named like an item code (any case) or a target; the survey
tool's own columns (Qualtrics `StartDate`, `Status`, `Progress`, `Finished`, ...; REDCap
`*_timestamp`, `*_complete`, `redcap_*`); and identifying columns (e-mail, names, IP address,
location, recipient fields, response and record ids), which are dropped while reading and
may only be listed under `ignore`. Any other column is an error, as is a mapping that points
at an identifying column, at a column the file does not have, or at an unknown item:
nothing is sent from a file whose mapping is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.cli.exports import (
    CSV_RESPONSE_ID,
    QUALTRICS_RESPONSE_ID,
    REDCAP_RECORD_ID,
    Export,
    ExportFormat,
)
from services.cli.redcap import CHECKBOX
from shared.domain.model import GroupDimension, Instrument
from shared.domain.validation import FieldError, explain_identifying_column

DIRECT_FIELDS = frozenset(
    {
        "role",
        "department",
        "submitted_at",
        "wave",
        "experienced_discrimination",
        "witnessed_discrimination",
    }
)
RESPONSE_ID = "response_id"
GROUP_TARGETS = frozenset(f"group:{dimension.value}" for dimension in GroupDimension)
_KEYS = {
    "site_id",
    "instrument_id",
    "instrument_version",
    "wave",
    "cycle",
    "source_system",
    "timezone",
    "columns",
    "values",
    "ignore",
    "include_incomplete",
    "survey_tool_columns",
    "dropped",
}  # the last two: informational, written by `jedi mapping init`
QUALTRICS_COLUMNS = frozenset(
    {
        "StartDate",
        "EndDate",
        "Status",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "RecordedDate",
        "DistributionChannel",
        "UserLanguage",
        "Q_RecaptchaScore",
        "Q_RelevantIDDuplicate",
        "Q_RelevantIDDuplicateScore",
        "Q_RelevantIDFraudScore",
        "Q_RelevantIDLastStartDate",
        "Q_TotalDuration",
        "Q_BallotBoxStuffing",
    }
)
_REDCAP_TOOL = re.compile(r"^(redcap_[a-z_]+|[a-z][a-z0-9_]*_(timestamp|complete))$")


class MappingError(ValueError):
    """The export and its mapping cannot be read as a whole; nothing is uploaded."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class SurveyMapping:
    site_id: str
    instrument_id: str
    instrument_version: int
    wave: str | None = None
    # The registered survey cycle each response names; None: the responses name none.
    cycle: str | None = None
    source_system: str = "csv-upload"
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    timezone: str | None = None
    include_incomplete: bool = False

    @property
    def response_id_column(self) -> str | None:
        """The column the mapping names as the survey tool's response id, if any."""
        return next((c for c, t in self.columns.items() if t == RESPONSE_ID), None)

    @classmethod
    def from_file(cls, path: Path | None, **overrides: Any) -> SurveyMapping:
        document: dict[str, Any] = {}
        if path is not None:
            try:
                document = json.loads(Path(path).read_text(encoding="utf-8-sig"))
            except json.JSONDecodeError as error:
                raise MappingError([FieldError(str(path), f"is not JSON: {error}")]) from None
            if not isinstance(document, dict):
                raise MappingError([FieldError(str(path), "must hold one JSON object")])
        document.update({key: value for key, value in overrides.items() if value is not None})
        errors = [
            FieldError(key, f"unknown key in the mapping file (known: {', '.join(sorted(_KEYS))})")
            for key in document
            if key not in _KEYS
        ]
        errors += [
            FieldError(name, "is required in the mapping file or as an option")
            for name in ("site_id", "instrument_id", "instrument_version")
            if not document.get(name)
        ]
        cycle = document.get("cycle")
        if cycle is not None and (not isinstance(cycle, str) or not cycle.strip()):
            errors.append(
                FieldError(
                    "cycle",
                    f'must be a registered cycle\'s id, as a string ("cycle": "2026"), '
                    f"not {cycle!r}",
                )
            )
        if document.get("timezone"):
            try:
                ZoneInfo(document["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(
                    FieldError(
                        "timezone",
                        f"unknown time zone {document['timezone']!r} "
                        "(an IANA name such as America/Chicago)",
                    )
                )
        if errors:
            raise MappingError(errors)
        return cls(
            site_id=document["site_id"],
            instrument_id=document["instrument_id"],
            instrument_version=int(document["instrument_version"]),
            wave=document.get("wave"),
            cycle=cycle.strip() if isinstance(cycle, str) else None,
            source_system=document.get("source_system", "csv-upload"),
            columns=document.get("columns", {}),
            values=document.get("values", {}),
            ignore=frozenset(document.get("ignore", ())),
            timezone=document.get("timezone"),
            include_incomplete=bool(document.get("include_incomplete", False)),
        )


@dataclass(frozen=True)
class ColumnPlan:
    """How each kept column of an export is read."""

    targets: Mapping[str, str]  # column -> target
    checkboxes: Mapping[
        str, tuple[str, tuple[tuple[str, str], ...]]
    ]  # field -> (target, ((column, code), ...))
    tool_columns: tuple[str, ...]  # the survey tool's own columns, not sent
    ignored: tuple[str, ...]

    def column_of(self, target: str) -> str | None:
        return next((column for column, t in self.targets.items() if t == target), None)


def is_tool_column(column: str, format: ExportFormat) -> bool:
    if format is ExportFormat.QUALTRICS:
        return column in QUALTRICS_COLUMNS
    if format is ExportFormat.REDCAP:
        return bool(_REDCAP_TOOL.match(column))
    return False


def guess_target(column: str, items: Mapping[str, str]) -> str | None:
    """The target a column's name implies: an item code (any case), a field or a group dimension."""
    if column.upper() in items:
        return f"item:{items[column.upper()]}"
    if column in DIRECT_FIELDS:
        return column
    if f"group:{column}" in GROUP_TARGETS:
        return f"group:{column}"
    return None


def plan_columns(export: Export, mapping: SurveyMapping, instrument: Instrument) -> ColumnPlan:
    """What each column means; raises MappingError with every problem at once."""
    items = {item.code.upper(): item.code for item in instrument.items}
    errors: list[FieldError] = []
    present = set(export.columns) | set(export.dropped)
    checkbox_fields = {m["field"] for c in export.columns if (m := CHECKBOX.match(c))}
    present |= set(export.key_columns)
    for column, target in mapping.columns.items():
        if target == RESPONSE_ID:
            if column not in present:
                errors.append(FieldError(column, "is in the mapping's columns but not in the file"))
        elif explain_identifying_column(column) is not None:
            errors.append(
                FieldError(
                    column,
                    f"the mapping maps it to {target!r}, but the column could identify "
                    f"a respondent ({explain_identifying_column(column)}): it is dropped "
                    "while reading; remove it from columns",
                )
            )
        elif column not in present and column not in checkbox_fields:
            errors.append(FieldError(column, "is in the mapping's columns but not in the file"))
        elif not _valid_target(target):
            errors.append(
                FieldError(
                    column,
                    f"{target!r} is not a target: write item:CODE, group:DIMENSION, "
                    f"{', '.join(sorted(DIRECT_FIELDS))}, or move the column to ignore",
                )
            )
        elif target.startswith("item:") and instrument.item(target[5:]) is None:
            errors.append(
                FieldError(
                    column,
                    f"maps to {target[5:]!r}, not an item of instrument "
                    f"{instrument.instrument_id!r} version {instrument.version}",
                )
            )
    targets: dict[str, str] = {}
    checkboxes: dict[str, list[tuple[str, str]]] = {}
    tool: list[str] = []
    ignored: list[str] = []
    for column in export.columns:
        match = CHECKBOX.match(column)
        if column in mapping.ignore or (match and match["field"] in mapping.ignore):
            ignored.append(column)
        elif column in mapping.columns:
            targets[column] = mapping.columns[column]
        elif match and match["field"] in mapping.columns:
            checkboxes.setdefault(match["field"], []).append((column, match["code"]))
        elif is_tool_column(column, export.format):
            tool.append(column)
        elif (guess := guess_target(column, items)) is not None:
            targets[column] = guess
        else:
            errors.append(
                FieldError(
                    column,
                    "unknown column: map it in the mapping file's columns or list it under ignore",
                )
            )
    _default_submitted_at(export, targets, tool)
    checkbox_plan = {
        name: (mapping.columns[name], tuple(cols)) for name, cols in checkboxes.items()
    }
    for name, (target, _) in checkbox_plan.items():
        if not target.startswith("group:"):
            errors.append(
                FieldError(name, f"a checkbox field maps to a group dimension, not {target!r}")
            )
    used = [t for t in targets.values()] + [t for t, _ in checkbox_plan.values()]
    errors += [
        FieldError(
            target,
            f"more than one column maps to {target}: "
            f"{', '.join(c for c, t in targets.items() if t == target)}",
        )
        for target in sorted(set(used))
        if used.count(target) > 1
    ]
    if "submitted_at" not in used:
        errors.append(
            FieldError(
                "submitted_at",
                "no column gives when each response was submitted: map one to submitted_at",
            )
        )
    if mapping.wave is None and "wave" not in used:
        errors.append(
            FieldError("wave", "give the wave in the mapping file, as an option or as a column")
        )
    if not any(t.startswith("item:") for t in used):
        errors.append(
            FieldError(
                "columns", f"no column maps to an item of instrument {instrument.instrument_id!r}"
            )
        )
    errors += _response_id_errors(export, mapping)
    if errors:
        raise MappingError(_unique(errors))
    return ColumnPlan(targets, checkbox_plan, tuple(tool), tuple(ignored))


def _response_id_errors(export: Export, mapping: SurveyMapping) -> list[FieldError]:
    named = [c for c, t in mapping.columns.items() if t == RESPONSE_ID]
    if len(named) > 1:
        return [
            FieldError(RESPONSE_ID, f"more than one column maps to response_id: {', '.join(named)}")
        ]
    if export.key_columns or named:
        return []  # a named column that is not in the file is reported with the other columns
    expected = {
        ExportFormat.QUALTRICS: f"Qualtrics writes it as {QUALTRICS_RESPONSE_ID!r}: export the "
        "responses again with that column, or name",
        ExportFormat.REDCAP: f"REDCap writes it as {REDCAP_RECORD_ID!r}: export the records "
        "again with that column, or name",
        ExportFormat.CSV: f"call the column {CSV_RESPONSE_ID!r}, or name",
    }[export.format]
    return [
        FieldError(
            RESPONSE_ID,
            "no column gives each response's id in the survey tool, which keeps a response one "
            "response however often its export is uploaded again; "
            f"{expected} the column holding it in the mapping's columns as "
            f'"COLUMN": "{RESPONSE_ID}" (it is keyed with the site\'s response key and never sent)',
        )
    ]


def _default_submitted_at(export: Export, targets: dict[str, str], tool: list[str]) -> None:
    """Qualtrics: EndDate; REDCap: the one survey timestamp column; unless a column is mapped."""
    if "submitted_at" in targets.values():
        return
    if export.format is ExportFormat.QUALTRICS:
        candidates = [c for c in tool if c == "EndDate"]
    elif export.format is ExportFormat.REDCAP:
        candidates = [c for c in tool if c.endswith("_timestamp")]
    else:
        return
    if len(candidates) == 1:
        tool.remove(candidates[0])
        targets[candidates[0]] = "submitted_at"


def _valid_target(target: object) -> bool:
    return isinstance(target, str) and (
        target in DIRECT_FIELDS
        or target == RESPONSE_ID
        or target in GROUP_TARGETS
        or (target.startswith("item:") and len(target) > 5)
    )


def _unique(errors: list[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))
