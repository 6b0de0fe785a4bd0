"""The release calendar: the scheduled times at which a scope may be released.

Times do not depend on content: every `every` (aligned to 00:00 UTC of 2000-01-01, so a day's
releases fall on midnight and shorter periods on round multiples), and at each wave's close.
A release is cut at the first moment the processor looks after a scheduled time it has not yet
considered; it carries that scheduled time as its cut time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.domain.model import Instrument

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class ReleaseCalendar:
    every: timedelta = DEFAULT_EVERY
    closes: tuple[datetime, ...] = ()  # each wave's close (the instruments' closes_at)

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValueError("the release interval must be positive")

    def with_closes(self, closes: Iterable[datetime]) -> ReleaseCalendar:
        return ReleaseCalendar(self.every, tuple(sorted(set(closes))))

    def for_instruments(self, instruments: Iterable[Instrument]) -> ReleaseCalendar:
        """This calendar with the close of every wave of these instruments."""
        return self.with_closes(
            window.closes_at for instrument in instruments for window in instrument.waves
        )

    def slot(self, moment: datetime) -> datetime:
        """The latest scheduled time at or before `moment`."""
        periods = (moment - EPOCH) // self.every
        latest = EPOCH + periods * self.every
        closed = [close for close in self.closes if latest < close <= moment]
        return max(closed, default=latest)

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time after `moment`."""
        periods = (moment - EPOCH) // self.every
        following = EPOCH + (periods + 1) * self.every
        sooner = [close for close in self.closes if moment < close < following]
        return min(sooner, default=following)
