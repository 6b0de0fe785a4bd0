"""Events per second of the batch core and of the processor's stages in memory, optionally profiled.

Two measurements over the demo dataset (`shared.demo_dataset`, scaled):
- batch: `compute_benchmarks` over every event, once;
- stages: the processor's own `SiteDriver` and `CrossDriver` over the same events as Kafka
  records (site registry first, then the events in arrival order, in batches of the service's
  default size, six partitions), with tables and topics in dictionaries. This is the service's
  path minus Kafka and Faust: decoding, folding, gating, suppression, encoding the releases and
  the table values. Afterwards the latest releases are checked against the batch reference over
  the events they cover (not timed).
- cross (`--profile cross --sites N ...`): the processor's `CrossDriver` alone, given a summary
  of each of N sites in one batch, then (timed) an update of each of the first `--updates` of
  them, one per batch; afterwards the latest release of each wave is checked against the batch
  reference's cross-site cells over the sites' latest scores (not timed).

    python scripts/profile_core.py --scale 1 4            # figures only
    python scripts/profile_core.py --profile stages       # with pyinstrument's call tree
    python scripts/profile_core.py --profile cross --sites 13 100 300 1000 --updates 100 [--no-tree]
    # the site stage as the freshness scenario loads it: 100 sites, 1,000 records a batch, a
    # scheduled time passed at every batch (--release-every 1) or never (86400)
    PYTHONPATH=. python scripts/profile_core.py --national 100 12000 --batch-size 1000 \
        --release-every 86400 --profile stages

On a shared machine the CPU time of this process is the steadier figure; both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from jedi.v1 import benchmarks_pb2
from services.processor.cross_driver import CrossDriver
from services.processor.inputs import SITE_VERSION_HEADER, InputRecord, SiteTopics
from services.processor.outbox import KafkaOutbox
from services.processor.settings import ProcessorSettings
from services.processor.site_driver import SiteDriver, SiteStageSettings
from shared.convert import site_to_proto
from shared.convert_releases import release_from_proto
from shared.demo_dataset import DemoDataset, build_demo_dataset
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.cross_site import SiteScore, cross_site_cells_of
from shared.domain.model import Composite, Instrument, InterventionEvent, SurveyResponse, Wave
from shared.domain.publication.calendar import ReleaseCalendar
from shared.domain.publication.reference import released_reference
from shared.domain.publication.site_summary import SiteSummary, encode_summary
from shared.domain.releases import Release, covered_events
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.domain.suppression import hidden_cross_site_keys
from shared.event_records import event_record
from shared.topics import Topics

NOW = datetime(2026, 11, 20, tzinfo=UTC)
PARTITIONS = 6
SITE_CHANGES = "site-changes"
SUMMARIES = "site-summaries"
BENCHMARKS = "benchmarks"
Event = SurveyResponse | InterventionEvent


def arrival_order(events: Sequence[Event]) -> list[Event]:
    """As sites send them: in time order (incident steps in lifecycle order)."""
    return sorted(
        events, key=lambda e: e.occurred_at if isinstance(e, InterventionEvent) else e.submitted_at
    )


class Log:
    """Topics as lists of records per partition."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], list[InputRecord]] = defaultdict(list)

    def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, headers: Any
    ) -> InputRecord:
        log = self.partitions[(topic, partition)]
        record = InputRecord(topic, partition, len(log), key, value, tuple(headers))
        log.append(record)
        return record


class Store:
    """A table in a dictionary, durable at once."""

    def __init__(self) -> None:
        self.values: dict[tuple[int, str], bytes] = {}

    def load(self, anchor: InputRecord, key: str) -> bytes | None:
        return self.values.get((anchor.partition, key))

    def peek(self, key: str) -> bytes | None:
        return next((v for (_, name), v in self.values.items() if name == key), None)

    def save(self, anchor: InputRecord, key: str, value: bytes) -> None:
        self.values[(anchor.partition, key)] = value

    async def flush(self) -> None:
        """Durable at once."""


class Instruments:
    def __init__(self, instruments: Sequence[Instrument]) -> None:
        self.instruments = {(i.instrument_id, i.version): i for i in instruments}

    async def refresh(self) -> None:
        """Every instrument is known from the start."""


def outbox_into(log: Log) -> KafkaOutbox:
    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Any) -> Any:
        partition = 0 if topic != BENCHMARKS else zlib.crc32(key or b"") % 3
        log.append(topic, partition, key, value, headers)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    return KafkaOutbox(send, benchmarks=BENCHMARKS, summaries=SUMMARIES, deadletter="deadletter")


def input_records(dataset: DemoDataset, events: Sequence[Event]) -> list[InputRecord]:
    """The site registry's changes, then the events, as the site stage reads them."""
    log = Log()
    topics = Topics("memory.")

    def partition(site_id: str) -> int:
        return zlib.crc32(site_id.encode()) % PARTITIONS

    records = [
        log.append(
            SITE_CHANGES,
            partition(site.site_id),
            site.site_id.encode(),
            site_to_proto(site).SerializeToString(),
            [(SITE_VERSION_HEADER, b"0")],
        )
        for site in dataset.sites
    ]
    for event in events:
        record = event_record(topics, event)
        records.append(
            log.append(
                record.topic, partition(event.site_id), record.key, record.value, record.headers
            )
        )
    return records


