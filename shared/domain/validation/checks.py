"""The building blocks every validator uses: ids, labels, counts, times and enums, one field each."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.domain.validation.errors import FieldError

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
EARLIEST_PLAUSIBLE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_ID_LENGTH = 128
MAX_SHORT_ID_LENGTH = 64
MAX_LABEL_LENGTH = 200
LIKERT_MIN, LIKERT_MAX = 1, 5

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
ITEM_CODE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,31}")
# Labels are short human-readable names (a policy title, a region). Control characters
# and line breaks are refused so a label cannot smuggle in a narrative.
_LABEL_PATTERN = re.compile(r"[^\x00-\x1f\x7f]+")


def check_id(field: str, value: object, *, max_length: int = MAX_ID_LENGTH) -> list[FieldError]:
    if not isinstance(value, str) or value == "":
        return [FieldError(field, "is required")]
    if len(value) > max_length:
        return [FieldError(field, f"is {len(value)} characters long; at most {max_length} allowed")]
    if not _ID_PATTERN.fullmatch(value):
        return [
            FieldError(
                field,
                "may contain only letters, digits and . _ - : and must start with a letter or digit",
            )
        ]
    return []


def check_label(
    field: str, value: object, *, max_length: int = MAX_LABEL_LENGTH
) -> list[FieldError]:
    if not isinstance(value, str) or value.strip() == "":
        return [FieldError(field, "is required")]
    if len(value) > max_length:
        return [FieldError(field, f"is {len(value)} characters long; at most {max_length} allowed")]
    if not _LABEL_PATTERN.fullmatch(value):
        return [FieldError(field, "must be a single line without control characters")]
    return []


def check_count(field: str, value: object) -> list[FieldError]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [FieldError(field, "must be a whole number")]
    if value < 0:
        return [FieldError(field, f"must not be negative (got {value})")]
    return []


def check_not_more(
    smaller_field: str, smaller: int, larger_field: str, larger: int
) -> list[FieldError]:
    """`smaller` must not exceed `larger`; the error names the field that is too big."""
    if smaller > larger:
        larger_name = larger_field.rsplit(".", 1)[-1]
        return [FieldError(smaller_field, f"is {smaller}, more than {larger_name} ({larger})")]
    return []


def is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.tzinfo.utcoffset(moment) is not None


def require_aware_now(now: datetime) -> None:
    # A naive `now` is a programming error in the caller, not bad input data.
    if not isinstance(now, datetime) or not is_aware(now):
        raise ValueError("`now` must be a timezone-aware datetime")


def check_time(field: str, moment: object, *, now: datetime) -> list[FieldError]:
    if not isinstance(moment, datetime):
        return [FieldError(field, "is required")]
    if not is_aware(moment):
        return [FieldError(field, "must carry a time zone")]
    if moment < EARLIEST_PLAUSIBLE_TIME:
        return [
            FieldError(
                field,
                f"{format_time(moment)} is before {format_time(EARLIEST_PLAUSIBLE_TIME)}; "
                "probably an unset or mis-parsed date",
            )
        ]
    if moment > now + CLOCK_SKEW_ALLOWANCE:
        return [
            FieldError(
                field,
                f"{format_time(moment)} is in the future (now is {format_time(now)}; "
                f"{int(CLOCK_SKEW_ALLOWANCE.total_seconds() // 60)} minutes of clock skew allowed)",
            )
        ]
    return []


def format_time(moment: datetime) -> str:
    if is_aware(moment):
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 in a non-UTC zone: show it as given
            return moment.isoformat()
        return moment.isoformat().replace("+00:00", "Z")
    return moment.isoformat()


def check_enum(field: str, value: object, enum_type: type[StrEnum]) -> list[FieldError]:
    if not isinstance(value, enum_type):
        return [
            FieldError(field, f"must be one of {', '.join(member.value for member in enum_type)}")
        ]
    return []
