"""Time, as the processor sees it: the `as_of` of its cells and the cut time of a release."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.clock import utc_now

__all__ = ["current_as_of", "day_start", "utc_now"]


def day_start(moment: datetime) -> datetime:
    """The UTC midnight starting `moment`'s day: the end of the rolling windows published that day."""
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def current_as_of() -> datetime:
    return day_start(utc_now())
