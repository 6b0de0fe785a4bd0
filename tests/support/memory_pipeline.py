"""An in-memory pipeline running the processor's own drivers (`SiteDriver`, `CrossDriver`) over
records in lists, with crashes injected between "Kafka has the cells" and "the table has the
value", and a consumer that drops records as Faust does around rebalances: the contract every
path that produces benchmarks must meet, tested without Kafka."""

from __future__ import annotations

import asyncio
import random
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.processor.cross_driver import CrossDriver
from services.processor.inputs import SITE_VERSION_HEADER, Headers, InputRecord, SiteTopics
from services.processor.outbox import KafkaOutbox
from services.processor.ports import InputPartition, Rewind
from services.processor.site_driver import SiteDriver, SiteStageSettings
from shared.convert import site_to_proto
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse
from shared.domain.publication.calendar import ReleaseCalendar
from shared.event_records import event_record
from shared.topics import Topics
from tests.support.published import Published, covered_by, latest_releases

SITE_CHANGES = "site-changes"
SUMMARIES = "site-summaries"
PARTITIONS = 6
Event = SurveyResponse | InterventionEvent
Driver = SiteDriver | CrossDriver
Sent = tuple[str, bytes | None, bytes | None, Headers]  # topic, key, value, headers


class Crash(Exception):
    """The process died here: nothing after this point of the batch happened."""


