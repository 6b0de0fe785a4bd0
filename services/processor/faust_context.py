"""Table access for a batch taken with `stream.take_events`: the partition comes from the event.

Faust finds the partition of a table key (its changelog partition, its RocksDB instance) from
the "current event" of the stream. A batch from `take_events` mixes partitions, and its
consumer (the agent) runs outside the stream's own iteration, where no event is current. So the
drivers name an event of the key's partition (the "anchor") and the table is read and written
with that event current. This relies on faust.streams._current_event, the context variable
`faust.streams.current_event()` reads (faust-streaming 0.15).
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Iterator, Mapping

from faust.streams import _current_event  # noqa: PLC2701 (see the module docstring)
from faust.types import EventT

from services.processor.inputs import InputRecord


@contextlib.contextmanager
def current_event(event: EventT) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class FaustTableStore:
    """A Faust table of bytes, as the drivers' `RecordStore`."""

    def __init__(self, table) -> None:
        self._table = table

    def load(self, anchor: InputRecord, key: str) -> bytes | None:
        with current_event(anchor.ref):
            return self._table.get(key.encode())

    def save(self, anchor: InputRecord, key: str, value: bytes) -> None:
        with current_event(anchor.ref):
            self._table[key.encode()] = value


def input_record(event: EventT) -> InputRecord:
    message = event.message
    headers = message.headers or ()
    if isinstance(headers, Mapping):
        headers = headers.items()
    return InputRecord(
        topic=message.topic, partition=message.partition, offset=message.offset,
        key=message.key, value=message.value, headers=tuple(headers), ref=event,
    )
