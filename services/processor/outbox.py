"""Everything the processor writes to Kafka goes through an outbox, then one `flush`.

The drivers write a batch's releases, progress counts, summaries and dead letters, then `flush`:
it returns once Kafka has acknowledged every one of them (acks=all), and only then do the
drivers store their table values. `KafkaOutbox` sends with any producer whose `send` returns
a delivery future (Faust's producer in the service); tests use a list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from services.processor.inputs import SITE_VERSION_HEADER, Headers, InputRecord
from shared.convert_releases import progress_to_proto, record_key, release_to_proto
from shared.domain.publication.site_summary import SiteSummary, encode_summary
from shared.domain.releases import Release, ReleaseProgress

# Sends one record; what it returns is the delivery, to await for the acknowledgement.
Send = Callable[
    [str, bytes | None, bytes | None, Sequence[tuple[str, bytes]]], Awaitable[Awaitable[object]]
]


class Outbox(Protocol):
    async def release(self, release: Release, *, headers: Headers) -> None: ...
    async def progress(self, progress: ReleaseProgress, *, headers: Headers) -> None: ...
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
        self._pending: list[Awaitable[object]] = []

    async def _put(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        self._pending.append(await self._send(topic, key, value, list(headers)))

    async def release(self, release: Release, *, headers: Headers) -> None:
        value = release_to_proto(release).SerializeToString()
        await self._put(self._benchmarks, record_key(release), value, headers)

    async def progress(self, progress: ReleaseProgress, *, headers: Headers) -> None:
        value = progress_to_proto(progress).SerializeToString()
        await self._put(self._benchmarks, record_key(progress), value, headers)

    async def summary(self, summary: SiteSummary, *, headers: Headers) -> None:
        await self._put(self._summaries, summary.site_id.encode(), encode_summary(summary), headers)

    async def dead_letter(self, record: InputRecord, reason: str) -> None:
        await self._put(
            self._deadletter, record.key, record.value, dead_letter_headers(record, reason)
        )

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


async def forward_site_records(
    send: Send, site_changes: str, records: Sequence[InputRecord]
) -> None:
    """Registry records of sites, to the site changes topic, versioned by their offset."""
    futures = [
        await send(
            site_changes,
            record.key,
            record.value,
            [
                *[(k, v) for k, v in record.headers if k != SITE_VERSION_HEADER],
                (SITE_VERSION_HEADER, str(record.offset).encode()),
            ],
        )
        for record in records
        if record.key
    ]
    if futures:
        await asyncio.gather(*futures)
