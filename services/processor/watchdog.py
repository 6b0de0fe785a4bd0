"""Reads again input partitions whose last records Faust dropped.

The stages notice records Faust dropped when a later record of the same partition arrives
(input_tracker). Records dropped at the end of a partition leave nothing to notice them by:
the partition's watermark stays behind the end of the log while nothing arrives. This
watchdog looks for that: a watermark behind the end, unchanged for `patience_s`, and no record
of that partition reaching the stages for as long; then, between batches, the partition is read
again from the watermark, and again after as long if that read did not come either.

Whether a partition is stalled is told by its own records, not by the stages' activity: with
releases every second the site-changes ticks keep the site stage at work all the time, and a
partition whose read again was lost (Faust's fetcher can put back the read offset of a batch it
was delivering over the seek, then drops what the seek fetched as read already) would wait for
an idle stage for ever. A partition that is only waiting its turn behind a backlog still has
records arriving, mixed with the others'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog

from services.processor.ports import InputPartition, Rewind

log = structlog.get_logger(__name__)


class StallWatchdog:
    def __init__(
        self,
        *,
        lagging: Callable[[], Mapping[InputPartition, int]],
        rewind: Rewind,
        seen_at: Callable[[InputPartition], float],
        busy: Callable[[], bool],
        patience_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lagging = lagging
        self._rewind = rewind
        self._seen_at = seen_at
        self._busy = busy
        self._patience_s = patience_s
        self._clock = clock
        self._seen: dict[InputPartition, tuple[int, float]] = {}  # watermark, since when

    async def check(self) -> bool:
        """Read stalled partitions again from their watermarks; whether it did."""
        now = self._clock()
        lagging = self._lagging()
        self._seen = {
            tp: (offset, self._seen[tp][1] if self._seen.get(tp, (None,))[0] == offset else now)
            for tp, offset in lagging.items()
        }
        stalled = {
            tp: offset
            for tp, (offset, since) in self._seen.items()
            if now - since >= self._patience_s and now - self._seen_at(tp) >= self._patience_s
        }
        if not stalled or self._busy():
            return False  # records of it still come (its turn), or a batch is under way
        log.warning(
            "input_stalled_reading_again",
            partitions={f"{t}:{p}": o for (t, p), o in stalled.items()},
        )
        await self._rewind(stalled)
        for tp in stalled:  # patience starts again for these: the read again takes a moment
            self._seen[tp] = (stalled[tp], now)
        return True
