"""An in-process query service on a real socket, over a benchmarks topic the test fills itself.

Independent of the processor: the topic gets the batch reference's publishable cells of the
demo dataset (`compute_benchmarks`) as release 1 of every scope (one `BenchmarkRecord` per
site and per wave, through shared/convert_releases.py), plus the sites.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jedi.v1 import query_pb2_grpc
from services.query.server import QueryServer
from services.query.settings import QuerySettings
from shared.clients import call_metadata, open_channel
from shared.convert import site_to_proto
from shared.convert_releases import progress_to_proto, record_key, release_to_proto
from shared.demo_dataset import DemoDataset
from shared.domain.benchmark_set import BenchmarkSet, Cell
from shared.domain.benchmarks import benchmark_cells, compute_benchmarks, fold_site_states
from shared.domain.model import Site
from shared.domain.releases import Release, ReleaseProgress, event_counts, scope_of, site_scope
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.support.credentials import TestKeys, write_credentials
from tests.support.ingest import DATASET_NOW, demo_dataset
from tests.support.kafka import bootstrap_servers, new_namespace


@functools.lru_cache(maxsize=1)
def dataset() -> DemoDataset:
    return demo_dataset()


@functools.lru_cache(maxsize=1)
def reference() -> BenchmarkSet:
    """The publishable cells of the demo dataset: what the topic holds."""
    d = dataset()
    return compute_benchmarks(
        d.sites, [d.instrument], d.responses, d.interventions, as_of=DATASET_NOW
    )


@functools.lru_cache(maxsize=1)
def unsuppressed() -> BenchmarkSet:
    """Every cell before suppression: the ones missing from `reference()` must never be served."""
    d = dataset()
    states = fold_site_states(d.sites, [d.instrument], d.responses, d.interventions)
    return benchmark_cells(states, d.sites, as_of=DATASET_NOW)


def release_of(
    scope: str,
    cells: Iterable[Cell],
    *,
    number: int = 1,
    held_back: Mapping[str, int] | None = None,
    covered: Mapping[str, int] | None = None,
) -> Release:
    return Release(
        scope,
        number,
        DATASET_NOW,
        DATASET_NOW,
        tuple(sorted(cells, key=lambda c: c.key)),
        dict(covered or {}),
        dict(held_back or {}),
    )


def releases_of(cells: Iterable[Cell], *, number: int = 1) -> list[Release]:
    """One release of every scope the cells belong to, by scope; a site's covers all its events."""
    by_scope: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        by_scope[scope_of(cell)].append(cell)
    sent = event_counts([*dataset().responses, *dataset().interventions])
    covered: dict[str, dict[str, int]] = defaultdict(dict)
    for (site_id, component), count in sent.items():
        covered[site_scope(site_id)][component] = count
    return [
        release_of(scope, by_scope[scope], number=number, covered=covered.get(scope))
        for scope in sorted(by_scope)
    ]


def reference_release(scope: str) -> Release:
    """Release 1 of a scope as the filled topic holds it."""
    return next(r for r in releases_of(reference().cells) if r.scope == scope)


async def publish_records(topics: Topics, records: Iterable[Release | ReleaseProgress]) -> None:
    """Releases and progress as the processor writes them: one record each, keyed by scope."""
    producer = make_producer(bootstrap_servers())
    await producer.start()
    try:
        futures = []
        for item in records:
            value = release_to_proto(item) if isinstance(item, Release) else progress_to_proto(item)
            futures.append(
                await producer.send(
                    topics.benchmarks.name, value.SerializeToString(), key=record_key(item)
                )
            )
        for future in futures:
            await future
    finally:
        await producer.stop()


async def publish_raw(topics: Topics, key: str, value: bytes | None) -> None:
    """One record as is: a tombstone when `value` is None."""
    producer = make_producer(bootstrap_servers())
    await producer.start()
    try:
        await producer.send_and_wait(topics.benchmarks.name, value, key=key.encode())
    finally:
        await producer.stop()


async def publish_sites(topics: Topics, sites: Iterable[Site]) -> None:
    producer = make_producer(bootstrap_servers())
    await producer.start()
    try:
        for site in sites:
            await producer.send_and_wait(
                topics.sites.name,
                site_to_proto(site).SerializeToString(),
                key=site.site_id.encode(),
            )
    finally:
        await producer.stop()


@dataclass
class QueryHarness:
    server: QueryServer
    stub: query_pb2_grpc.BenchmarkServiceStub
    channel: object
    keys: TestKeys
    topics: Topics

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def key(self, who: str) -> str:
        return self.keys.coordinator if who == "coordinator" else self.keys.sites[who]

    def as_(self, who: str) -> tuple[tuple[str, str], ...]:
        """Call metadata of the coordinator or of a site id."""
        return call_metadata(self.key(who))


async def fill_topics(namespace: str) -> Topics:
    topics = Topics(namespace)
    await ensure_topics(bootstrap_servers(), [topics.benchmarks, topics.sites])
    await publish_sites(topics, dataset().sites)
    await publish_records(topics, releases_of(reference().cells))
    return topics


@contextlib.asynccontextmanager
async def running_query(
    directory: Path,
    *,
    namespace: str | None = None,
    fill: bool = True,
    wait: bool = True,
    ca_file: Path | None = None,
    **overrides,
):
    """A query server on port 0 over `namespace` (filled with the reference cells when `fill`);
    `ca_file` makes the harness's channel a TLS one that trusts that CA."""
    namespace = namespace or new_namespace()
    topics = await fill_topics(namespace) if fill else Topics(namespace)
    keys = write_credentials(directory, [site.site_id for site in dataset().sites])
    settings = QuerySettings(
        kafka_bootstrap_servers=bootstrap_servers(),
        topic_namespace=namespace,
        port=0,
        credentials_file=keys.path,
    )
    server = QueryServer(dataclasses.replace(settings, **overrides))
    await server.start()
    channel = open_channel(f"127.0.0.1:{server.port}", ca_file=ca_file)
    try:
        if wait:
            await server.wait_serving()
        yield QueryHarness(
            server, query_pb2_grpc.BenchmarkServiceStub(channel), channel, keys, topics
        )
    finally:
        await channel.close()
        await server.stop(grace=1.0)
