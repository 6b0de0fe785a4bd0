"""Reads again input partitions whose last records Faust dropped.

The stages notice records Faust dropped when a later record of the same partition arrives
(input_tracker). Records dropped at the end of a partition leave nothing to notice them by:
the partition's watermark stays behind the end of the log while nothing arrives. This
watchdog looks for that: a watermark behind the end, unchanged for `patience_s` while the
stages processed no batch for as long; then the partition is read again from the watermark.
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
        last_batch_at: Callable[[], float],
        patience_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lagging = lagging
        self._rewind = rewind
        self._last_batch_at = last_batch_at
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
            if now - since >= self._patience_s
        }
        if not stalled or now - self._last_batch_at() < self._patience_s:
            return False  # the stages are busy: the partition may just be waiting its turn
        log.warning(
            "input_stalled_reading_again",
            partitions={f"{t}:{p}": o for (t, p), o in stalled.items()},
        )
        await self._rewind(stalled)
        self._seen.clear()
        return True
