"""Follows the benchmarks, sites and site-flags topics from the beginning into the view, live."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.query.records import (
    BenchmarkUpdate,
    FlagUpdate,
    SiteUpdate,
    decode_benchmark_record,
    decode_flag_record,
    decode_site_record,
)
from services.query.view import View
from shared.kafka import Kafka, make_consumer, topic_partitions

log = structlog.get_logger(__name__)


class ViewFollower:
    """Reads the compacted topics into `view`, one applied batch per fetch (`flags_topic`, the
    sites flagged by ingest, when given).

    Marks the view caught up once every partition reached the end offset it had when
    following began. Remembers its positions, so that running it again after an error goes
    on where it stopped instead of replaying (and re-announcing) everything.
    """

    def __init__(
        self,
        kafka: Kafka,
        *,
        cells_topic: str,
        sites_topic: str,
        view: View,
        flags_topic: str | None = None,
        min_cell_size: int,
        min_sites: int,
        max_records: int = 2000,
    ) -> None:
        self.kafka = kafka
        self.cells_topic, self.sites_topic = cells_topic, sites_topic
        self.flags_topic = flags_topic
        self.view = view
        self.min_cell_size, self.min_sites = min_cell_size, min_sites
        self.max_records = max_records
        self._positions: dict[TopicPartition, int] = {}
        self._end_offsets: dict[TopicPartition, int] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self.kafka)
        try:  # a stop can cancel the start itself, whose client must still be closed
            await consumer.start()
            partitions = await self._assign(consumer)
            if self._end_offsets is None:
                self._end_offsets = await consumer.end_offsets(partitions)
            while not stop.is_set():
                await self._check_caught_up(consumer)
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                self._apply(batches)
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        names = [self.cells_topic, self.sites_topic]
        if self.flags_topic is not None:
            names.append(self.flags_topic)
        partitions = await topic_partitions(self.kafka, names)
        consumer.assign(partitions)
        for tp in partitions:
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            else:
                await consumer.seek_to_beginning(tp)
        return partitions

    def _apply(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """One fetch, every partition, is one batch of the view: one new snapshot."""
        cell_updates: list[BenchmarkUpdate] = []
        site_updates: list[SiteUpdate] = []
        flag_updates: list[FlagUpdate] = []
        for tp, records in batches.items():
            for record in records:
                if tp.topic == self.cells_topic:
                    update = decode_benchmark_record(
                        record.key,
                        record.value,
                        min_cell_size=self.min_cell_size,
                        min_sites=self.min_sites,
                    )
                    if update is not None:
                        cell_updates.append(update)
                elif tp.topic == self.flags_topic:
                    flag_update = decode_flag_record(record.key, record.value)
                    if flag_update is not None:
                        flag_updates.append(flag_update)
                else:
                    site_update = decode_site_record(record.key, record.value)
                    if site_update is not None:
                        site_updates.append(site_update)
            if records:
                self._positions[tp] = records[-1].offset + 1
        if cell_updates or site_updates or flag_updates:
            self.view.apply(cell_updates, site_updates, flag_updates)

    async def _check_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        if self.view.ready.is_set() or self._end_offsets is None:
            return
        for tp, end in self._end_offsets.items():
            position = await consumer.position(tp)
            self._positions[tp] = position
            if position < end:
                return
        self.view.mark_caught_up()


async def follow_forever(follower: ViewFollower, stop: asyncio.Event, retry_s: float = 1.0) -> None:
    """Runs the follower until `stop`, starting it again after an error."""
    while not stop.is_set():
        try:
            await follower.run(stop)
        except asyncio.CancelledError:
            raise
        except Exception:  # logged in full; the follower retries whatever failed
            log.exception("view_follower_failed", retry_in_s=retry_s)
            with contextlib.suppress(TimeoutError):  # the retry delay passed without a stop
                await asyncio.wait_for(stop.wait(), retry_s)