async def run_stages(
    dataset: DemoDataset, events: Sequence[Event], batch_size: int, release_every_s: float = 1.0
) -> Log:
    """Both stages over every record; the published topics. The clock moves a second each time
    it is read, so with the default calendar (a release every second) every batch passes a
    scheduled time, as in a backlog; a calendar of a day (86400) cuts no release at all."""
    out = Log()
    records = input_records(dataset, events)
    clock = iter(range(10**9))

    def now() -> datetime:
        return NOW + timedelta(seconds=next(clock))

    async def no_rewind(offsets: dict[tuple[str, int], int]) -> None:
        raise RuntimeError(f"nothing is dropped here: {offsets}")

    site_driver = SiteDriver(
        topics=SiteTopics.of(Topics("memory."), SITE_CHANGES),
        store=Store(),
        outbox=outbox_into(out),
        instruments=Instruments([dataset.instrument]),
        settings=SiteStageSettings(
            ProcessorSettings().min_cell_size,
            lambda: NOW,
            now,
            ReleaseCalendar(timedelta(seconds=release_every_s)),
        ),
        rewind=no_rewind,
    )
    cross_driver = CrossDriver(
        topic=SUMMARIES,
        store=Store(),
        outbox=outbox_into(out),
        min_sites=ProcessorSettings().min_sites,
        now=now,
        rewind=no_rewind,
    )
    read = 0
    for start in range(0, len(records), batch_size):
        await site_driver.process(records[start : start + batch_size])
        summaries = out.partitions[(SUMMARIES, 0)]
        for offset in range(read, len(summaries), batch_size):
            await cross_driver.process(summaries[offset : offset + batch_size])
        read = len(summaries)
    return out


def check(dataset: DemoDataset, events: Sequence[Event], out: Log) -> int:
    """Raise unless the latest releases equal their batch reference (`released_reference`: the
    cells they show, every value from the batch core over what they cover)."""
    latest: dict[str, Release] = {}
    for (topic, _), records in out.partitions.items():
        for record in records if topic == BENCHMARKS else ():
            message = benchmarks_pb2.BenchmarkRecord.FromString(record.value or b"")
            if message.WhichOneof("record") == "release":
                release = release_from_proto(message.release)
                if release.scope not in latest or release.number > latest[release.scope].number:
                    latest[release.scope] = release
    covered = covered_events(
        {
            scope.removeprefix("site/"): release.covered
            for scope, release in latest.items()
            if scope.startswith("site/")
        },
        events,
    )
    reference = released_reference(
        latest,
        dataset.sites,
        [dataset.instrument],
        covered,
        min_cell_size=ProcessorSettings().min_cell_size,
        min_sites=ProcessorSettings().min_sites,
        as_of=NOW,
    )
    shown = {cell.key: cell for release in latest.values() for cell in release.cells}
    if shown != reference.by_key():
        raise AssertionError(
            f"the releases differ from their batch reference: {len(shown)} cells shown,"
            f" {len(reference.cells)} expected"
        )
    return len(covered)


def site_summaries(sites: int, round_: int) -> list[SiteSummary]:
    """A summary of each site: every wave and composite, scores on a coarse grid (ties rank)."""
    summaries = []
    for index in range(sites):
        site_id = f"site-{index:04d}"
        scores = tuple(
            SiteScore(
                site_id,
                wave,
                composite,
                float((index * 7 + w * 13 + c * 5 + round_ * 11) % 101),
                1.0 + ((index * 3 + w + c * 17 + round_ * 29) % 401) / 100.0,
            )
            for w, wave in enumerate(Wave)
            for c, composite in enumerate(Composite)
        )
        as_of = NOW + timedelta(minutes=round_ * sites + index)
        summaries.append(SiteSummary(site_id, as_of, scores))
    return summaries


async def run_cross(sites: int, updates: int, profile: bool) -> tuple[Log, list[SiteSummary]]:
    """The cross-site stage given every site's summary in one batch, then `updates` of them one
    a batch (timed, and profiled if asked); the releases written and every site's latest summary."""
    joining, updated = site_summaries(sites, 0), site_summaries(sites, 1)[:updates]
    log = Log()
    records = [
        log.append(SUMMARIES, 0, s.site_id.encode(), encode_summary(s), [])
        for s in [*joining, *updated]
    ]
    out = Log()
    clock = iter(range(10**9))

    async def no_rewind(offsets: dict[tuple[str, int], int]) -> None:
        raise RuntimeError(f"nothing is dropped here: {offsets}")

    driver = CrossDriver(
        topic=SUMMARIES,
        store=Store(),
        outbox=outbox_into(out),
        min_sites=ProcessorSettings().min_sites,
        now=lambda: NOW + timedelta(seconds=next(clock)),
        rewind=no_rewind,
    )
    await driver.process(records[:sites])
    profiler = None
    if profile:
        from pyinstrument import Profiler  # a dev dependency: only imported when profiling

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    for record in records[sites:]:
        await driver.process([record])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(
        f"  {updates} updates one a batch: {elapsed:.2f} s = {rate(updates / elapsed)} summaries/s;"
        f" CPU {cpu:.2f} s = {rate(updates / cpu)} summaries/s of CPU,"
        f" {1000 * cpu / updates:.1f} ms of CPU each"
    )
    return out, [*updated, *joining[updates:]]


