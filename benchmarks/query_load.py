"""Query load: `GetSiteScorecard` and `CompareSites` throughput and latency at several concurrencies.

`python -m services.query` serves a benchmarks topic filled with the batch reference of the
demo dataset (release 1 of every scope, as the processor writes releases) and its sites. For
each concurrency, that many callers on one channel call as fast as they can for a fixed time.

Baseline, in the same run: the gRPC health `Check` on the same server, called the same way.
Callers and server are separate processes; on a 2-core machine the callers' own Python is part
of what is measured, for the baseline as for the calls measured.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.dataset import DATASET_NOW, describe
from benchmarks.platform import (
    Service,
    bootstrap_servers,
    delete_namespaces,
    free_port,
    grpc_env,
    new_namespace,
    wait_ready,
    write_credentials,
)
from benchmarks.progress import say
from benchmarks.results import ScenarioResult, percentile
from jedi.v1 import common_pb2, query_pb2, query_pb2_grpc
from shared.clients import call_metadata, open_channel
from shared.convert import site_to_proto
from shared.convert_releases import record_key, release_to_proto
from shared.demo_dataset import DemoDataset
from shared.domain.benchmark_set import Cell
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.releases import Release, event_counts, scope_of, site_scope
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics

CONCURRENCY = (1, 16, 64)


def releases_of(dataset: DemoDataset) -> list[Release]:
    """Release 1 of every scope of the batch reference; a site's covers all its events."""
    reference = compute_benchmarks(
        dataset.sites,
        [dataset.instrument],
        dataset.responses,
        dataset.interventions,
        as_of=DATASET_NOW,
    )
    by_scope: dict[str, list[Cell]] = defaultdict(list)
    for cell in reference.cells:
        by_scope[scope_of(cell)].append(cell)
    covered: dict[str, dict[str, int]] = defaultdict(dict)
    for (site_id, component), count in event_counts(
        [*dataset.responses, *dataset.interventions]
    ).items():
        covered[site_scope(site_id)][component] = count
    cut_at = datetime.now(UTC)
    return [
        Release(
            scope,
            1,
            cut_at,
            DATASET_NOW,
            tuple(sorted(cells, key=lambda c: c.key)),
            covered.get(scope, {}),
        )
        for scope, cells in sorted(by_scope.items())
    ]


async def fill(servers: str, topics: Topics, dataset: DemoDataset) -> int:
    await ensure_topics(servers, [topics.benchmarks, topics.sites])
    producer = make_producer(servers)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topics.sites.name, site_to_proto(s).SerializeToString(), key=s.site_id.encode()
            )
            for s in dataset.sites
        ]
        releases = releases_of(dataset)
        futures += [
            await producer.send(
                topics.benchmarks.name,
                release_to_proto(r).SerializeToString(),
                key=record_key(r),
            )
            for r in releases
        ]
        await asyncio.gather(*futures)
        return sum(len(r.cells) for r in releases)
    finally:
        await producer.stop()


async def load(
    call: Callable[[int], Awaitable[object]], concurrency: int, seconds: float
) -> tuple[float, list[float]]:
    """Calls per second and each call's latency, `concurrency` callers for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        n = index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)
            n += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def measure(
    result: ScenarioResult, dataset: DemoDataset, seconds: float, directory: Path
) -> None:
    servers = bootstrap_servers()
    namespace = new_namespace("query")
    topics = Topics(namespace)
    keys = write_credentials(directory, [site.site_id for site in dataset.sites])
    port = free_port()
    address = f"127.0.0.1:{port}"
    query: Service | None = None
    try:
        cells = await fill(servers, topics, dataset)
        result.parameters.update(cells_served=cells)
        query = Service("query", grpc_env(servers, namespace, keys, port), directory / "query.log")
        await wait_ready(query, address)
        site_ids: Sequence[str] = [s.site_id for s in dataset.sites]
        metadata = call_metadata(keys.coordinator)
        async with open_channel(address) as channel:
            stub = query_pb2_grpc.BenchmarkServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)

            async def check(_: int) -> object:
                return await health.Check(  # type: ignore[attr-defined]  # its stubs declare no methods
                    health_pb2.HealthCheckRequest(), timeout=30
                )

            async def scorecard(n: int) -> object:
                return await stub.GetSiteScorecard(
                    query_pb2.GetSiteScorecardRequest(
                        site_id=site_ids[n % len(site_ids)], wave=common_pb2.WAVE_BASELINE
                    ),
                    metadata=metadata,
                    timeout=30,
                )

            async def compare(_: int) -> object:
                return await stub.CompareSites(
                    query_pb2.CompareSitesRequest(
                        composite=common_pb2.COMPOSITE_BELONGING, wave=common_pb2.WAVE_BASELINE
                    ),
                    metadata=metadata,
                    timeout=30,
                )

            await scorecard(0)  # warm the channel
            for concurrency in CONCURRENCY:
                say(f"query: concurrency {concurrency}, {seconds:.0f} s per call")
                base_rate, base_latencies = await load(check, concurrency, seconds)
                for name, call in (("GetSiteScorecard", scorecard), ("CompareSites", compare)):
                    rate, latencies = await load(call, concurrency, seconds)
                    query.check_alive()
                    result.add(
                        f"{name} at {concurrency}: throughput",
                        rate,
                        "calls/s",
                        "health Check",
                        base_rate,
                    )
                    for q in (50, 99):
                        result.add(
                            f"{name} at {concurrency}: p{q}",
                            percentile(latencies, q) * 1000,
                            "ms",
                            "health Check",
                            percentile(base_latencies, q) * 1000,
                        )
    finally:
        if query is not None:
            query.stop()
        await delete_namespaces(servers, [namespace])


def run(result: ScenarioResult, dataset: DemoDataset, seconds: float) -> None:
    result.parameters.update(describe(dataset), seconds_per_load=seconds)
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(measure(result, dataset, seconds, Path(directory)))