class MemoryLog:
    """Topics as lists of records per partition, offsets from 0: a broker in memory."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], list[InputRecord]] = defaultdict(list)

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
    ) -> InputRecord:
        log = self.partitions[(topic, partition)]
        record = InputRecord(topic, partition, len(log), key, value, tuple(headers))
        log.append(record)
        return record

    def records(self, topic: str) -> list[InputRecord]:
        """Every record of a topic, partition by partition."""
        return [
            r for (name, _), log in sorted(self.partitions.items()) if name == topic for r in log
        ]


class MemoryOutbox(KafkaOutbox):
    """The Kafka outbox writing to a `MemoryLog`; `flush` may crash with only part of it written."""

    def __init__(self, log: MemoryLog, chaos: random.Random | None, crash_rate: float) -> None:
        super().__init__(
            self._send, benchmarks="benchmarks", summaries=SUMMARIES, deadletter="deadletter"
        )
        self.log = log
        self._chaos = chaos
        self._crash_rate = crash_rate
        self._unflushed: list[Sent] = []
        self.attempted: list[
            list[Published]
        ] = []  # each flush in full, even when a crash cut it short

    async def _send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> asyncio.Future[None]:
        self._unflushed.append((topic, key, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        unflushed, self._unflushed = self._unflushed, []
        self.attempted.append(
            [
                Published.of(key, value)
                for topic, key, value, _ in unflushed
                if topic == "benchmarks" and key is not None
            ]
        )
        if self._chaos and self._chaos.random() < self._crash_rate:
            self._write(
                unflushed[: self._chaos.randint(0, len(unflushed))]
            )  # some of it reached Kafka
            raise Crash("before the flush returned")
        self._write(unflushed)
        await super().flush()

    def _write(self, records: Iterable[Sent]) -> None:
        for topic, key, value, headers in records:
            partition = 0 if topic != "benchmarks" or key is None else zlib.crc32(key) % 3
            self.log.append(topic, partition, key, value, headers)


class MemoryStore:
    """A table: key -> value per partition, durable at once; `save` may crash part-way through a batch."""

    def __init__(self, chaos: random.Random | None, crash_rate: float) -> None:
        self.values: dict[tuple[int, str], bytes] = {}
        self._chaos = chaos
        self._crash_rate = crash_rate
        # A test's own condition for the next save to crash.
        self.crash_when: Callable[[], bool] = lambda: False

    def load(self, anchor: InputRecord, key: str) -> bytes | None:
        return self.values.get((anchor.partition, key))

    def peek(self, key: str) -> bytes | None:
        return next((value for (_, name), value in self.values.items() if name == key), None)

    def save(self, anchor: InputRecord, key: str, value: bytes) -> None:
        if self.crash_when() or (self._chaos and self._chaos.random() < self._crash_rate):
            raise Crash("while storing")
        self.values[(anchor.partition, key)] = value

    async def flush(self) -> None:
        """Saved values are durable at once here."""


@dataclass
class StaticInstruments:
    instruments: dict[tuple[str, int], Instrument]
    refreshes: int = 0

    async def refresh(self) -> None:
        self.refreshes += 1


class FaultyConsumer:
    """Reads input partitions the way Faust does, faults included.

    Batches interleave partitions; offsets are committed now and then, up to what was
    delivered; sometimes a record is dropped (the position moves past it, and a later commit
    passes it), as Faust does around rebalances. After a crash it resumes where the stage's
    watermarks say (what `seek_to_applied_offsets` makes Faust do), else at the commits.
    """

    def __init__(
        self, log: MemoryLog, topics: Sequence[str], chaos: random.Random, drop_rate: float
    ) -> None:
        self._log = log
        self._topics = set(topics)
        self._chaos = chaos
        self._drop_rate = drop_rate
        self.positions: dict[tuple[str, int], int] = {}
        self.committed: dict[tuple[str, int], int] = {}
        self.dropped = 0

    def _inputs(self) -> list[tuple[str, int]]:
        return sorted(tp for tp in self._log.partitions if tp[0] in self._topics)

    def lag(self) -> bool:
        return any(
            self.positions.get(tp, 0) < len(self._log.partitions[tp]) for tp in self._inputs()
        )

    def poll(self, max_records: int) -> list[InputRecord]:
        batch: list[InputRecord] = []
        while len(batch) < max_records:
            ready = [
                tp
                for tp in self._inputs()
                if self.positions.get(tp, 0) < len(self._log.partitions[tp])
            ]
            if not ready:
                break
            tp = self._chaos.choice(ready)
            record = self._log.partitions[tp][self.positions.get(tp, 0)]
            self.positions[tp] = record.offset + 1
            if self._chaos.random() < self._drop_rate:
                self.dropped += 1
                continue
            batch.append(record)
        return batch

    def maybe_commit(self) -> None:
        if self._chaos.random() < 0.5:
            self.committed.update(self.positions)

    def seek(self, offsets: dict[tuple[str, int], int]) -> None:
        self.positions.update(offsets)

    def restart(self, applied: dict[tuple[str, int], int]) -> None:
        self.positions = {tp: applied.get(tp, self.committed.get(tp, 0)) for tp in self._inputs()}


def partition_of(site_id: str) -> int:
    return zlib.crc32(site_id.encode()) % PARTITIONS


@dataclass
class MemoryPipeline:
    """Both stages over in-memory topics; `crash_rate` > 0 kills "the process" now and then,
    `drop_rate` > 0 makes the consumer drop records like Faust around rebalances."""

    instruments: Sequence[Instrument]
    as_of: datetime
    min_cell_size: int = 10
    min_sites: int = 10
    seed: int = 0
    crash_rate: float = 0.0
    drop_rate: float = 0.0
    crashes: int = 0
    log: MemoryLog = field(default_factory=MemoryLog)

    def __post_init__(self) -> None:
        chaos = random.Random(self.seed) if self.crash_rate else None
        self._chaos = random.Random(self.seed)
        self.outbox = MemoryOutbox(self.log, chaos, self.crash_rate)
        self.site_store = MemoryStore(chaos, self.crash_rate)
        self.group_store = MemoryStore(chaos, self.crash_rate)
        self.topics = Topics("memory.")
        self.site_topics = SiteTopics.of(self.topics, SITE_CHANGES)
        self._revision = 0
        self._sites: dict[str, tuple[bytes | None, int]] = {}  # the latest registry record of each
        self.arrivals: list[Event] = []  # every event published, in order
        self.site_consumer = FaultyConsumer(
            self.log,
            [self.site_topics.survey_responses, self.site_topics.interventions, SITE_CHANGES],
            self._chaos,
            self.drop_rate,
        )
        self.summary_consumer = FaultyConsumer(self.log, [SUMMARIES], self._chaos, self.drop_rate)
        self.site_driver = SiteDriver(
            topics=self.site_topics,
            store=self.site_store,
            outbox=self.outbox,
            instruments=StaticInstruments(
                {(i.instrument_id, i.version): i for i in self.instruments}
            ),
            # A scheduled release time every second, and the clock ticks a second per batch: the
            # calendar at its most frequent.
            settings=SiteStageSettings(
                self.min_cell_size,
                lambda: self.as_of,
                self._now,
                ReleaseCalendar(timedelta(seconds=1)),
            ),
            rewind=self._rewinder(self.site_consumer),
        )
        self.cross_driver = CrossDriver(
            topic=SUMMARIES,
            store=self.group_store,
            outbox=self.outbox,
            min_sites=self.min_sites,
            now=self._now,
            rewind=self._rewinder(self.summary_consumer),
        )

    def _rewinder(self, consumer: FaultyConsumer) -> Rewind:
        async def rewind(offsets: dict[InputPartition, int]) -> None:
            consumer.seek(offsets)

        return rewind

    def _now(self) -> datetime:
        # A clock that ticks a second per release cut.
        self._revision += 1
        return self.as_of + timedelta(seconds=self._revision)

    # Producing, as ingest and the registry forwarder do.

    def publish_events(
        self, events: Iterable[Event], *, extra_headers: Headers = ()
    ) -> list[InputRecord]:
        records = []
        for event in events:
            self.arrivals.append(event)
            record = event_record(self.topics, event)
            records.append(
                self.log.append(
                    record.topic,
                    partition_of(event.site_id),
                    record.key,
                    record.value,
                    [*record.headers, *extra_headers],
                )
            )
        return records

    def publish_raw(
        self, topic: str, site_id: str, value: bytes | None, headers: Headers = ()
    ) -> InputRecord:
        return self.log.append(topic, partition_of(site_id), site_id.encode(), value, headers)

    def publish_sites(self, sites: Iterable[Site], *, version: int = 0) -> list[InputRecord]:
        return [
            self.publish_site(s.site_id, site_to_proto(s).SerializeToString(), version=version)
            for s in sites
        ]

    def publish_site(self, site_id: str, value: bytes | None, *, version: int) -> InputRecord:
        self._sites[site_id] = (value, version)
        return self.log.append(
            SITE_CHANGES,
            partition_of(site_id),
            site_id.encode(),
            value,
            [(SITE_VERSION_HEADER, str(version).encode())],
        )

    # Consuming, as the Faust agents do.

    async def _consume(
        self,
        driver: Driver,
        consumer: FaultyConsumer,
        max_batch: int,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        while True:
            await self._consume_to_end(driver, consumer, max_batch, after)
            # What the stall watchdog does: a watermark behind the end of its log is read again.
            ends = {tp: len(self.log.partitions[tp]) for tp in consumer._inputs()}
            behind = {
                tp: offset
                for tp, offset in driver.resume_offsets(list(ends), default=0).items()
                if offset < ends[tp]
            }
            if not behind:
                return
            consumer.seek(behind)

    async def _consume_to_end(
        self,
        driver: Driver,
        consumer: FaultyConsumer,
        max_batch: int,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        applied = driver.resume_offsets
        while consumer.lag():
            batch = consumer.poll(self._chaos.randint(1, max_batch))
            if not batch:
                continue
            try:
                await driver.process(batch)
            except Crash:
                self.crashes += 1
                self.outbox._unflushed.clear()
                consumer.restart(applied(consumer._inputs()))
                continue
            consumer.maybe_commit()
            if after is not None:
                await after()

    async def run(self, *, max_batch: int = 50) -> None:
        """Both stages until every input is consumed: stage two catches up after each batch of stage
        one; then the next scheduled release time, as the leader's refresh brings it (`refresh`)."""
        await self._consume_all(max_batch)
        self.refresh()
        await self._consume_all(max_batch)

    def refresh(self) -> None:
        """What the leader does at a scheduled release time: every site's record forwarded again."""
        for site_id, (value, version) in list(self._sites.items()):
            self.publish_site(site_id, value, version=version)

    async def _consume_all(self, max_batch: int) -> None:
        await self._consume(
            self.site_driver, self.site_consumer, max_batch, lambda: self.drain_summaries(max_batch)
        )
        await self.drain_summaries(max_batch)

    async def drain_summaries(self, max_batch: int = 50) -> None:
        await self._consume(self.cross_driver, self.summary_consumer, max_batch)

    def published(self) -> list[Published]:
        return [Published.of(r.key or b"", r.value) for r in self.log.records("benchmarks")]

    def covered(self) -> list[Event]:
        """The events the latest releases on the topic cover."""
        return covered_by(latest_releases(self.published()), self.arrivals)

    def dead_letters(self) -> list[InputRecord]:
        return self.log.records("deadletter")
