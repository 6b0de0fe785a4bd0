"""Reads a survey tool's CSV export into anonymous survey responses.

The export has a header row: item codes of the instrument (`BEL1`, `PSY3`, ...) and a few
descriptive columns. A small JSON mapping file says what the rest mean:

    {
      "site_id": "site-north", "instrument_id": "jedi-culture", "instrument_version": 1,
      "wave": "baseline", "source_system": "qualtrics",
      "columns": {"EndDate": "submitted_at", "Q_Role": "role", "Q_Dept": "department",
                  "Q_URiM": "group:urim", "Q7_1": "item:BEL1", "Q_Disc": "experienced_discrimination"},
      "values": {"role": {"Resident physician": "resident"}},
      "ignore": ["Progress", "Finished"]
    }

Columns named like a field or an item code need no entry. A column that is neither mapped
nor ignored is an error (nothing is dropped silently), and a column that could identify a
respondent refuses the whole file. Each row becomes a response or a list of row errors.
The event id of a row is derived from the file's content and the row number, so uploading
the same file again is answered with duplicates, never counted twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping

from shared.domain.model import Department, GroupDimension, Role, SurveyResponse, Wave
from shared.domain.validation import FieldError, identifying_column_errors

_EVENT_NAMESPACE = uuid.UUID("6b1d3c2e-2f43-4e0e-9a57-3d1f0c9e1a42")
_DIRECT_FIELDS = {"role", "department", "submitted_at", "wave", "experienced_discrimination",
                  "witnessed_discrimination"}
_LIKERT_LABELS = {
    "strongly disagree": 1, "disagree": 2, "neither agree nor disagree": 3, "neutral": 3,
    "agree": 4, "strongly agree": 5,
}
_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n"}


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
    source_system: str = "csv-upload"
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()

    @classmethod
    def from_file(cls, path: Path, **overrides) -> "SurveyMapping":
        document = json.loads(Path(path).read_text()) if path else {}
        document.update({key: value for key, value in overrides.items() if value is not None})
        missing = [name for name in ("site_id", "instrument_id", "instrument_version") if not document.get(name)]
        if missing:
            raise MappingError([FieldError(name, "is required in the mapping file or as an option")
                                for name in missing])
        return cls(
            site_id=document["site_id"],
            instrument_id=document["instrument_id"],
            instrument_version=int(document["instrument_version"]),
            wave=document.get("wave"),
            source_system=document.get("source_system", "csv-upload"),
            columns=document.get("columns", {}),
            values=document.get("values", {}),
            ignore=frozenset(document.get("ignore", ())),
        )


@dataclass(frozen=True)
class RowOutcome:
    row_number: int  # 1-based data row (the header is row 0)
    event_id: str
    response: SurveyResponse | None
    errors: list[FieldError]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_event_id(digest: str, row_number: int) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{digest}:{row_number}"))


def column_targets(header: list[str], mapping: SurveyMapping, item_codes: set[str]) -> dict[str, str]:
    """What each column means (`role`, `item:BEL1`, `group:urim`, ...); raises MappingError."""
    errors = identifying_column_errors(header)
    targets: dict[str, str] = {}
    for column in header:
        if column in mapping.ignore or any(e.field == column for e in errors):
            continue
        target = mapping.columns.get(column)
        if target is None:
            if column in item_codes:
                target = f"item:{column}"
            elif column in _DIRECT_FIELDS or column in {d.value for d in GroupDimension}:
                target = column if column in _DIRECT_FIELDS else f"group:{column}"
            else:
                errors.append(FieldError(column, "unknown column: map it in the mapping file or ignore it"))
                continue
        if target.startswith("item:") and target[5:] not in item_codes:
            errors.append(FieldError(column, f"maps to {target[5:]!r}, not an item of the instrument"))
            continue
        targets[column] = target
    if "submitted_at" not in targets.values():
        errors.append(FieldError("submitted_at", "no column gives when each response was submitted"))
    if mapping.wave is None and "wave" not in targets.values():
        errors.append(FieldError("wave", "give the wave in the mapping file, as an option or as a column"))
    if errors:
        raise MappingError(errors)
    return targets


def read_rows(
    rows: Iterator[dict[str, str]], targets: dict[str, str], mapping: SurveyMapping, digest: str
) -> Iterator[RowOutcome]:
    for row_number, row in enumerate(rows, start=1):
        event_id = row_event_id(digest, row_number)
        errors: list[FieldError] = []
        response = _response(row, targets, mapping, event_id, errors)
        yield RowOutcome(row_number, event_id, None if errors else response, errors)


def _response(row, targets, mapping, event_id, errors) -> SurveyResponse | None:
    values: dict[str, object] = {"wave": mapping.wave}
    answers: dict[str, int | None] = {}
    groups: dict[GroupDimension, str] = {}
    for column, target in targets.items():
        raw = (row.get(column) or "").strip()
        raw = mapping.values.get(target, {}).get(raw, raw)
        if target.startswith("item:"):
            answers[target[5:]] = _likert(raw, column, errors)
        elif target.startswith("group:"):
            if raw:
                groups[GroupDimension(target[6:])] = raw.lower().replace(" ", "_")
        elif target in ("experienced_discrimination", "witnessed_discrimination"):
            values[target] = _yes_no(raw, column, errors)
        else:
            values[target] = raw
    enums = {"wave": Wave, "role": Role, "department": Department}
    for name, enum in enums.items():
        raw = values.get(name)
        try:
            values[name] = enum(str(raw).strip().lower().replace(" ", "_").replace("-", "_"))
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            errors.append(FieldError(name, f"{raw!r} is not one of: {allowed}"))
    submitted_at = _timestamp(str(values.get("submitted_at", "")), errors)
    if errors:
        return None
    return SurveyResponse(
        event_id=event_id, site_id=mapping.site_id, instrument_id=mapping.instrument_id,
        instrument_version=mapping.instrument_version, wave=values["wave"], role=values["role"],
        department=values["department"], submitted_at=submitted_at,
        source_system=mapping.source_system, answers=answers, groups=groups,
        experienced_discrimination=values.get("experienced_discrimination"),
        witnessed_discrimination=values.get("witnessed_discrimination"),
    )


def _likert(raw: str, column: str, errors: list[FieldError]) -> int | None:
    if raw == "":
        return None
    label = _LIKERT_LABELS.get(raw.lower())
    if label is not None:
        return label
    try:
        return int(raw)
    except ValueError:
        errors.append(FieldError(column, f"{raw!r} is not a Likert answer (1..5, a label, or blank)"))
        return None


def _yes_no(raw: str, column: str, errors: list[FieldError]) -> bool | None:
    lowered = raw.lower()
    if lowered == "":
        return None
    if lowered in _YES or lowered in _NO:
        return lowered in _YES
    errors.append(FieldError(column, f"{raw!r} is not yes, no or blank"))
    return None


def _timestamp(raw: str, errors: list[FieldError]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        errors.append(FieldError("submitted_at", f"{raw!r} is not an ISO 8601 date and time"))
        return None
    # Survey tools export local times without an offset; UTC is the documented assumption.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
