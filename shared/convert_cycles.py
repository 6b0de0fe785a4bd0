"""Translation between `jedi.v1.SurveyCycle` and the domain's `SurveyCycle`.

Written out by hand rather than through `shared.message_shapes`: a cycle has repeated
timestamps, an optional one and repeated strings, which no other registry message has.

`cycle_from_proto` never raises for bad data. It returns the cycle as far as the message
converts and why the rest does not; a field that did not convert holds None (whatever its
type says), so that validation can judge every other field and a caller can report every
error at once (`validated_cycle_errors`). Such a cycle must not go further than that.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from jedi.v1 import registry_pb2
from shared.domain.cycles import SurveyCycle
from shared.domain.validation import CYCLE, FieldError, validate_cycle

__all__ = ["cycle_from_proto", "cycle_to_proto", "validated_cycle_errors"]

# The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
_TIMESTAMP_MIN_SECONDS = -62_135_596_800
_TIMESTAMP_MAX_SECONDS = 253_402_300_799


def cycle_to_proto(cycle: SurveyCycle) -> registry_pb2.SurveyCycle:
    message = registry_pb2.SurveyCycle(
        cycle_id=cycle.cycle_id,
        name=cycle.name,
        instrument_id=cycle.instrument_id,
        instrument_version=cycle.instrument_version,
        site_ids=cycle.site_ids,
    )
    message.opens_at.FromDatetime(cycle.opens_at)
    message.closes_at.FromDatetime(cycle.closes_at)
    for moment in cycle.interim_releases:
        message.interim_releases.add().FromDatetime(moment)
    if cycle.approval_deadline is not None:
        message.approval_deadline.FromDatetime(cycle.approval_deadline)
    return message


def cycle_from_proto(
    message: registry_pb2.SurveyCycle, path: str = CYCLE
) -> tuple[SurveyCycle, list[FieldError]]:
    """The cycle as far as it converts, and why the rest does not (empty: all of it)."""
    errors: list[FieldError] = []
    opens = _time(message.opens_at, f"{path}.opens_at", errors, message.HasField("opens_at"))
    closes = _time(message.closes_at, f"{path}.closes_at", errors, message.HasField("closes_at"))
    releases = tuple(
        _time(stamp, f"{path}.interim_releases[{index}]", errors)
        for index, stamp in enumerate(message.interim_releases)
    )
    deadline = (
        _time(message.approval_deadline, f"{path}.approval_deadline", errors)
        if message.HasField("approval_deadline")
        else None
    )
    values: dict[str, Any] = {
        "cycle_id": message.cycle_id,
        "name": message.name,
        "instrument_id": message.instrument_id,
        "instrument_version": message.instrument_version,
        "site_ids": tuple(message.site_ids),
        "opens_at": opens,
        "closes_at": closes,
        "interim_releases": releases,
        "approval_deadline": deadline,
    }
    return SurveyCycle(**values), errors


def validated_cycle_errors(
    cycle: SurveyCycle,
    conversion_errors: list[FieldError],
    *,
    sites: Collection[str] | None = None,
    instruments: Collection[tuple[str, int]] | None = None,
) -> list[FieldError]:
    """Every reason the cycle cannot be registered: what did not convert, and what validation
    finds in the rest (a field that did not convert is reported once, for that)."""
    unconverted = {error.field for error in conversion_errors}
    judged = validate_cycle(cycle, sites=sites, instruments=instruments)
    return conversion_errors + [error for error in judged if error.field not in unconverted]


def _time(
    stamp: Timestamp, path: str, errors: list[FieldError], present: bool = True
) -> datetime | None:
    """The timestamp as an aware UTC datetime; None if unset (`present` False: validation
    says it is required) or out of range (said here)."""
    if not present:
        return None
    if not _TIMESTAMP_MIN_SECONDS <= stamp.seconds <= _TIMESTAMP_MAX_SECONDS:
        errors.append(FieldError(path, f"seconds {stamp.seconds} is outside the years 0001..9999"))
        return None
    if not 0 <= stamp.nanos <= 999_999_999:
        errors.append(FieldError(path, f"nanos {stamp.nanos} must be within 0..999999999"))
        return None
    moment: datetime = stamp.ToDatetime(tzinfo=UTC)
    return moment
