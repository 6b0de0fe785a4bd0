"""Which input records a stage has applied, kept in the stage's own table: Faust's commits are not trusted.

Around a rebalance Faust can drop records it fetched and still commit offsets past them
(faust-streaming 0.15.3). So each stage keeps, per input partition, the next offset it expects
(`__inputs__/<table partition>` in its table, written after the values of the same batch, in the
same changelog partition: if the watermark is durable, so are they). Then:

- a record below the watermark was applied already: it is skipped (a replay);
- a record above it means records were skipped: the partition is read again from the watermark
  (`rewinds`), and nothing after the gap is applied until the gap is filled. In a compacted topic
  a gap can be real (compaction removed the records): one found again after reading again
  `CONFIRMATIONS` times is accepted. Event topics are never compacted: their gaps never are;
- when partitions are assigned, the consumer seeks to the watermarks (`resume_offsets`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from services.processor.inputs import InputRecord
from services.processor.ports import InputPartition, RecordStore, Rewind

WATERMARKS = "__inputs__"
CONFIRMATIONS = 3
REWIND_PATIENCE_S = 2.0

log = structlog.get_logger(__name__)


def watermark_key(partition: int) -> str:
    return f"{WATERMARKS}/{partition}"


@dataclass
class Admitted:
    records: list[InputRecord]  # to apply, in arrival order
    rewinds: dict[InputPartition, int] = field(default_factory=dict)  # read these again from here
    next_offsets: dict[int, dict[str, int]] = field(default_factory=dict)  # per table partition
    anchors: dict[int, InputRecord] = field(default_factory=dict)


class InputTracker:
    def __init__(
        self,
        store: RecordStore,
        *,
        compacted: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._compacted = frozenset(compacted)
        self._clock = clock
        self._rewound: dict[
            InputPartition, tuple[int, float]
        ] = {}  # asked to read again from, when
        self._suspected: dict[
            InputPartition, tuple[int, int, int]
        ] = {}  # a gap: expected, found, times seen

    def _stored(self, anchor: InputRecord) -> dict[str, int]:
        value = self._store.load(anchor, watermark_key(anchor.partition))
        return json.loads(value) if value else {}

    def admit(self, records: Sequence[InputRecord]) -> Admitted:
        by_input: dict[InputPartition, list[InputRecord]] = {}
        anchors: dict[int, InputRecord] = {}
        for record in records:
            by_input.setdefault((record.topic, record.partition), []).append(record)
            anchors.setdefault(record.partition, record)
        stored = {partition: self._stored(anchor) for partition, anchor in anchors.items()}
        admitted = Admitted(
            [], anchors=anchors, next_offsets={p: dict(offsets) for p, offsets in stored.items()}
        )
        keep: set[int] = set()
        for (topic, partition), items in by_input.items():
            expected = stored[partition].get(topic, 0)
            for record in sorted(items, key=lambda r: r.offset):
                if record.offset < expected:
                    continue  # applied already
                if record.offset > expected and not self._real_gap(
                    (topic, partition), expected, record.offset
                ):
                    if self._ask_again((topic, partition), expected):
                        admitted.rewinds[(topic, partition)] = expected
                    break
                keep.add(id(record))
                expected = record.offset + 1
            admitted.next_offsets[partition][topic] = expected
        admitted.records = [record for record in records if id(record) in keep]
        return admitted

    def _ask_again(self, tp: InputPartition, offset: int) -> bool:
        """Whether to ask for a read from `offset` again: not while the last ask may still be on its
        way (records fetched before it keep arriving for a moment)."""
        now = self._clock()
        asked = self._rewound.get(tp)
        if asked is not None and asked[0] == offset and now - asked[1] < REWIND_PATIENCE_S:
            return False
        self._rewound[tp] = (offset, now)
        return True

    def _real_gap(self, tp: InputPartition, expected: int, found: int) -> bool:
        if tp[0] not in self._compacted:
            return False
        seen_expected, seen_found, times = self._suspected.get(tp, (expected, found, 0))
        times = times + 1 if (seen_expected, seen_found) == (expected, found) else 1
        if times >= CONFIRMATIONS:
            self._suspected.pop(tp, None)
            return True
        self._suspected[tp] = (expected, found, times)
        return False

    async def close_batch(self, admitted: Admitted, rewind: Rewind) -> None:
        """Store the watermarks of a batch, after the values it changed, and wait until all are
        durable: the batch's offsets may be committed right after, and Faust's own flush before
        a commit does not wait for every changelog record. Then ask for its gaps to be read again."""
        for partition, offsets in admitted.next_offsets.items():
            anchor = admitted.anchors[partition]
            self._store.save(
                anchor, watermark_key(partition), json.dumps(offsets, sort_keys=True).encode()
            )
        await self._store.flush()
        if admitted.rewinds:
            log.warning(
                "input_gap_reading_again",
                partitions={f"{t}:{p}": o for (t, p), o in admitted.rewinds.items()},
            )
            await rewind(admitted.rewinds)

    def resume_offsets(
        self, inputs: Iterable[InputPartition], *, default: int | None = None
    ) -> dict[InputPartition, int]:
        """Where to read each input partition from: its watermark; for a table partition without
        watermarks (nothing applied yet, or applied before watermarks existed), `default` if given."""
        cache: dict[int, dict[str, int] | None] = {}
        offsets = {}
        for topic, partition in inputs:
            if partition not in cache:
                value = self._store.peek(watermark_key(partition))
                cache[partition] = json.loads(value) if value else None
            stored = cache[partition]
            if stored is not None:  # nothing of a topic it has no watermark for was applied
                offsets[(topic, partition)] = stored.get(topic, 0)
            elif default is not None:
                offsets[(topic, partition)] = default
        return offsets
