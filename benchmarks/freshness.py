"""Freshness under load: from a response to the progress record counting it, and to its release.

Ingest, processor and query run as processes (benchmarks/platform.py). Survey responses of
100 sites go through ingest at a steady rate (2,000 events/s: a call of 500 events, a few of
each site, every 0.25 s, whether or not the previous call has returned) for a bounded time, while
a coordinator follows `Watch` on the query service with the dashboard's overview filter
(composites, distributions, ranks) and every release status.

Progress freshness (the goal of issue 22: p99 under 1 s): from the moment ingest acknowledged
the call carrying a response to the moment a status on the Watch stream first counted it, a
progress record (received since the last release) or a release. A status counts the first n
responses of a (site, wave) when its covered and held-back counts add up to n; the n-th response
is the n-th the benchmark sent of that (site, wave). Calls overlap (up to 8 in flight), so the
n-th received may belong to another call in rare cases; at this load they seldom overlap.

Release freshness: releases are cut on a calendar (JEDI_RELEASE_EVERY, 2 s here), so this one
measures the schedule as much as the pipeline. A site's release covers, per wave, the first n
responses the site sent; the response that made it possible is the n-th of the wave whose count
grew (the latest, if several grew). Its latency is from the moment the call carrying it was
sent to the moment the release's status arrived on the Watch stream. The lag is what was sent and not yet received by the processor (the release
statuses' covered and held-back counts), sampled each second: if it grows, the pipeline does
not keep up, and the latencies measure a queue.

Baseline, in the same run and under the same load: a Kafka round trip (one record produced
with acks=all until a consumer has it), repeated every 50 ms during the load.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.dataset import describe, national
from benchmarks.platform import RELEASE_EVERY, LocalPlatform, register
from benchmarks.progress import say
from benchmarks.results import ScenarioResult, percentile
from jedi.v1 import benchmarks_pb2, ingest_pb2, ingest_pb2_grpc, query_pb2, query_pb2_grpc
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto
from shared.domain.model import SurveyResponse, Wave
from shared.kafka import ensure_topics, make_producer
from shared.topics import TopicSpec

SITES = 100
TICK_S = 0.25
MAX_CALLS_IN_FLIGHT = 8


class Arrivals:
    """What the Watch stream has shown: each site's latest status, and each release's latency."""

    def __init__(self, sent_at: dict[tuple[str, str], list[float]]) -> None:
        self._sent_at = sent_at
        self.statuses: dict[str, benchmarks_pb2.ReleaseStatus] = {}
        self.latencies: list[float] = []
        self.released = asyncio.Event()
        # Per (site, wave): when the Watch stream first counted its 1st, 2nd, ... response.
        self.counted_at: dict[tuple[str, str], list[float]] = defaultdict(list)

    def apply(self, status: benchmarks_pb2.ReleaseStatus, arrived: float) -> None:
        if not status.site_id:
            return
        for wave in {*status.covered, *status.held_back}:
            counted = self.counted_at[(status.site_id, wave)]
            total = status.covered.get(wave, 0) + status.held_back.get(wave, 0)
            counted.extend([arrived] * (total - len(counted)))
        before = self.statuses.get(status.scope)
        self.statuses[status.scope] = status
        if before is not None and status.number <= before.number:
            return  # progress only: events held back
        enabling = [
            self._sent_at[(status.site_id, wave)][count - 1]
            for wave, count in status.covered.items()
            if count > (before.covered.get(wave, 0) if before else 0)
            and (status.site_id, wave) in self._sent_at
            and count <= len(self._sent_at[(status.site_id, wave)])
        ]
        if enabling:
            self.latencies.append(arrived - max(enabling))

    def progress_latencies(self, acked_at: dict[tuple[str, str], list[float]]) -> list[float]:
        """Per response acknowledged and counted: from its acknowledgement to its first count."""
        return [
            counted - acked
            for key, acks in acked_at.items()
            for acked, counted in zip(acks, self.counted_at.get(key, ()), strict=False)
        ]

    def received(self) -> int:
        return sum(
            sum(status.covered.values()) + sum(status.held_back.values())
            for status in self.statuses.values()
        )


async def follow_watch(address: str, key: str, arrivals: Arrivals, snapshot: asyncio.Event) -> None:
    async with open_channel(address) as channel:
        stub = query_pb2_grpc.BenchmarkServiceStub(channel)
        request = query_pb2.WatchRequest(
            kinds=[
                query_pb2.CELL_KIND_COMPOSITE,
                query_pb2.CELL_KIND_DISTRIBUTION,
                query_pb2.CELL_KIND_RANK,
            ]
        )
        async for message in stub.Watch(request, metadata=call_metadata(key)):
            arrived = time.time()
            for status in message.releases:
                arrivals.apply(status, arrived)
            if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
                snapshot.set()


async def kafka_round_trips(servers: str, stop: asyncio.Event, samples: list[float]) -> None:
    spec = TopicSpec(f"bench-round-trip-{uuid.uuid4().hex[:8]}", 1)
    await ensure_topics(servers, [spec])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers, isolation_level="read_committed", enable_auto_commit=False
    )
    producer = make_producer(servers, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        partition = TopicPartition(spec.name, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)
        while not stop.is_set():
            started = time.perf_counter()
            await producer.send_and_wait(spec.name, b"x", key=b"k")
            await consumer.getone()
            samples.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)  # pacing: a sample every 50 ms
    finally:
        await producer.stop()
        await consumer.stop()


async def measure(result: ScenarioResult, rate: int, duration_s: float, directory: Path) -> None:
    responses_needed = int(rate * duration_s)
    dataset = national(SITES, responses_needed, 0, seed=77)
    result.parameters.update(
        describe(dataset), rate_ev_s=rate, duration_s=duration_s, tick_s=TICK_S
    )
    responses: list[SurveyResponse] = list(dataset.responses)
    per_tick = max(1, round(rate * TICK_S))
    requests = [
        ingest_pb2.SubmitEventsRequest(
            events=[event_to_proto(r) for r in responses[start : start + per_tick]]
        )
        for start in range(0, len(responses), per_tick)
    ]
    components = [
        [(r.site_id, Wave(r.wave).value) for r in responses[start : start + per_tick]]
        for start in range(0, len(responses), per_tick)
    ]
    sent_at: dict[tuple[str, str], list[float]] = defaultdict(list)
    arrivals = Arrivals(sent_at)
    platform = LocalPlatform("freshness", directory, [s.site_id for s in dataset.sites])
    watch: asyncio.Task[None] | None = None
    try:
        await platform.start()
        await register(platform.ingest_address, platform.keys, dataset)
        snapshot = asyncio.Event()
        watch = asyncio.create_task(
            follow_watch(platform.query_address, platform.keys.coordinator, arrivals, snapshot)
        )
        await asyncio.wait_for(snapshot.wait(), 60)
        deadline = time.monotonic() + 120
        while len(arrivals.statuses) < SITES:  # every empty site released once registered
            platform.check_alive()
            if time.monotonic() > deadline or watch.done():
                raise TimeoutError(f"only {len(arrivals.statuses)} sites released")
            await asyncio.sleep(0.2)  # pacing: the Watch task fills the statuses
        say(f"freshness: {rate} ev/s across {SITES} sites for {duration_s:.0f} s")
        stop_round_trips = asyncio.Event()
        round_trips: list[float] = []
        baseline = asyncio.create_task(
            kafka_round_trips(platform.servers, stop_round_trips, round_trips)
        )
        in_flight = asyncio.Semaphore(MAX_CALLS_IN_FLIGHT)
        calls: list[asyncio.Task[None]] = []
        lag: list[tuple[float, int]] = []
        acks: dict[int, float] = {}  # call index → when ingest acknowledged it
        sent = 0
        async with open_channel(platform.ingest_address) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            metadata = call_metadata(platform.keys.coordinator)

            async def call(request: ingest_pb2.SubmitEventsRequest, index: int) -> None:
                async with in_flight:
                    reply = await stub.SubmitEvents(request, metadata=metadata, timeout=120)
                    acked = time.time()
                if reply.rejected_count:
                    raise RuntimeError(f"ingest rejected {reply.rejected_count} events")
                acks[index] = acked

            started = time.monotonic()
            for index, (request, keys) in enumerate(zip(requests, components, strict=True)):
                await asyncio.sleep(max(0.0, started + index * TICK_S - time.monotonic()))
                now = time.time()
                for key in keys:
                    sent_at[key].append(now)
                sent += len(keys)
                calls.append(asyncio.create_task(call(request, index)))
                if index % round(1 / TICK_S) == 0:
                    lag.append((time.monotonic() - started, sent - arrivals.received()))
                    platform.check_alive()
            await asyncio.gather(*calls)
            sending_s = time.monotonic() - started
            lag.append((sending_s, sent - arrivals.received()))
        stop_round_trips.set()
        await baseline
        grace = min(10.0, duration_s / 3)
        await asyncio.sleep(grace)  # releases cut from the last events still arrive
        end_lag = sent - arrivals.received()
        # Each response's acknowledgement, in the order sent per (site, wave).
        acked_at: dict[tuple[str, str], list[float]] = defaultdict(list)
        for index, keys in enumerate(components):
            for key in keys:
                acked_at[key].append(acks[index])
        progress = arrivals.progress_latencies(acked_at)
        result.parameters["responses_counted"] = len(progress)
        if not progress:
            result.notes.append("no progress record reached the Watch subscriber during the load")
        else:
            for q in (50, 99):
                result.add(
                    f"progress latency p{q} (acknowledged → counted)",
                    percentile(progress, q) * 1000,
                    "ms",
                    f"Kafka round trip p{q}, same load",
                    percentile(round_trips, q) * 1000,
                )
            p99 = percentile(progress, 99)
            result.notes.append(
                f"goal (issue 22) progress p99 < 1 s: {'met' if p99 < 1 else 'NOT met'} "
                f"({p99 * 1000:,.0f} ms)"
            )
        latencies = arrivals.latencies
        result.parameters["releases_observed"] = len(latencies)
        if not latencies:
            result.notes.append("no release reached the Watch subscriber during the load")
        else:
            for q in (50, 99):
                result.add(
                    f"release latency p{q} (sent → released, every {RELEASE_EVERY})",
                    percentile(latencies, q) * 1000,
                    "ms",
                    f"Kafka round trip p{q}, same load",
                    percentile(round_trips, q) * 1000,
                )
        received_rate = arrivals.received() / (sending_s + grace)
        result.add("offered load sent through ingest", sent / sending_s, "ev/s")
        result.add(
            "received by the processor during the load", received_rate, "ev/s", "offered", rate
        )
        growth = (lag[-1][1] - lag[0][1]) / max(lag[-1][0] - lag[0][0], 1e-9)
        result.add("lag growth during the load", growth, "ev/s")
        result.add("lag at the end of the load", lag[-1][1], "events")
        result.add(f"lag {grace:.0f} s after the load", end_lag, "events")
        if growth > 0.05 * rate:
            result.notes.append(
                f"the pipeline does not keep up with {rate} ev/s: the backlog grew by "
                f"{growth:,.0f} ev/s to {lag[-1][1]:,} events; latencies are those of the "
                f"releases cut while it grew, so they measure a queue"
            )
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        await platform.stop(kill=True)  # its backlog is of no use: no need to finish a batch


def run(result: ScenarioResult, rate: int, duration_s: float) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(measure(result, rate, duration_s, Path(directory)))
