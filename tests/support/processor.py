"""Test support for the processor: an in-memory pipeline, what the public topic shows, privacy checks,
and the processor as a real subprocess.

The in-memory pipeline runs the service's own drivers (`SiteDriver`, `CrossDriver`) over
records in lists, with crashes injected between "Kafka has the cells" and "the table has the
value": the contract every path that produces benchmarks must meet is tested without Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiokafka import TopicPartition

from jedi.v1 import benchmarks_pb2
from services.processor.cross_driver import CrossDriver
from services.processor.inputs import SITE_VERSION_HEADER, InputRecord, SiteTopics
from services.processor.outbox import KafkaOutbox
from services.processor.site_driver import SiteDriver, SiteStageSettings
from shared.convert import event_to_proto, site_to_proto
from shared.convert_releases import progress_from_proto, release_from_proto
from shared.domain.audit import audit
from shared.domain.benchmark_set import Cell, DistributionCell, RankCell, ReachCell
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse
from shared.domain.releases import Release, ReleaseProgress, covered_events, event_counts
from shared.domain.survey_state import TOTAL
from shared.event_records import event_record
from shared.kafka import make_consumer, topic_partitions
from shared.topics import Topics

ROOT = Path(__file__).resolve().parents[2]
SITE_CHANGES = "site-changes"
SUMMARIES = "site-summaries"
PARTITIONS = 6


# --- the public topic ------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """One record of the benchmarks topic: a release, or the progress of one (or a tombstone)."""

    key: str
    release: Release | None = None
    progress: ReleaseProgress | None = None
    trace_id: str | None = None  # of the W3C traceparent header, if any

    @classmethod
    def of(
        cls, key: bytes, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> Published:
        parent = dict(headers).get("traceparent")
        trace_id = parent.decode().split("-")[1] if parent else None
        if value is None:
            return cls(key.decode(), trace_id=trace_id)
        message = benchmarks_pb2.BenchmarkRecord.FromString(value)
        if message.WhichOneof("record") == "release":
            return cls(key.decode(), release=release_from_proto(message.release), trace_id=trace_id)
        return cls(key.decode(), progress=progress_from_proto(message.progress), trace_id=trace_id)


@dataclass(frozen=True)
class ShownCell:
    """A cell as the latest release of its scope shows it."""

    key: str
    cell: Cell
    as_of: datetime
    revision: int  # the release number


def latest_releases(records: Iterable[Published]) -> dict[str, Release]:
    """The latest release of every scope (the highest number; a replay may repeat one)."""
    view: dict[str, Release] = {}
    for record in records:
        release = record.release
        if release is not None and (
            release.scope not in view or release.number >= view[release.scope].number
        ):
            view[release.scope] = release
    return view


def latest(records: Iterable[Published]) -> dict[str, ShownCell]:
    """Every cell the latest releases show, by key."""
    return {
        cell.key: ShownCell(cell.key, cell, release.as_of, release.number)
        for release in latest_releases(records).values()
        for cell in release.cells
    }


def batch_reference(sites, instruments, events, *, k: int, min_sites: int, as_of: datetime):
    """`compute_benchmarks` over a mixed list of events."""
    return compute_benchmarks(
        sites,
        instruments,
        [e for e in events if isinstance(e, SurveyResponse)],
        [e for e in events if not isinstance(e, SurveyResponse)],
        min_cell_size=k,
        min_sites=min_sites,
        as_of=as_of,
    )


def releases_of(records: Iterable[Published]) -> list[Release]:
    return [record.release for record in records if record.release is not None]


def covered_by(
    releases: Mapping[str, Release], arrivals: Iterable[SurveyResponse | InterventionEvent]
) -> list:
    """The events the latest site releases (by scope) cover, in the order they were sent."""
    covered = {
        scope.removeprefix("site/"): release.covered
        for scope, release in releases.items()
        if scope.startswith("site/")
    }
    return covered_events(covered, arrivals)


def record_problems(releases: Iterable[Release], k: int, min_sites: int) -> list[str]:
    """Each cell on its own: no breakdown cell below k, no derived cell over a group below k,
    no reach value about fewer than k people, no distribution over fewer than `min_sites` sites."""
    problems: list[str] = []
    for cell in (cell for release in releases for cell in release.cells):
        if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)) and cell.n < k:
            problems.append(f"{cell.key}: n={cell.n} < {k}")
        elif isinstance(cell, DisparityCell) and min(cell.n, cell.reference_n) < k:
            problems.append(f"{cell.key}: compares {cell.n} with {cell.reference_n} people")
        elif isinstance(cell, ChangeCell) and min(cell.from_n, cell.to_n) < k:
            problems.append(f"{cell.key}: compares {cell.from_n} with {cell.to_n} people")
        elif isinstance(cell, ReachCell) and cell.describes_people and cell.n < k:
            problems.append(f"{cell.key}: about {cell.n} people")
        elif isinstance(cell, DistributionCell) and cell.sites < min_sites:
            problems.append(f"{cell.key}: over {cell.sites} sites")
    return problems


def privacy_violations(releases: Sequence[Release], k: int, min_sites: int) -> list[str]:
    """Every way a release ever written could reveal fewer than k people: each cell on its own
    (`record_problems`), each release on its own (a derived cell only with the cells it comes
    from, no subtraction of shown cells from a shown total leaving 1..k-1 people), and the whole
    history as the auditor reads it."""
    problems = record_problems(releases, k, min_sites)
    for release in releases:
        problems.extend(_publication_problems(release.by_key(), k))
    problems.extend(finding.description for finding in audit(releases, k, min_sites=min_sites))
    return problems


def _publication_problems(cells: Mapping[str, Cell], k: int) -> list[str]:
    problems = []
    families: dict[str, list] = defaultdict(list)
    for cell in cells.values():
        if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)):
            families[cell.family].append(cell)
        if isinstance(cell, (DisparityCell, ChangeCell)):
            missing = [key for key in cell.depends_on if key not in cells]
            if missing:
                problems.append(f"{cell.key} is shown without {missing}")
        if isinstance(cell, RankCell) and cell.depends_on[1] not in cells:
            problems.append(f"{cell.key} is shown without its distribution")
    for family, members in families.items():
        total = next((cell for cell in members if cell.dimension == TOTAL), None)
        by_dimension: dict[str, int] = defaultdict(int)
        for cell in members:
            if cell.dimension != TOTAL:
                by_dimension[cell.dimension] += cell.n
        if total is None:
            continue  # without a total, nothing is subtracted from anything
        for dimension, shown in by_dimension.items():
            left = total.n - shown
            if 0 < left < k:
                problems.append(
                    f"{family}: {total.n} in total minus {shown} shown by {dimension} leaves {left}"
                )
    return problems


# --- an in-memory pipeline running the service's drivers --------------------------------


class Crash(Exception):
    """The process died here: nothing after this point of the batch happened."""


class MemoryLog:
    """Topics as lists of records per partition, offsets from 0: a broker in memory."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], list[InputRecord]] = defaultdict(list)

    def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, headers=()
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
        self._unflushed: list[tuple[str, bytes | None, bytes | None, list]] = []
        self.attempted: list[
            list[Published]
        ] = []  # each flush in full, even when a crash cut it short

    async def _send(self, topic, key, value, headers):
        self._unflushed.append((topic, key, value, headers))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        unflushed, self._unflushed = self._unflushed, []
        self.attempted.append(
            [
                Published.of(key, value)
                for topic, key, value, _ in unflushed
                if topic == "benchmarks"
            ]
        )
        if self._chaos and self._chaos.random() < self._crash_rate:
            self._write(
                unflushed[: self._chaos.randint(0, len(unflushed))]
            )  # some of it reached Kafka
            raise Crash("before the flush returned")
        self._write(unflushed)
        await super().flush()

    def _write(self, records) -> None:
        for topic, key, value, headers in records:
            partition = 0 if topic != "benchmarks" else zlib.crc32(key) % 3
            self.log.append(topic, partition, key, value, headers)


