"""An in-process query service on a real socket, over a benchmarks topic the test fills itself.

Independent of the processor: the topic gets the batch reference's publishable cells of the
demo dataset (`compute_benchmarks`), serialised with `cell_to_proto`, plus the sites.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from jedi.v1 import query_pb2_grpc

from shared.clients import call_metadata, open_channel
from shared.convert import site_to_proto
from shared.convert_benchmarks import cell_to_proto
from shared.demo_dataset import DemoDataset
from shared.domain.benchmark_set import BenchmarkSet, Cell
from shared.domain.benchmarks import benchmark_cells, compute_benchmarks, fold_site_states
from shared.domain.model import Site
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from services.query.server import QueryServer
from services.query.settings import QuerySettings

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
    return compute_benchmarks(d.sites, [d.instrument], d.responses, d.interventions, as_of=DATASET_NOW)


@functools.lru_cache(maxsize=1)
def unsuppressed() -> BenchmarkSet:
    """Every cell before suppression: the ones missing from `reference()` must never be served."""
    d = dataset()
    states = fold_site_states(d.sites, [d.instrument], d.responses, d.interventions)
    return benchmark_cells(states, d.sites, as_of=DATASET_NOW)


async def publish_cells(topics: Topics, cells: Iterable[Cell], *, revision: int = 1) -> None:
    producer = make_producer(bootstrap_servers())
    await producer.start()
    try:
        futures = [
            await producer.send(topics.benchmarks.name, cell_to_proto(cell, as_of=DATASET_NOW, revision=revision)
                                .SerializeToString(), key=cell.key.encode())
            for cell in cells
        ]
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
            await producer.send_and_wait(topics.sites.name, site_to_proto(site).SerializeToString(),
                                         key=site.site_id.encode())
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
    await publish_cells(topics, reference().cells)
    return topics


@contextlib.asynccontextmanager
async def running_query(directory: Path, *, namespace: str | None = None, fill: bool = True,
                        wait: bool = True, ca_file: Path | None = None, **overrides):
    """A query server on port 0 over `namespace` (filled with the reference cells when `fill`);
    `ca_file` makes the harness's channel a TLS one that trusts that CA."""
    namespace = namespace or new_namespace()
    topics = await fill_topics(namespace) if fill else Topics(namespace)
    keys = write_credentials(directory, [site.site_id for site in dataset().sites])
    settings = QuerySettings(
        kafka_bootstrap_servers=bootstrap_servers(), topic_namespace=namespace, port=0, credentials_file=keys.path,
    )
    server = QueryServer(dataclasses.replace(settings, **overrides))
    await server.start()
    channel = open_channel(f"127.0.0.1:{server.port}", ca_file=ca_file)
    try:
        if wait:
            await server.wait_serving()
        yield QueryHarness(server, query_pb2_grpc.BenchmarkServiceStub(channel), channel, keys, topics)
    finally:
        await channel.close()
        await server.stop(grace=1.0)
