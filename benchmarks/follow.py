"""Follows the benchmarks topic until it shows complete benchmarks equal to the batch reference.

Complete (releases on a calendar, issue 22): every event sent has been received by the
processor (each site's latest release covers or holds it back, as the release and its progress
record say); each site's latest release covers all it was sent but fewer than k per wave and for
the interventions (a wave advances at a scheduled time only with k new events, so up to k-1 may
wait for good); every latest release carries the same `as_of`; and the cells of the latest
releases equal the batch reference of those releases: which cells from the releases, every value
from the batch core over the events they cover, in the order the sites sent them (as
`shared.domain.publication.reference.released_reference` and services/demo_check.py compare).

The moment of completion is the broker timestamp of the last record needed (the producer's
clock, the same machine's): checking against the reference takes seconds at national scale,
and that time is no part of the processor's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer

from benchmarks.dataset import Event
from benchmarks.progress import bar
from jedi.v1 import benchmarks_pb2
from services.processor.clock import current_as_of
from shared.convert_releases import progress_from_proto, release_from_proto
from shared.demo_dataset import DemoDataset
from shared.domain.benchmark_set import Cell, DistributionCell, RankCell
from shared.domain.benchmarks import benchmark_cells, fold_site_states
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.domain.releases import Release, ReleaseProgress, covered_events, event_counts
from shared.domain.suppression import (
    DEFAULT_MIN_CELL_SIZE,
    DEFAULT_MIN_SITES,
    shown_cross_site_cells,
)
from shared.kafka import topic_partitions


class BenchmarksTopic:
    """The latest release and progress of every scope on a benchmarks topic, as it is read."""

    def __init__(self, servers: str, topic: str) -> None:
        self._servers = servers
        self._topic = topic
        self.releases: dict[str, Release] = {}
        self.progress: dict[str, ReleaseProgress] = {}
        self.records = 0
        self.last_timestamp_s = 0.0
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> BenchmarksTopic:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await self._consumer.start()
        partitions = await topic_partitions(self._servers, [self._topic])
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> int:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        count = 0
        for records in batches.values():
            for record in records:
                count += 1
                self.last_timestamp_s = max(self.last_timestamp_s, record.timestamp / 1000)
                if record.value is None:
                    continue
                message = benchmarks_pb2.BenchmarkRecord.FromString(record.value)
                if message.WhichOneof("record") == "release":
                    release = release_from_proto(message.release)
                    known = self.releases.get(release.scope)
                    if known is None or release.number >= known.number:
                        self.releases[release.scope] = release
                else:
                    progress = progress_from_proto(message.progress)
                    self.progress[progress.scope] = progress
        self.records += count
        return count

    def received(self) -> dict[tuple[str, str], int]:
        """Events received per (site, wave or "interventions"): covered by each site's latest
        release, plus what the latest progress of that release holds back."""
        counts: dict[tuple[str, str], int] = {}
        for scope, release in self.releases.items():
            if not scope.startswith("site/"):
                continue
            held_back = release.held_back
            progress = self.progress.get(scope)
            if progress is not None and progress.release_number == release.number:
                held_back = progress.held_back
            site_id = scope.removeprefix("site/")
            for part in (release.covered, held_back):
                for component, n in part.items():
                    if n:
                        counts[(site_id, component)] = counts.get((site_id, component), 0) + n
        return counts

    def covered(self) -> dict[str, dict[str, int]]:
        return {
            scope.removeprefix("site/"): dict(release.covered)
            for scope, release in self.releases.items()
            if scope.startswith("site/")
        }

    def waiting(self, sent: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """Per (site, wave or "interventions") sent, what the latest release does not cover."""
        covered = self.covered()
        return {
            (site_id, component): count - min(count, covered.get(site_id, {}).get(component, 0))
            for (site_id, component), count in sent.items()
        }

    def cells(self) -> dict[str, Cell]:
        return {cell.key: cell for release in self.releases.values() for cell in release.cells}

    def as_of(self) -> set[datetime]:
        return {release.as_of for release in self.releases.values()}


class Reference:
    """The batch reference of the topic's latest releases.

    The same as `released_reference(releases, ...)`, in two steps so that the expensive one is
    computed once per set of covered events: the batch core's cells over the events the
    releases cover (`fold_site_states`, `benchmark_cells`), cached; then, per comparison, the
    site cells the releases show, with the cross-site cells over those (`shown_cross_site_cells`).
    tests/unit/test_bench_reference.py checks that the two agree.
    """

    def __init__(
        self,
        dataset: DemoDataset,
        arrivals: Sequence[Event],
        *,
        min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
        min_sites: int = DEFAULT_MIN_SITES,
    ) -> None:
        self._dataset = dataset
        self._arrivals = arrivals
        self.min_cell_size = min_cell_size
        self._min_sites = min_sites
        self._cache: dict[object, dict[str, Cell]] = {}
        self.seconds = 0.0  # spent computing the batch core's cells

    def computed(self, covered: dict[str, dict[str, int]], as_of: datetime) -> dict[str, Cell]:
        """Every cell the batch core computes over the events `covered` counts, by key."""
        key = (
            as_of,
            tuple(sorted((site, tuple(sorted(c.items()))) for site, c in covered.items())),
        )
        if key not in self._cache:
            started = time.perf_counter()
            events = covered_events(covered, self._arrivals)
            states = fold_site_states(
                self._dataset.sites,
                [self._dataset.instrument],
                [e for e in events if isinstance(e, SurveyResponse)],
                [e for e in events if isinstance(e, InterventionEvent)],
            )
            self._cache[key] = benchmark_cells(
                states, self._dataset.sites, as_of=as_of, min_cell_size=self.min_cell_size
            ).by_key()
            self.seconds += time.perf_counter() - started
        return self._cache[key]

    def cells(
        self, releases: dict[str, Release], covered: dict[str, dict[str, int]], as_of: datetime
    ) -> dict[str, Cell]:
        """The reference of `releases` (latest by scope), covering `covered`, by key."""
        computed = self.computed(covered, as_of)
        keys = {cell.key for release in releases.values() for cell in release.cells}
        own: list[Cell] = [
            cell
            for key, cell in sorted(computed.items())
            if key in keys and not isinstance(cell, (DistributionCell, RankCell))
        ]
        cross = shown_cross_site_cells(own, self.min_cell_size, self._min_sites)
        return {cell.key: cell for cell in [*own, *cross]}

    def prime(self) -> float:
        """The batch core over every event, for today's `as_of` (what the processor stamps),
        computed before the clock starts; the seconds it took. (The releases cover every event
        only when no wave ends with fewer than k waiting: otherwise this is computed again.)"""
        covered: dict[str, dict[str, int]] = {}
        for (site_id, component), n in event_counts(self._arrivals).items():
            covered.setdefault(site_id, {})[component] = n
        before = self.seconds
        self.computed(covered, current_as_of())
        return self.seconds - before


@dataclass
class Completion:
    """When the topic first showed every event received (broker time of the record that made it
    so), and when it showed complete benchmarks equal to the reference."""

    received_at: float | None = None
    done_at: float | None = None


async def wait_complete(
    topic: BenchmarksTopic,
    reference: Reference,
    arrivals: Sequence[Event],
    *,
    timeout: float,
    alive: object = None,
    label: str = "processor",
    completion: Completion | None = None,
) -> float:
    """Until the topic shows complete benchmarks equal to the reference; returns the wall-clock
    time (time.time()) of the last record that made them so."""
    sent = event_counts(arrivals)
    total = sum(sent.values())
    k = reference.min_cell_size
    progress = bar(total, f"{label}: events received")
    deadline = time.monotonic() + timeout
    checked_at = -1
    completion = completion if completion is not None else Completion()
    try:
        while time.monotonic() < deadline:
            if callable(alive):
                alive()
            new = await topic.poll()
            received = topic.received()
            progress.update(sum(received.values()) - progress.n)
            if received != sent or (not new and checked_at == topic.records):
                continue
            if completion.received_at is None:
                completion.received_at = topic.last_timestamp_s
            if any(n >= k for n in topic.waiting(sent).values()):
                continue  # k or more of a wave not yet released: a scheduled release is due
            checked_at = topic.records
            stamps = topic.as_of()
            if len(stamps) != 1:
                continue
            # In a thread, so that what else runs on the loop (the national wave's polls of the
            # query service) goes on while the reference is computed.
            releases = dict(topic.releases)
            expected = await asyncio.to_thread(
                reference.cells, releases, topic.covered(), next(iter(stamps))
            )
            if topic.cells() == expected:
                completion.done_at = topic.last_timestamp_s
                return topic.last_timestamp_s
    finally:
        progress.close()
    received_total = sum(topic.received().values())
    waiting = sum(topic.waiting(sent).values())
    raise TimeoutError(
        f"{label}: no complete benchmarks after {timeout:.0f} s: received {received_total} of "
        f"{total} events, {waiting} not covered, {len(topic.releases)} scopes released"
    )