class MemoryStore:
    """A table: key -> value per partition, durable at once; `save` may crash part-way through a batch."""

    def __init__(self, chaos: random.Random | None, crash_rate: float) -> None:
        self.values: dict[tuple[int, str], bytes] = {}
        self._chaos = chaos
        self._crash_rate = crash_rate
        self.crash_when = lambda: False  # a test's own condition for the next save to crash

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
        self.arrivals: list[
            SurveyResponse | InterventionEvent
        ] = []  # every event published, in order
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
            settings=SiteStageSettings(self.min_cell_size, lambda: self.as_of, self._now),
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

    def _rewinder(self, consumer: FaultyConsumer):
        async def rewind(offsets):
            consumer.seek(offsets)

        return rewind

    def _now(self) -> datetime:
        # A clock that ticks a second per release cut.
        self._revision += 1
        return self.as_of + timedelta(seconds=self._revision)

    # Producing, as ingest and the registry forwarder do.

    def publish_events(
        self, events: Iterable[SurveyResponse | InterventionEvent], *, extra_headers=()
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

    def publish_raw(self, topic: str, site_id: str, value: bytes | None, headers=()) -> InputRecord:
        return self.log.append(topic, partition_of(site_id), site_id.encode(), value, headers)

    def publish_sites(self, sites: Iterable[Site], *, version: int = 0) -> list[InputRecord]:
        return [
            self.publish_site(s.site_id, site_to_proto(s).SerializeToString(), version=version)
            for s in sites
        ]

    def publish_site(self, site_id: str, value: bytes | None, *, version: int) -> InputRecord:
        return self.log.append(
            SITE_CHANGES,
            partition_of(site_id),
            site_id.encode(),
            value,
            [(SITE_VERSION_HEADER, str(version).encode())],
        )

    # Consuming, as the Faust agents do.

    async def _consume(self, driver, consumer: FaultyConsumer, max_batch: int, after=None) -> None:
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
        self, driver, consumer: FaultyConsumer, max_batch: int, after=None
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
        """Both stages until every input is consumed: stage two catches up after each batch of stage one."""
        await self._consume(
            self.site_driver, self.site_consumer, max_batch, lambda: self.drain_summaries(max_batch)
        )
        await self.drain_summaries(max_batch)

    async def drain_summaries(self, max_batch: int = 50) -> None:
        await self._consume(self.cross_driver, self.summary_consumer, max_batch)

    def published(self) -> list[Published]:
        return [Published.of(r.key, r.value) for r in self.log.records("benchmarks")]

    def covered(self) -> list[SurveyResponse | InterventionEvent]:
        """The events the latest releases on the topic cover."""
        return covered_by(latest_releases(self.published()), self.arrivals)

    def dead_letters(self) -> list[InputRecord]:
        return self.log.records("deadletter")


# --- the processor as a real subprocess ---------------------------------------------------


@dataclass
class ProcessorProcess:
    """`python -m services.processor` with its own settings; logs go to a file."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> ProcessorProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.processor"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def terminate(self, timeout: float = 60) -> int | None:
        if self.process is None:
            return None
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def stopped_afterwards(processes: list[ProcessorProcess]) -> Iterator[None]:
    """Terminates every process in `processes` (the block may add more) when the block ends,
    after printing the last lines of each one's log if it failed."""
    try:
        yield
    except BaseException:
        for process in processes:
            print(f"--- {process.log_path.name}\n{process.log_tail(30)}")
        raise
    finally:
        for process in processes:
            process.terminate()


def processor_env(
    *,
    namespace: str,
    state_dir: Path,
    servers: str,
    app_id: str = "jedi-processor",
    **settings: object,
) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_APP_ID": app_id,
        "JEDI_STATE_DIR": str(state_dir),
        "JEDI_WEB_ENABLED": "false",
        "JEDI_METRICS_PORT": "0",
        "JEDI_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({f"JEDI_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def wait_until(
    condition, timeout: float, interval: float = 0.5, message: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")


def topics_of(namespace: str) -> Topics:
    return Topics(namespace)


async def partitions_once_created(
    servers: str, topic: str, *, wait_s: float = 20
) -> list[TopicPartition]:
    """The topic's partitions, waiting for it to be created (by the processor) for up to `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            partitions = await topic_partitions(servers, [topic])
        except RuntimeError:  # not created yet
            partitions = []
        if partitions:
            return partitions
        if time.monotonic() > deadline:
            raise AssertionError(f"topic {topic} does not exist")
        await asyncio.sleep(0.2)


class BenchmarksFollower:
    """Follows the benchmarks topic from its beginning: every record ever written, and the latest view."""

    def __init__(self, servers: str, topic: str) -> None:
        self._servers = servers
        self._topic = topic
        self.records: list[Published] = []
        self.view: dict[str, ShownCell] = {}
        self.last_change = time.monotonic()
        self._consumer = None

    async def __aenter__(self) -> BenchmarksFollower:
        self._consumer = make_consumer(self._servers)
        await self._consumer.start()
        try:
            tps = await partitions_once_created(self._servers, self._topic)
            self._consumer.assign(tps)
            await self._consumer.seek_to_beginning(*tps)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self._consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> int:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        count = 0
        for records in batches.values():
            for record in records:
                self.records.append(Published.of(record.key, record.value, record.headers))
                count += 1
        if count:
            self.view = latest(self.records)
            self.last_change = time.monotonic()
        return count

    def cells(self) -> dict[str, Cell]:
        return {key: record.cell for key, record in self.view.items()}

    def as_of(self) -> set[datetime]:
        return {record.as_of for record in self.view.values()}

    async def wait_for(
        self,
        sites: Sequence[Site],
        instruments: Sequence[Instrument],
        arrivals: Sequence[SurveyResponse | InterventionEvent],
        *,
        timeout: float,
        quiet_s: float = 3.0,
        alive=lambda: True,
        k: int = 10,
        min_sites: int = 10,
    ) -> None:
        """Until the processor has received every event of `arrivals` (in the order sent: the
        releases' covered and held-back counts say so), the view equals the batch reference over
        the events the latest releases cover, and it stays so, with nothing new written, for
        `quiet_s` seconds."""
        deadline = time.monotonic() + timeout
        sent = event_counts(arrivals)
        reference = None
        while time.monotonic() < deadline:
            await self.poll()
            stamps = self.as_of()
            if len(stamps) == 1 and self.received() == sent:
                releases = latest_releases(self.records)
                reference = batch_reference(
                    sites,
                    instruments,
                    covered_by(releases, arrivals),
                    k=k,
                    min_sites=min_sites,
                    as_of=next(iter(stamps)),
                )
                if (
                    self.cells() == reference.by_key()
                    and time.monotonic() - self.last_change >= quiet_s
                ):
                    return
            if not alive():
                raise AssertionError("the processor exited")
        raise AssertionError(
            f"received {self.received()} of {sent}; " + self.describe_difference(reference)
        )

    def received(self) -> dict[tuple[str, str], int]:
        """Events the processor has received, per (site, wave or "interventions"): covered by the
        latest release of each site plus held back as the latest progress of that release (or the
        release itself) says. A release and its progress have different keys, so they may be read
        in either order."""
        releases = {
            scope: release
            for scope, release in latest_releases(self.records).items()
            if scope.startswith("site/")
        }
        held_back = {scope: release.held_back for scope, release in releases.items()}
        for record in self.records:
            progress = record.progress
            if (
                progress is not None
                and progress.scope in releases
                and (progress.release_number == releases[progress.scope].number)
            ):
                held_back[progress.scope] = progress.held_back
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for scope, release in releases.items():
            for parts in (release.covered, held_back[scope]):
                for component, n in parts.items():
                    counts[(scope.removeprefix("site/"), component)] += n
        return {key: n for key, n in counts.items() if n}

    async def wait_until(self, condition, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.view):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; {len(self.view)} cells on the topic")
            await self.poll()

    async def wait_for_registry(self, sites: Iterable[Site], *, timeout: float) -> None:
        """Until every site's (empty) reach cells are out: the processor forwarded the registry."""
        keys = [f"reach/{site.site_id}/community_partnerships" for site in sites]
        await self.wait_until(lambda view: all(key in view for key in keys), timeout=timeout)

    def describe_difference(self, reference) -> str:
        if reference is None:
            return f"timed out: cells carry as_of {sorted(self.as_of())}; {len(self.view)} cells"
        expected, shown = reference.by_key(), self.cells()
        missing, extra = sorted(set(expected) - set(shown)), sorted(set(shown) - set(expected))
        differ = sorted(key for key in set(expected) & set(shown) if expected[key] != shown[key])
        return (
            f"timed out: {len(shown)} cells shown, {len(expected)} expected; missing {len(missing)} "
            f"{missing[:5]}, unexpected {len(extra)} {extra[:5]}, different {len(differ)} {differ[:5]}"
        )


def arrival_order(events: Iterable[SurveyResponse | InterventionEvent]) -> list:
    """As sites send them: in time order, so incident steps arrive in lifecycle order."""
    return sorted(
        events, key=lambda event: getattr(event, "occurred_at", None) or event.submitted_at
    )


async def submit_events(ingest, events: Sequence, *, batch: int = 500) -> int:
    """Push events through the ingest service over gRPC (coordinator key); the number accepted."""
    accepted = 0
    for start in range(0, len(events), batch):
        reply = await ingest.submit(
            [event_to_proto(event) for event in events[start : start + batch]]
        )
        if reply.rejected_count:
            reasons = [r for r in reply.results if r.status != 1][:3]
            raise AssertionError(f"ingest rejected {reply.rejected_count} events: {reasons}")
        accepted += reply.accepted_count
    return accepted
