"""Publishes accepted events to Kafka and says only once the broker has them.

The producer uses acks=all and idempotence. aiokafka's idempotent producer can get stuck
raising OutOfOrderSequenceNumber after a short broker outage (aio-libs/aiokafka#1017)
until it is restarted, so a failed publish replaces the producer (a new producer id resets
the sequence numbers) and the caller answers UNAVAILABLE for what was not stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.ingest.ports import PublishFailed
from shared.event_records import EventRecord
from shared.kafka import AUTHORIZATION_ERRORS, Kafka, access_denied, make_producer
from shared.telemetry import inject_trace_headers

log = structlog.get_logger(__name__)
YIELD_EVERY = 100  # records sent between two turns of the event loop


class EventPublisher:
    def __init__(self, kafka: Kafka, *, send_timeout_s: float = 20.0) -> None:
        self._kafka = kafka
        self._send_timeout_s = send_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._current_producer()

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None

    async def publish(self, records: Iterable[EventRecord]) -> list[bool]:
        """Send every record; return, per record, whether Kafka acknowledged it."""
        producer = await self._current_producer()
        headers_base = inject_trace_headers()
        futures = []
        topics: list[str] = []
        for sent, record in enumerate(records, 1):
            if sent % YIELD_EVERY == 0:
                # Let the producer's sender ship full batches while the rest is still encoded.
                await asyncio.sleep(0)
            headers = [*headers_base, *record.headers]
            topics.append(record.topic)
            try:
                futures.append(
                    await producer.send(record.topic, record.value, key=record.key, headers=headers)
                )
            except KafkaError as error:
                futures.append(_failed(error))
        # asyncio.wait, not wait_for: a record's future must not be cancelled, so that what the
        # producer still delivers while being discarded is known as stored.
        _, late = await asyncio.wait(futures, timeout=self._send_timeout_s)
        if late or any(future.exception() is not None for future in futures):
            await self._discard(producer)
        stored = [
            future.done() and not future.cancelled() and future.exception() is None
            for future in futures
        ]
        if not all(stored):
            log.warning(
                "publish_failed",
                failed=stored.count(False),
                of=len(stored),
                reasons=self._reasons(futures, topics),
            )
        return stored

    def _reasons(self, futures: list[asyncio.Future[object]], topics: list[str]) -> list[str]:
        """Why records failed, one line per topic and error; a refusal by the ACLs says so."""
        reasons: set[str] = set()
        for future, topic in zip(futures, topics, strict=True):
            error = future.exception() if future.done() and not future.cancelled() else None
            if isinstance(error, AUTHORIZATION_ERRORS):
                reasons.add(access_denied(self._kafka, "Write", [topic], type(error).__name__))
            elif error is not None:
                reasons.add(f"{topic}: {error!r}")
            elif not future.done():
                reasons.add(f"{topic}: no acknowledgement within {self._send_timeout_s:g} s")
        return sorted(reasons)

    async def _current_producer(self) -> AIOKafkaProducer:
        """The running producer, started anew after a failure discarded the last one."""
        async with self._lock:
            if self._producer is None:
                producer = make_producer(self._kafka)
                try:
                    await producer.start()
                except Exception as error:
                    await producer.stop()
                    raise PublishFailed(f"cannot reach Kafka: {error!r}") from error
                self._producer = producer
            return self._producer

    async def _discard(self, broken: AIOKafkaProducer) -> None:
        async with self._lock:
            replaced = self._producer is not broken  # by a concurrent request
            if replaced:
                return
            self._producer = None
        log.info("producer_discarded")
        # Fail what still waits in its buffer instead of letting stop() flush it later: a record
        # answered as "not stored" must not turn up in Kafka beside the client's retry.
        broken._message_accumulator.fail_all(
            KafkaError("producer discarded after a failed publish")
        )
        try:
            await asyncio.wait_for(broken.stop(), 10)
        except Exception as error:  # noqa: BLE001 -- it is being thrown away regardless
            log.warning("producer_stop_failed", error=repr(error))
            await broken.client.close()  # a stop that failed part-way leaves the client open


def _failed(error: BaseException) -> asyncio.Future[object]:
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future
