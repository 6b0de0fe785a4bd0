"""Adapters between Faust and the drivers: table access, changelog durability, input records.

Table access for a batch taken with `stream.take_events`: Faust finds the partition of a table
key (its changelog partition, its RocksDB instance) from the "current event" of the stream.
A batch from `take_events` mixes partitions, and its
consumer (the agent) runs outside the stream's own iteration, where no event is current. So the
drivers name an event of the key's partition (the "anchor") and the table is read and written
with that event current. This relies on faust.streams._current_event, the context variable
`faust.streams.current_event()` reads (faust-streaming 0.15).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import faust
import structlog
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faust.streams import _current_event
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT, CodecArg, EventT
from faust.types.tuples import FutureMessage

from services.processor.inputs import InputRecord
from services.processor.ports import InputPartition, Rewind

log = structlog.get_logger(__name__)


class AppliedOffsets(Protocol):
    """Where the stages' watermarks say to resume each input partition (see input_tracker)."""

    def __call__(
        self, inputs: Iterable[InputPartition], *, default: int | None = None
    ) -> dict[InputPartition, int]: ...


@contextlib.contextmanager
def current_event(event: EventT[Any]) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class ChangelogTable(faust.Table[bytes, bytes]):
    """A table that can say when the values set so far are in its changelog (acks=all)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[FutureMessage] = []

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: CodecArg | None = None,
        value_serializer: CodecArg | None = None,
    ) -> FutureMessage:
        future = super().send_changelog(partition, key, value, key_serializer, value_serializer)
        if (
            len(self._pending) > 256
        ):  # forget deliveries that succeeded; keep failures for the next wait
            self._pending = [
                f for f in self._pending if not f.done() or f.cancelled() or f.exception()
            ]
        self._pending.append(future)
        return future

    async def changelog_delivered(self) -> None:
        """Return once every value set so far is acknowledged by the changelog; raise if one failed."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


def changelog_table(app: faust.App, name: str, *, partitions: int, help: str) -> ChangelogTable:
    """`app.Table(name, ...)` of bytes to bytes, as a `ChangelogTable`."""
    table = ChangelogTable(
        app,
        name=name,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        help=help,
        beacon=app.tables.beacon,
    )
    app.tables.add(table)
    return table


class FaustTableStore:
    """A Faust table of bytes, as the drivers' `RecordStore`."""

    def __init__(self, table: ChangelogTable) -> None:
        self._table = table

    async def flush(self) -> None:
        await self._table.changelog_delivered()

    def load(self, anchor: InputRecord, key: str) -> bytes | None:
        with current_event(anchor.ref):
            return self._table.get(key.encode())

    def peek(self, key: str) -> bytes | None:
        """Outside a batch: Faust looks the key up in every partition this worker holds."""
        return self._table.get(key.encode())

    def save(self, anchor: InputRecord, key: str, value: bytes) -> None:
        with current_event(anchor.ref):
            self._table[key.encode()] = value


def input_record(event: EventT[Any]) -> InputRecord:
    message = event.message
    headers = message.headers or ()
    return InputRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple(headers.items() if isinstance(headers, Mapping) else headers),
        ref=event,
    )


# Each app's applied offsets, for the consumer threads of that app (they know only their app).
_applied_offsets: weakref.WeakKeyDictionary[AppT, AppliedOffsets] = weakref.WeakKeyDictionary()


def seek_to_applied_offsets(app: AppT, applied_offsets: AppliedOffsets) -> None:
    """Make Faust's "seek to committed offsets" seek to what the stages applied instead.

    Faust seeks every assigned partition to its committed offset once tables are recovered,
    after each rebalance. Two things go wrong there (faust-streaming 0.15.3, aiokafka 0.14):
    records fetched and dropped while the flow was stopped are not fetched again where the
    committed offset is 0 or absent (aiokafka seeks only above 0), and Faust may have committed
    past records it dropped. So, where the app's stages can say which records they applied
    (`applied_offsets`, from the watermarks in their tables), the consumer seeks there;
    elsewhere a partition without a commit is read from its beginning (`earliest`).
    Changelog partitions are left to Faust's recovery.
    """
    _applied_offsets[app] = applied_offsets
    thread_class = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread_class.seek_to_committed, "seeks_to_applied", False):
        return
    original = thread_class.seek_to_committed

    async def seek_to_committed(self: faust_aiokafka.AIOKafkaConsumerThread) -> Mapping[TP, int]:
        committed = dict(await original(self))
        changelogs = self.app.tables.changelog_topics
        streams = [tp for tp in committed if tp.topic not in changelogs]
        app_offsets = _applied_offsets.get(self.app)
        applied = app_offsets([(tp.topic, tp.partition) for tp in streams]) if app_offsets else {}
        consumer = self._ensure_consumer()
        ahead: dict[TP, int] = {}
        for tp in streams:
            offset = applied.get((tp.topic, tp.partition))
            if offset is not None and offset != committed[tp]:
                consumer.seek(tp, offset)
                # None where the group never committed (faust's annotation says int)
                if offset > (committed[tp] or 0):
                    ahead[tp] = offset
                committed[tp] = offset  # Faust reads from (and commits after) this offset now
        if ahead:
            await _commit_applied(self, ahead)
        uncommitted = [tp for tp in streams if not committed[tp]]
        if uncommitted:
            await self.seek_to_beginning(*uncommitted)
        return committed

    seek_to_committed.seeks_to_applied = True  # type: ignore[attr-defined]  # a marker: patched once
    thread_class.seek_to_committed = seek_to_committed  # type: ignore[method-assign]  # the patch itself


async def _commit_applied(
    thread: faust_aiokafka.AIOKafkaConsumerThread, offsets: Mapping[TP, int]
) -> None:
    """Commit offsets the stages applied beyond the group's commit (a worker that applied records
    and died before committing them). Nothing is read again below them, but without the commit
    an idle partition would show that lag for ever, to the lag metric and to every reader that
    waits for the group to catch up. A failure costs only that: the position is already right.
    """
    consumer = thread._ensure_consumer()
    commit = {TopicPartition(tp.topic, tp.partition): o for tp, o in offsets.items()}
    try:
        # The consumer lives on the consumer thread's event loop: commit there.
        await thread.call_thread(consumer.commit, commit)
    except KafkaError as error:
        log.warning("applied_offsets_commit_failed", error=repr(error), partitions=len(offsets))
    else:
        log.info("applied_offsets_committed", partitions=len(offsets))


def faust_rewind(app: AppT) -> Rewind:
    """The drivers' `rewind`: read input partitions again from the given offsets."""

    async def rewind(offsets: Mapping[InputPartition, int]) -> None:
        for (topic, partition), offset in offsets.items():
            await app.consumer.seek(TP(topic, partition), offset)

    return rewind
