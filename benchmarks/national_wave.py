"""A national wave end to end: 1,000 sites, 160,000 survey responses, 50,000 intervention events.

Ingest, processor and query run as processes (benchmarks/platform.py). The sites are registered,
and once the processor has released every (empty) site, the clock starts: four sites push their
events through ingest at a time, each in batches of 500, until every event is in. The wave is
done when the benchmarks topic shows complete benchmarks equal to the batch reference
(benchmarks/follow.py) and the query service lists every one of those latest releases.

Reported: the wall time; each service's peak resident memory (VmHWM) beside its resident set
once ready; the benchmark records written. Baselines, in the same run: the same records
produced straight to Kafka and read back, and the batch core over the same events.
The platform is left running for the recovery scenario, which stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.dataset import Event, describe, events_of
from benchmarks.follow import BenchmarksTopic, Completion, Reference, wait_complete
from benchmarks.platform import BATCH, LocalPlatform, register, requests_of, submit_all
from benchmarks.processor_throughput import produce_and_read_back
from benchmarks.progress import say
from benchmarks.results import ScenarioResult
from jedi.v1 import query_pb2, query_pb2_grpc
from shared.clients import call_metadata, open_channel
from shared.demo_dataset import DemoDataset

STREAMS = 4
# Generous: at today's processor speed on a shared 2-core machine the full wave takes most of an
# hour. JEDI_BENCH_NATIONAL_TIMEOUT_S bounds it; a wave cut short reports how far it got.
BOUNDED = os.environ.get("JEDI_BENCH_NATIONAL_TIMEOUT_S")
TIMEOUT_S = float(BOUNDED or 3 * 3600)


@dataclass
class NationalState:
    """What the recovery scenario starts from: the platform, still running, and its data."""

    platform: LocalPlatform
    dataset: DemoDataset
    topic: BenchmarksTopic
    complete: bool = True  # False: the wave was cut short, the processor has a backlog


class QueryListings:
    """When the query service first listed each release, from ListReleases polled all along.

    Polled while the wave runs (not once it is complete), so that the time the follower spends
    checking the topic against the batch reference is not counted as the query's.
    """

    def __init__(self, platform: LocalPlatform) -> None:
        self._platform = platform
        self._first: dict[tuple[str, int], float] = {}  # (scope, number) → time.time()

    async def poll(self, stop: asyncio.Event) -> None:
        async with open_channel(self._platform.query_address) as channel:
            stub = query_pb2_grpc.BenchmarkServiceStub(channel)
            metadata = call_metadata(self._platform.keys.coordinator)
            while not stop.is_set():
                reply = await stub.ListReleases(
                    query_pb2.ListReleasesRequest(), metadata=metadata, timeout=60
                )
                seen = time.time()
                for status in reply.releases:
                    self._first.setdefault((status.scope, status.number), seen)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)  # pacing between polls

    def listed_at(self, wanted: dict[str, int]) -> float | None:
        """When every scope was first listed at its wanted number or later (None: not yet)."""
        times = []
        for scope, number in wanted.items():
            later = [t for (s, n), t in self._first.items() if s == scope and n >= number]
            if not later:
                return None
            times.append(min(later))
        return max(times)

    async def wait_listed(self, topic: BenchmarksTopic, timeout: float) -> float:
        """Until the latest release of every scope on the topic was listed; when it was."""
        wanted = {scope: release.number for scope, release in topic.releases.items()}
        deadline = time.monotonic() + timeout
        while (listed := self.listed_at(wanted)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the query service does not list the latest releases")
            self._platform.check_alive()
            await asyncio.sleep(0.1)  # pacing: the poller fills in the listings
        return listed


def _add_peaks_and_records(
    result: ScenarioResult, platform: LocalPlatform, topic: BenchmarksTopic, before: int
) -> None:
    """Each service's peak memory, and the benchmark records written since `before`."""
    for name, peak in platform.peak_mib().items():
        result.add(
            f"{name} peak resident",
            peak,
            "MiB",
            "resident once ready",
            platform.ready_kib[name] / 1024,
        )
    result.add("benchmark records written during the wave", topic.records - before, "records")


def _cut_short(
    result: ScenarioResult,
    platform: LocalPlatform,
    topic: BenchmarksTopic,
    events: list[Event],
    elapsed: float,
    pushing: asyncio.Task[float],
    before: int,
) -> None:
    """How far a wave stopped by its timeout got: received events, their rate, the memory."""
    received = sum(topic.received().values())
    result.add("stopped after", elapsed, "s")
    result.add("events received by the processor by then", received, "events")
    result.add("of the events sent", received / len(events), "share")
    result.add("processor rate over the wave so far", received / elapsed, "ev/s")
    if pushing.done() and not pushing.cancelled() and pushing.exception() is None:
        result.add("ingest: every event accepted", len(events) / pushing.result(), "ev/s")
    else:
        pushing.cancel()
    _add_peaks_and_records(result, platform, topic, before)
    result.notes.append(
        f"the wave was stopped after {elapsed:.0f} s (JEDI_BENCH_NATIONAL_TIMEOUT_S): "
        f"{received:,} of {len(events):,} events received; at that rate the whole wave "
        f"would take about {len(events) / max(received / elapsed, 1e-9) / 60:.0f} minutes"
    )