def check_cross(out: Log, latest: Sequence[SiteSummary]) -> int:
    """Raise unless each wave's latest release shows the batch reference's cross-site cells."""
    releases: dict[str, Release] = {}
    for (topic, _), records in out.partitions.items():
        for record in records if topic == BENCHMARKS else ():
            message = benchmarks_pb2.BenchmarkRecord.FromString(record.value or b"")
            release = release_from_proto(message.release)
            if release.scope not in releases or release.number > releases[release.scope].number:
                releases[release.scope] = release
    cells = cross_site_cells_of(score for summary in latest for score in summary.scores)
    hidden = hidden_cross_site_keys(cells, ProcessorSettings().min_sites)
    reference = {cell.key: cell for cell in cells if cell.key not in hidden}
    shown = {cell.key: cell for release in releases.values() for cell in release.cells}
    if shown != reference:
        raise AssertionError(f"{len(shown)} cross-site cells shown, {len(reference)} expected")
    return sum(
        len(records) for (topic, _), records in out.partitions.items() if topic == BENCHMARKS
    )


def measure_cross(sites: int, updates: int | None, profile: bool) -> None:
    updates = sites if updates is None else min(updates, sites)
    print(f"cross-site stage alone: {sites} sites in one batch, then {updates} updates one a batch")
    out, latest = asyncio.run(run_cross(sites, updates, profile))
    written = check_cross(out, latest)
    print(f"  latest releases equal the batch reference; {written} releases written")


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.3g}"


def timed(label: str, count: int, work: Callable[[], Any], profile: bool) -> Any:
    profiler = None
    if profile:
        from pyinstrument import Profiler  # a dev dependency: only imported when profiling

        profiler = Profiler(interval=0.0005)
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = work()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(
        f"{label}: {count} events in {elapsed:.2f} s = {rate(count / elapsed)} events/s;"
        f" CPU {cpu:.2f} s = {rate(count / cpu)} events/s of CPU"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0])
    parser.add_argument("--profile", choices=["batch", "stages", "cross", "none"], default="none")
    parser.add_argument("--batch-size", type=int, default=ProcessorSettings().batch_size)
    parser.add_argument("--sites", type=int, nargs="+", default=[13, 100, 300])
    parser.add_argument("--updates", type=int, help="cross: how many updates (default: --sites)")
    parser.add_argument("--no-tree", action="store_true", help="cross: figures only")
    parser.add_argument(
        "--release-every", type=float, default=1.0, help="stages: the calendar, in seconds"
    )
    parser.add_argument(
        "--national",
        type=int,
        nargs=2,
        metavar=("SITES", "RESPONSES"),
        help="stages: a national dataset of survey responses only (as the freshness scenario)",
    )
    arguments = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if arguments.profile == "cross":
        for sites in arguments.sites:
            measure_cross(sites, arguments.updates, not arguments.no_tree)
        return
    if arguments.national:
        # The benchmarks' builder (not an installed package: PYTHONPATH=. for this option).
        from benchmarks.dataset import national

        sites, responses = arguments.national
        dataset = national(sites, responses, 0, seed=77)
        dataset = DemoDataset(dataset.sites, dataset.instrument, dataset.responses, ())
        label = f"national dataset of {sites} sites"
        measure(dataset, label, arguments.profile, arguments.batch_size, arguments.release_every)
        return
    for scale in arguments.scale:
        dataset = build_demo_dataset(JEDI_CULTURE, now=NOW, scale=scale)
        label = f"demo dataset x{scale:g}"
        measure(dataset, label, arguments.profile, arguments.batch_size, arguments.release_every)


def measure(
    dataset: DemoDataset, label: str, profile: str, batch_size: int, release_every_s: float
) -> None:
    events = arrival_order([*dataset.responses, *dataset.interventions])
    print(f"{label}: {len(dataset.sites)} sites, {len(events)} events")
    timed(
        "  batch core (compute_benchmarks)",
        len(events),
        lambda: compute_benchmarks(
            dataset.sites,
            [dataset.instrument],
            dataset.responses,
            dataset.interventions,
            as_of=NOW,
        ),
        profile == "batch",
    )
    out = timed(
        f"  processor stages in memory (batches of {batch_size})",
        len(events),
        lambda: asyncio.run(run_stages(dataset, events, batch_size, release_every_s)),
        profile == "stages",
    )
    covered = check(dataset, events, out)
    releases = sum(len(r) for (topic, _), r in out.partitions.items() if topic == BENCHMARKS)
    print(
        f"  releases equal the batch reference over the {covered} events they cover;"
        f" {releases} benchmark records written"
    )


if __name__ == "__main__":
    main()
