"""A survey cycle's registry entry, before it is registered: every field error at once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from shared.domain.cycles import SurveyCycle
from shared.domain.validation.checks import (
    EARLIEST_PLAUSIBLE_TIME,
    MAX_SHORT_ID_LENGTH,
    check_id,
    check_label,
    format_time,
    is_aware,
)
from shared.domain.validation.errors import CYCLE, FieldError

# A cycle of every site of a large collaborative; more is a mistake (a pasted list), not a cycle.
MAX_CYCLE_SITES = 10_000
# A release a day for a year: a calendar longer than that is a mistake too.
MAX_INTERIM_RELEASES = 366


def validate_cycle(
    cycle: SurveyCycle,
    *,
    sites: Collection[str] | None = None,
    instruments: Collection[tuple[str, int]] | None = None,
) -> list[FieldError]:
    """Check a cycle before it is registered; an empty list means valid.

    `sites` (registered site ids) and `instruments` ((instrument_id, version) pairs) are what
    the registry holds, when the caller has them: a cycle naming anything else is refused.
    None skips that check (a record read back from the registry topic, say). A time that is
    not an aware `datetime` (one a message could not give) is only reported as required, and
    the comparisons that need it are left out.
    """
    errors: list[FieldError] = []
    errors += check_id(f"{CYCLE}.cycle_id", cycle.cycle_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += check_label(f"{CYCLE}.name", cycle.name)
    errors += _instrument_errors(cycle, instruments)
    errors += _site_errors(cycle.site_ids, sites)
    opens = _time(errors, f"{CYCLE}.opens_at", cycle.opens_at)
    closes = _time(errors, f"{CYCLE}.closes_at", cycle.closes_at)
    if opens is not None and closes is not None and closes <= opens:
        errors.append(
            FieldError(
                f"{CYCLE}.closes_at",
                f"{format_time(closes)} is not after opens_at {format_time(opens)}",
            )
        )
        opens = closes = None  # no window to hold the calendar against
    errors += _calendar_errors(cycle.interim_releases, opens, closes)
    if cycle.approval_deadline is not None:
        field = f"{CYCLE}.approval_deadline"
        deadline = _time(errors, field, cycle.approval_deadline)
        if deadline is not None and closes is not None and deadline < closes:
            errors.append(
                FieldError(
                    field,
                    f"{format_time(deadline)} is before closes_at {format_time(closes)}; "
                    "a site approves its data once the cycle has closed",
                )
            )
    return errors


def _instrument_errors(
    cycle: SurveyCycle, instruments: Collection[tuple[str, int]] | None
) -> list[FieldError]:
    errors = check_id(f"{CYCLE}.instrument_id", cycle.instrument_id, max_length=MAX_SHORT_ID_LENGTH)
    version = cycle.instrument_version
    version_ok = isinstance(version, int) and not isinstance(version, bool) and version >= 1
    if not version_ok:
        errors.append(
            FieldError(f"{CYCLE}.instrument_version", "must be a version number of 1 or more")
        )
    if errors or instruments is None or (cycle.instrument_id, version) in instruments:
        return errors
    registered = sorted(v for (known, v) in instruments if known == cycle.instrument_id)
    if not registered:
        return [
            FieldError(
                f"{CYCLE}.instrument_id",
                f"instrument {cycle.instrument_id!r} is not registered (PutInstrument first)",
            )
        ]
    return [
        FieldError(
            f"{CYCLE}.instrument_version",
            f"instrument {cycle.instrument_id!r} has no version {version}; registered: "
            + ", ".join(map(str, registered)),
        )
    ]


def _site_errors(site_ids: tuple[str, ...], sites: Collection[str] | None) -> list[FieldError]:
    field = f"{CYCLE}.site_ids"
    if not site_ids:
        return [FieldError(field, "a cycle needs at least one site taking part")]
    if len(site_ids) > MAX_CYCLE_SITES:
        return [FieldError(field, f"{len(site_ids)} sites; at most {MAX_CYCLE_SITES} allowed")]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, site_id in enumerate(site_ids):
        entry = f"{field}[{index}]"
        if found := check_id(entry, site_id, max_length=MAX_SHORT_ID_LENGTH):
            errors += found
        elif site_id in seen:
            errors.append(FieldError(entry, f"site {site_id!r} is listed more than once"))
        elif sites is not None and site_id not in sites:
            errors.append(FieldError(entry, f"site {site_id!r} is not registered (PutSite first)"))
        seen.add(site_id)
    return errors


def _calendar_errors(
    releases: tuple[datetime, ...], opens: datetime | None, closes: datetime | None
) -> list[FieldError]:
    field = f"{CYCLE}.interim_releases"
    if len(releases) > MAX_INTERIM_RELEASES:
        return [
            FieldError(
                field, f"{len(releases)} release times; at most {MAX_INTERIM_RELEASES} allowed"
            )
        ]
    errors: list[FieldError] = []
    previous: datetime | None = None
    for index, given in enumerate(releases):
        entry = f"{field}[{index}]"
        moment = _time(errors, entry, given)
        if moment is None:
            continue
        if opens is not None and closes is not None and not opens <= moment <= closes:
            errors.append(
                FieldError(
                    entry,
                    f"{format_time(moment)} is outside the cycle, "
                    f"[{format_time(opens)}, {format_time(closes)}]",
                )
            )
        elif previous is not None and moment <= previous:
            errors.append(
                FieldError(
                    entry,
                    f"{format_time(moment)} is not after the release before it, "
                    f"{format_time(previous)}: list the release times in order, each once",
                )
            )
        previous = moment
    return errors


def _time(errors: list[FieldError], field: str, moment: object) -> datetime | None:
    """The time if it is one a cycle can hold; else None, after adding why not to `errors`."""
    if not isinstance(moment, datetime):
        errors.append(FieldError(field, "is required"))
        return None
    if not is_aware(moment):
        errors.append(FieldError(field, "must carry a time zone"))
        return None
    if moment < EARLIEST_PLAUSIBLE_TIME:
        errors.append(
            FieldError(
                field,
                f"{format_time(moment)} is before {format_time(EARLIEST_PLAUSIBLE_TIME)}; "
                "probably an unset or mis-parsed date",
            )
        )
        return None
    return moment
