"""REDCap specifics: the data dictionary, checkbox columns and the `*_complete` status.

The data dictionary is the CSV REDCap gives under *Project setup > Data dictionary*: one row
per field, with `Variable / Field Name`, `Field Type` and `Choices, Calculations, OR Slider
Labels` (`1, Strongly disagree | 2, Disagree | ...`). With it, a raw export's codes are read
as their labels, so a mapping's `values` can name the labels people see.

A checkbox field `race` is exported as one column per choice, `race___1` .. `race___6`,
holding 1/0 (raw) or Checked/Unchecked (labels). Mapped to a group dimension, its checked
choices together give the one value of that dimension (see `combine_checked`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.cli.exports import ExportError, decode
from shared.domain.model import PREFER_NOT_TO_SAY, REFERENCE_GROUP, GroupDimension
from shared.domain.validation import FieldError

CHECKBOX = re.compile(r"^(?P<field>[a-z][a-z0-9_]*?)___(?P<code>[A-Za-z0-9_-]+)$")
COMPLETE = "2"  # REDCap's "Complete" status: 0 incomplete, 1 unverified, 2 complete
_COMPLETE_LABEL = "complete"
_CHECKED = {"1", "checked"}
_UNCHECKED = {"0", "unchecked", ""}
_YESNO = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


@dataclass(frozen=True)
class DataDictionary:
    """Choice labels by field name and code; field types and labels by field name."""

    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    field_types: Mapping[str, str] = field(default_factory=dict)
    field_labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, column: str, raw: str) -> str:
        """The label of a coded value (unchanged when the field has no choices or it is a label)."""
        return self.choices.get(column, {}).get(raw, raw)

    def choice_label(self, checkbox_field: str, code: str) -> str:
        return self.choices.get(checkbox_field, {}).get(code, code)


def read_dictionary(path: Path, encoding: str | None = None) -> DataDictionary:
    text = decode(Path(path).read_bytes(), Path(path), encoding)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    if not rows or "Variable / Field Name" not in rows[0]:
        raise ExportError(
            [
                FieldError(
                    Path(path).name,
                    "is not a REDCap data dictionary: it has no 'Variable / Field Name' column",
                )
            ]
        )
    choices: dict[str, dict[str, str]] = {}
    types: dict[str, str] = {}
    labels: dict[str, str] = {}
    for row in rows:
        name = row["Variable / Field Name"].strip()
        kind = (row.get("Field Type") or "").strip()
        types[name], labels[name] = kind, (row.get("Field Label") or "").strip()
        if kind in _YESNO:
            choices[name] = dict(_YESNO[kind])
        elif kind in ("radio", "dropdown", "checkbox"):
            choices[name] = _parse_choices(row.get("Choices, Calculations, OR Slider Labels") or "")
    return DataDictionary(choices, types, labels)


def _parse_choices(text: str) -> dict[str, str]:
    parsed = {}
    for part in text.split("|"):
        code, _, label = part.partition(",")
        if code.strip():
            parsed[code.strip()] = label.strip()
    return parsed


def is_complete(raw: str) -> bool:
    return raw.strip() == COMPLETE or raw.strip().lower() == _COMPLETE_LABEL


def checked(raw: str, column: str, errors: list[FieldError]) -> bool:
    value = raw.strip().lower()
    if value in _CHECKED:
        return True
    if value not in _UNCHECKED:
        errors.append(
            FieldError(column, f"{raw!r} is not a checkbox value (1/0 or Checked/Unchecked)")
        )
    return False


def combine_checked(
    dimension: GroupDimension, values: list[str], field_name: str, errors: list[FieldError]
) -> str | None:
    """One value of `dimension` from the values the checked choices map to.

    A value that is neither the dimension's reference group nor "prefer not to say" wins
    (one checked "Black or African American" makes URiM "yes", whatever else is checked); then
    the reference group; then "prefer not to say". Nothing checked is "not answered". Two
    different winning values (gender "woman" and "nonbinary") are an error in that row.
    """
    distinct = sorted(set(values))
    if not distinct:
        return None
    winners = [v for v in distinct if v not in (REFERENCE_GROUP[dimension], PREFER_NOT_TO_SAY)]
    if len(winners) > 1:
        errors.append(
            FieldError(
                field_name,
                f"checked choices map to different {dimension.value} values: {', '.join(winners)}",
            )
        )
        return None
    if winners:
        return winners[0]
    return (
        REFERENCE_GROUP[dimension] if REFERENCE_GROUP[dimension] in distinct else PREFER_NOT_TO_SAY
    )
