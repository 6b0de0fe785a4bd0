"""Turns the rows of a survey export into anonymous survey responses, checked as ingest will.

Each data row becomes a response, a skip (with the reason), or a list of every problem in
the row, named by column. Rules:

- Answers: 1..5, or a label (`Strongly agree`, ... as Qualtrics and REDCap write them), or
  blank (not answered); with a REDCap dictionary, a code is first read as its label.
- Role, department and group dimensions are optional: blank is "not answered".
- Dates without a time zone are in the mapping's `timezone` (default UTC).
- Qualtrics: survey previews, tests and spam (`Status`) are skipped. An unfinished response
  (`Finished` = False) is kept when it answered at least one item, and counted as unfinished
  in the summary; without an answered item it is skipped.
- REDCap: only rows whose `*_complete` status is 2 (Complete) are taken, unless the mapping
  says `include_incomplete`.
- Each response is validated against the registered instrument (items, wave, wave window,
  dates), the checks ingest makes, so a row's errors are known before anything is sent.

The event id of a row is its survey-tool id keyed with the site's response key (see
`shared.domain.response_keys`; `Export.row_keys`), so the same response has the same event id
in every export of the survey, however the rows are ordered and whatever columns were added:
ingest answers it as already sent, or, when its content changed, refuses it. A row whose id is
blank, or repeats an earlier row's, is an error of its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import Enum, StrEnum, auto
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from services.cli.exports import Export, ExportFormat
from services.cli.mapping import ColumnPlan, SurveyMapping
from services.cli.redcap import DataDictionary, checked, combine_checked, is_complete
from shared.domain.model import Department, GroupDimension, Instrument, Role, SurveyResponse, Wave
from shared.domain.validation import FieldError, index_instruments, validate_survey_response

LIKERT_LABELS = {
    "strongly disagree": 1,
    "disagree": 2,
    "neither agree nor disagree": 3,
    "neutral": 3,
    "agree": 4,
    "strongly agree": 5,
}
_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n"}
_QUALTRICS_SKIPPED_STATUS = {
    "survey preview": "survey preview",
    "1": "survey preview",
    "survey test": "survey test",
    "2": "survey test",
    "spam": "spam",
    "8": "spam",
    "preview spam": "spam",
    "9": "spam",
}
_PATH_KEY = re.compile(r'^survey_response\.answers\["(?P<code>[^"]+)"\]$')


@dataclass(frozen=True)
class RowOutcome:
    row_number: int  # 1-based data row (header rows not counted)
    event_id: str
    response: SurveyResponse | None
    errors: list[FieldError] = field(default_factory=list)
    skipped: str | None = None  # why the row is not taken (not an error)
    unfinished: bool = False


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(
    export: Export,
    plan: ColumnPlan,
    mapping: SurveyMapping,
    instrument: Instrument,
    *,
    now: datetime,
    dictionary: DataDictionary | None = None,
) -> Iterator[RowOutcome]:
    if not export.key_columns or len(export.row_keys) != len(export.rows):
        raise ValueError("the export was read without its response ids (read_export's keyer)")
    zone: tzinfo = ZoneInfo(mapping.timezone) if mapping.timezone else UTC
    registry = index_instruments([instrument])
    key_column = export.key_columns[0]
    first_row: dict[str, int] = {}  # event id -> the first row that has it
    for row_number, (record, event_id) in enumerate(
        zip(export.records(), export.row_keys, strict=True), start=1
    ):
        if not event_id:
            yield RowOutcome(
                row_number,
                "",
                None,
                [FieldError(key_column, "is blank: every response needs its survey-tool id")],
            )
            continue
        if (earlier := first_row.setdefault(event_id, row_number)) != row_number:
            yield RowOutcome(
                row_number,
                event_id,
                None,
                [
                    FieldError(
                        key_column,
                        f"repeats the response id of row {earlier}: "
                        f"one row per response ({', '.join(export.key_columns)})",
                    )
                ],
            )
            continue
        skipped = _skip_reason(export.format, record, mapping)
        if skipped:
            yield RowOutcome(row_number, event_id, None, skipped=skipped)
            continue
        unfinished = (
            export.format is ExportFormat.QUALTRICS
            and record.get("Finished", "").strip().lower() in _NO
        )
        errors: list[FieldError] = []
        response = _response(record, plan, mapping, event_id, zone, dictionary, errors)
        if unfinished and not any(v is not None for v in response.answers.values()):
            # Opened and left: not a response, whatever else the row holds.
            yield RowOutcome(row_number, event_id, None, skipped="unfinished, no item answered")
            continue
        reported = {error.field for error in errors}
        for error in validate_survey_response(response, registry, now=now):
            column = _column_of(error.field, plan)
            if column not in reported:
                errors.append(FieldError(column, error.reason))
        yield RowOutcome(
            row_number, event_id, None if errors else response, errors, unfinished=unfinished
        )


def _skip_reason(
    format: ExportFormat, record: Mapping[str, str], mapping: SurveyMapping
) -> str | None:
    if format is ExportFormat.QUALTRICS:
        return _QUALTRICS_SKIPPED_STATUS.get(record.get("Status", "").strip().lower())
    if format is ExportFormat.REDCAP and not mapping.include_incomplete:
        statuses = [value for column, value in record.items() if column.endswith("_complete")]
        if statuses and not all(is_complete(value) for value in statuses):
            return "not complete (REDCap status other than 2)"
    return None


def _response(
    record: Mapping[str, str],
    plan: ColumnPlan,
    mapping: SurveyMapping,
    event_id: str,
    zone: tzinfo,
    dictionary: DataDictionary | None,
    errors: list[FieldError],
) -> SurveyResponse:
    wave: Wave | None = None
    role: Role | None = None
    department: Department | None = None
    submitted_at: datetime | None = None
    has_wave_column = False
    discrimination: dict[str, bool | None] = {}  # experienced_… and witnessed_discrimination
    answers: dict[str, int | None] = {}
    groups: dict[GroupDimension, str] = {}
    for column, target in plan.targets.items():
        raw = (record.get(column) or "").strip()
        if dictionary is not None:
            raw = dictionary.label(column, raw)
        raw = mapping.values.get(target, {}).get(raw, raw)
        if target.startswith("item:"):
            answer = _likert(raw, column, errors)
            if answer is not _BAD:
                answers[target[5:]] = answer
        elif target.startswith("group:"):
            if raw:
                groups[GroupDimension(target[6:])] = _normalised(raw)
        elif target in ("experienced_discrimination", "witnessed_discrimination"):
            discrimination[target] = _yes_no(raw, column, errors)
        elif target == "submitted_at":
            submitted_at = _timestamp(raw, column, zone, errors)
        elif target == "wave":
            wave = _enum(raw, column, Wave, errors)
            has_wave_column = True
        elif target == "role":
            role = _enum(raw, column, Role, errors)
        elif target == "department":
            department = _enum(raw, column, Department, errors)
        else:
            raise KeyError(target)
    for field_name, (target, columns) in plan.checkboxes.items():
        dimension = GroupDimension(target[6:])
        chosen = []
        for column, code in columns:
            if checked(record.get(column, ""), column, errors):
                label = dictionary.choice_label(field_name, code) if dictionary else code
                chosen.append(_normalised(mapping.values.get(target, {}).get(label, label)))
        group = combine_checked(dimension, chosen, field_name, errors)
        if group is not None:
            groups[dimension] = group
    if not has_wave_column:
        wave = _enum(mapping.wave or "", "wave", Wave, errors)
    # An unreadable wave or time is None here: validate_survey_response reports it with the
    # other errors, and a row with errors is never sent.
    return SurveyResponse(
        event_id=event_id,
        site_id=mapping.site_id,
        instrument_id=mapping.instrument_id,
        instrument_version=mapping.instrument_version,
        wave=wave,  # type: ignore[arg-type]  # None only in a row with errors (see above)
        role=role,
        department=department,
        submitted_at=submitted_at,  # type: ignore[arg-type]  # None only in a row with errors (see above)
        source_system=mapping.source_system,
        answers=answers,
        groups=groups,
        experienced_discrimination=discrimination.get("experienced_discrimination"),
        witnessed_discrimination=discrimination.get("witnessed_discrimination"),
        cycle_id=mapping.cycle,
    )


def _column_of(path: str, plan: ColumnPlan) -> str:
    """The column a validation error's field path came from (the path itself when none did)."""
    if match := _PATH_KEY.match(path):
        return plan.column_of(f"item:{match['code']}") or path
    name = path.removeprefix("survey_response.")
    if name.startswith("groups"):
        return "group dimensions"
    if name == "answers":
        return "items"
    return plan.column_of(name) or name


