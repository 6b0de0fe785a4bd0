"""Every worker's view of the instrument registry (a small compacted topic read in full).

A response names its instrument; folding it needs the instrument's items and reverse wording.
The view follows the topic from the beginning; the site stage waits for it to catch up once at
start, and again (`refresh`) when a response names an instrument it does not know yet, before
dead-lettering the response.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from mode import Service

from shared.domain.model import Instrument
from shared.kafka import Kafka, make_consumer, topic_partitions
from shared.registry_records import Removed, Unreadable, decode_instrument_record

log = structlog.get_logger(__name__)


class InstrumentRegistry(Service):
    def __init__(self, *, kafka: Kafka, topic: str, wait_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kafka = kafka
        self._topic = topic
        self._wait_s = wait_s
        self.instruments: dict[tuple[str, int], Instrument] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._advanced = asyncio.Event()
        self._consumer_ready = asyncio.Event()

    async def on_start(self) -> None:
        self._consumer = make_consumer(self._kafka)
        await self._consumer.start()
        self._partitions = await topic_partitions(self._kafka, [self._topic])
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        self._consumer_ready.set()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    @Service.task
    async def _follow(self) -> None:
        await self._consumer_ready.wait()
        assert self._consumer is not None
        while not self.should_stop:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self._apply(record)
            for tp in self._partitions:
                self._positions[tp] = await self._consumer.position(tp)
            self._advanced.set()
            self._advanced = asyncio.Event()

    def _apply(self, record: ConsumerRecord) -> None:
        match decode_instrument_record(record.key, record.value):
            case Removed(key):
                self.instruments.pop(key, None)
            case Unreadable(reason):
                log.error("bad_instrument_record", offset=record.offset, reason=reason)
            case instrument:
                self.instruments[(instrument.instrument_id, instrument.version)] = instrument

    async def refresh(self) -> None:
        """Return once every instrument registered before this call is known (or the wait is over)."""
        await asyncio.wait_for(self._consumer_ready.wait(), self._wait_s)
        assert self._consumer is not None
        targets = await self._consumer.end_offsets(self._partitions)
        try:
            async with asyncio.timeout(self._wait_s):
                while any(self._positions.get(tp, -1) < end for tp, end in targets.items()):
                    await self._advanced.wait()
        except TimeoutError:
            log.warning("instrument_registry_behind", topic=self._topic, wait_s=self._wait_s)
