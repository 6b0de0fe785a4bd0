"""What the stall watchdog reads of a stage: whether a batch is under way, and when the records
of each input partition last reached it (services/processor/watchdog.py decides from these)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from services.processor.inputs import InputRecord
from services.processor.ports import InputPartition


class StageActivity:
    """Batches under way and each partition's last record time, on the monotonic clock."""

    def __init__(self, made_at: float | None = None) -> None:
        self._batches_running = 0
        self._seen_at: dict[InputPartition, float] = {}
        self._made_at = time.monotonic() if made_at is None else made_at

    @contextmanager
    def batch(self, records: Iterable[InputRecord]) -> Iterator[None]:
        """A batch of `records` runs inside: their partitions are seen now, the stage busy."""
        now = time.monotonic()
        for record in records:
            self._seen_at[(record.topic, record.partition)] = now
        self._batches_running += 1
        try:
            yield
        finally:
            self._batches_running -= 1

    def busy(self) -> bool:
        """Whether a batch is under way (the watchdog never reads a partition again mid-batch:
        a batch can outlast its patience, a thousand sites' releases at a scheduled time)."""
        return self._batches_running > 0

    def last_seen_at(self, partition: InputPartition) -> float:
        """When a record of `partition` last reached this stage (applied, skipped or not), or
        when the stage was made: a partition whose records stopped coming is the one stalled,
        however busy other partitions (the site-changes ticks of every release) keep the stage."""
        return self._seen_at.get(partition, self._made_at)