class _Unreadable(Enum):
    """A Likert cell that could not be read (its error is in `errors`): not an answer, nor blank."""

    BAD = auto()


_BAD = _Unreadable.BAD
E = TypeVar("E", bound=StrEnum)


def _normalised(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def _likert(raw: str, column: str, errors: list[FieldError]) -> int | None | _Unreadable:
    """The answer 1..5, None (blank: not answered), or `_BAD` (reported in `errors`)."""
    if raw == "":
        return None
    if (label := LIKERT_LABELS.get(raw.lower())) is not None:
        return label
    try:
        return int(raw)
    except ValueError:
        errors.append(
            FieldError(
                column, f"{raw!r} is not a Likert answer (1..5, a label such as 'Agree', or blank)"
            )
        )
        return _BAD


def _yes_no(raw: str, column: str, errors: list[FieldError]) -> bool | None:
    lowered = raw.lower()
    if lowered == "":
        return None
    if lowered in _YES or lowered in _NO:
        return lowered in _YES
    errors.append(FieldError(column, f"{raw!r} is not yes, no or blank"))
    return None


def _enum(raw: str, column: str, enum: type[E], errors: list[FieldError]) -> E | None:
    if raw == "" and enum is not Wave:
        return None  # an optional question left blank: not answered
    try:
        return enum(_normalised(raw))
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        errors.append(
            FieldError(column, f"{raw!r} is not one of: {allowed} (translate it under values)")
        )
        return None


def _timestamp(raw: str, column: str, zone: tzinfo, errors: list[FieldError]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        errors.append(
            FieldError(
                column,
                f"{raw!r} is not a date and time the uploader can read "
                "(YYYY-MM-DD HH:MM[:SS], as Qualtrics and REDCap export it)",
            )
        )
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
