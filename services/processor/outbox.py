"""Everything the processor writes to Kafka goes through an outbox, then one `flush`.

The drivers write a batch's cells, tombstones, summaries and dead letters, then `flush`:
it returns once Kafka has acknowledged every one of them (acks=all), and only then do the
drivers store their table values. `KafkaOutbox` sends with any producer whose `send` returns
a delivery future (Faust's producer in the service); tests use a list.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Awaitable, Callable, Protocol, Sequence

from shared.convert_benchmarks import cell_to_proto
from shared.domain.benchmark_set import Cell

from services.processor.inputs import SITE_VERSION_HEADER, Headers, InputRecord
from services.processor.summary import SiteSummary, encode_summary

Send = Callable[[str, bytes | None, bytes | None, Sequence[tuple[str, bytes]]], Awaitable[Awaitable[Any]]]


class Outbox(Protocol):
    async def cell(self, cell: Cell, *, as_of: datetime, revision: int, headers: Headers) -> None: ...
    async def withdraw(self, key: str, *, headers: Headers) -> None: ...
    async def summary(self, summary: SiteSummary, *, headers: Headers) -> None: ...
    async def dead_letter(self, record: InputRecord, reason: str) -> None: ...
    async def flush(self) -> None: ...


def dead_letter_headers(record: InputRecord, reason: str) -> list[tuple[str, bytes]]:
    return [
        *record.headers,
        ("deadletter-reason", reason.encode()),
        ("deadletter-topic", record.topic.encode()),
        ("deadletter-partition", str(record.partition).encode()),
        ("deadletter-offset", str(record.offset).encode()),
        ("deadletter-stage", b"processor"),
    ]


class KafkaOutbox:
    def __init__(self, send: Send, *, benchmarks: str, summaries: str, deadletter: str) -> None:
        self._send = send
        self._benchmarks = benchmarks
        self._summaries = summaries
        self._deadletter = deadletter
        self._pending: list[Awaitable[Any]] = []

    async def _put(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        self._pending.append(await self._send(topic, key, value, list(headers)))

    async def cell(self, cell: Cell, *, as_of: datetime, revision: int, headers: Headers) -> None:
        value = cell_to_proto(cell, as_of=as_of, revision=revision).SerializeToString()
        await self._put(self._benchmarks, cell.key.encode(), value, headers)

    async def withdraw(self, key: str, *, headers: Headers) -> None:
        await self._put(self._benchmarks, key.encode(), None, headers)

    async def summary(self, summary: SiteSummary, *, headers: Headers) -> None:
        await self._put(self._summaries, summary.site_id.encode(), encode_summary(summary), headers)

    async def dead_letter(self, record: InputRecord, reason: str) -> None:
        await self._put(self._deadletter, record.key, record.value, dead_letter_headers(record, reason))

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


async def forward_site_records(send, site_changes: str, records: Sequence[InputRecord]) -> None:
    """Registry records of sites, to the site changes topic, versioned by their offset."""
    futures = [
        await send(
            site_changes, record.key, record.value,
            [*[(k, v) for k, v in record.headers if k != SITE_VERSION_HEADER],
             (SITE_VERSION_HEADER, str(record.offset).encode())],
        )
        for record in records
        if record.key
    ]
    if futures:
        await asyncio.gather(*futures)