async def measure(result: ScenarioResult, dataset: DemoDataset, directory: Path) -> NationalState:
    events = events_of(dataset)
    result.parameters.update(describe(dataset), events=len(events), streams=STREAMS, batch=BATCH)
    platform = LocalPlatform("national", directory, [s.site_id for s in dataset.sites])
    kafka_seconds = await produce_and_read_back(platform.servers, dataset)
    try:
        return await _wave(result, dataset, events, platform, kafka_seconds)
    except BaseException:
        await platform.stop()
        raise


async def _wave(
    result: ScenarioResult,
    dataset: DemoDataset,
    events: list[Event],
    platform: LocalPlatform,
    kafka_seconds: float,
) -> NationalState:
    await platform.start()
    await register(platform.ingest_address, platform.keys, dataset)
    topic = BenchmarksTopic(platform.servers, platform.topics.benchmarks.name)
    await topic.__aenter__()
    wanted = {f"site/{site.site_id}" for site in dataset.sites}
    deadline = time.monotonic() + 600
    while not wanted <= topic.releases.keys():
        platform.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("the processor did not release every registered site")
        await topic.poll()
    reference = Reference(dataset, events)
    # The reference over every event, before the clock, so that the check at the end is quick.
    # A wave bounded by JEDI_BENCH_NATIONAL_TIMEOUT_S is not expected to finish: it skips this
    # (at national size it takes as long as the batch core, minutes on a shared machine).
    batch_core = reference.prime() if BOUNDED is None else None
    before = topic.records
    requests = requests_of(events)
    say(f"national wave: {describe(dataset)}; pushing through ingest, {STREAMS} sites at a time")
    started = time.time()
    acked: list[float] = []  # when ingest had acknowledged every event

    async def push() -> float:
        seconds = await submit_all(
            platform.ingest_address, platform.keys, requests, streams=STREAMS, label="ingest"
        )
        acked.append(time.time())
        return seconds

    pushing = asyncio.create_task(push())
    completion = Completion()
    listings = QueryListings(platform)
    stop_polling = asyncio.Event()
    polling = asyncio.create_task(listings.poll(stop_polling))
    try:
        done = await wait_complete(
            topic,
            reference,
            events,
            timeout=TIMEOUT_S,
            alive=platform.check_alive,
            label="national",
            completion=completion,
        )
        ingest_seconds = await pushing
        listed = await listings.wait_listed(topic, 600)
    except TimeoutError as error:
        _cut_short(result, platform, topic, events, time.time() - started, pushing, before)
        result.error = f"TimeoutError: {error}"
        return NationalState(platform, dataset, topic, complete=False)
    finally:
        stop_polling.set()
        await polling
    wall = max(done, listed) - started
    result.add(
        "wall time, first event sent → query lists complete benchmarks",
        wall,
        "s",
        "produce and read back",
        kafka_seconds,
    )
    result.add(
        "end-to-end throughput",
        len(events) / wall,
        "ev/s",
        "produce and read back",
        len(events) / kafka_seconds,
    )
    result.add("ingest: every event accepted", len(events) / ingest_seconds, "ev/s")
    result.add("processor: benchmarks complete on the topic", done - started, "s")
    # Issue 22's goal: the first (complete) release of the whole wave, once all of it arrived.
    after_arrival = done - acked[0]
    result.add(
        "first complete release after ingest acknowledged every event",
        after_arrival,
        "s",
    )
    if completion.received_at is not None:
        result.add(
            "first complete release after the processor counted every event",
            done - completion.received_at,
            "s",
        )
        result.add(
            "processor: every event counted (progress), after ingest acknowledged the last",
            completion.received_at - acked[0],
            "s",
        )
    peaks = platform.peak_mib()
    result.notes.append(
        f"goal (issue 22) first release of the wave < 60 s after it all arrived: "
        f"{'met' if after_arrival < 60 else 'NOT met'} ({after_arrival:.1f} s); every service "
        f"< 1 GiB: {'met' if max(peaks.values()) < 1024 else 'NOT met'} ("
        + ", ".join(f"{name} {peak:,.0f} MiB" for name, peak in peaks.items())
        + ")"
    )
    if batch_core is None:
        batch_core = reference.seconds
    result.add("batch core over the same events", batch_core, "s")
    if reference.seconds > batch_core:
        result.notes.append(
            "the releases covered less than every event at first: the reference was computed "
            f"again ({reference.seconds - batch_core:.0f} s, outside the clock)"
        )
    _add_peaks_and_records(result, platform, topic, before)
    result.add("scopes released", len(topic.releases), "scopes")
    cells = sum(len(r.cells) for r in topic.releases.values())
    result.add("cells shown", cells, "cells")
    over = [name for name, peak in platform.peak_mib().items() if peak > 1024]
    if over:
        result.notes.append(f"over 1 GiB resident: {', '.join(over)}")
    return NationalState(platform, dataset, topic)
