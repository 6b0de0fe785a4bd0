"""What the drivers need from the outside, as protocols: tables, the instrument registry, the consumer.

The service gives them Faust tables and consumer (faust/adapters.py); the tests give them lists
(tests/support/memory_pipeline.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from services.processor.inputs import InputRecord
from shared.domain.model import Instrument

InputPartition = tuple[str, int]  # topic, partition

# Read input partitions again from these offsets.
Rewind = Callable[[dict[InputPartition, int]], Awaitable[None]]


class RecordStore(Protocol):
    """A table. `anchor` is a record of the partition the key lives in."""

    def load(self, anchor: InputRecord, key: str) -> bytes | None: ...
    def save(self, anchor: InputRecord, key: str, value: bytes) -> None: ...

    def peek(self, key: str) -> bytes | None:
        """The value of a key unique across partitions, outside any batch."""

    async def flush(self) -> None:
        """Return once every value saved so far is durable (in the changelog)."""


class Instruments(Protocol):
    @property
    def instruments(self) -> Mapping[tuple[str, int], Instrument]: ...

    async def refresh(self) -> None:
        """Return once every instrument registered before the call is known."""
