"""The query service killed and restarted while a dashboard is watching and releases keep coming.

Ingest, the processor (releases every second) and the query service run as real processes. A
coordinator's `Watch` client records every message. Half the events are pushed, then the other
half while the query service is SIGKILLed and started again. The new process must not answer
SERVING before its view holds every release the topic had when it was restarted (a Watch opened
the moment it turns SERVING shows them); the client reconnects and its stream starts again from
a snapshot; and over the whole run the client never sees a release's status before all of that
release's cells (no partial release), nor a lower release number after a higher one, for any
scope (no older release). At the end it shows exactly what the benchmarks topic shows.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from jedi.v1 import query_pb2, query_pb2_grpc
from services.local_process import ServiceProcess
from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from shared.clients import call_metadata, open_channel
from shared.convert_benchmarks import cell_from_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.benchmark_set import Cell
from shared.domain.releases import scope_of
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.faults.harness import Figures, Pushed, push_sites, register, start_ingest, wait_serving
from tests.faults.test_processor_kills import SETTINGS
from tests.support import credentials
from tests.support.benchmarks_follower import BenchmarksFollower
from tests.support.credentials import write_credentials
from tests.support.ingest import DATASET_NOW, arrival_order
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.platform import free_port, grpc_serving
from tests.support.processor_process import ProcessorProcess, processor_env, stopped_afterwards
from tests.support.published import latest_releases, releases_of
from tests.support.waiting import eventually

SCALE = 0.3
TIMEOUT_S = 300


@dataclass
class Watcher:
    """A dashboard's Watch: reconnects whenever its stream ends, as the dashboard does."""

    address: str
    key: str
    cells: dict[str, Cell] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)  # the latest status of each scope
    first_seen: dict[tuple[str, int], dict[str, Cell]] = field(default_factory=dict)
    older: list[str] = field(default_factory=list)
    streams: int = 0
    messages: int = 0
    snapshots_after_reconnect: int = 0

    def _statuses(self, message: query_pb2.WatchResponse) -> None:
        for status in message.releases:
            scope, number = status.scope, int(status.number)
            if number < self.numbers.get(scope, 0):
                self.older.append(f"{scope}: release {number} after {self.numbers[scope]}")
            self.numbers[scope] = max(number, self.numbers.get(scope, 0))
            if (scope, number) not in self.first_seen:
                self.first_seen[(scope, number)] = {
                    k: c for k, c in self.cells.items() if scope_of(c) == scope
                }

    async def run(self) -> None:
        while True:
            try:
                async with open_channel(self.address) as channel:
                    stub = query_pb2_grpc.BenchmarkServiceStub(channel)
                    self.streams += 1
                    snapshot: dict[str, Cell] = {}
                    async for message in stub.Watch(
                        query_pb2.WatchRequest(), metadata=call_metadata(self.key)
                    ):
                        self.messages += 1
                        if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT:
                            snapshot.update({c.key: cell_from_proto(c) for c in message.cells})
                        elif message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
                            self.cells = snapshot
                            if self.streams > 1:
                                self.snapshots_after_reconnect += 1
                            self._statuses(message)
                        else:
                            for c in message.cells:
                                self.cells[c.key] = cell_from_proto(c)
                            for key in message.withdrawn_keys:
                                self.cells.pop(key, None)
                            self._statuses(message)
            except grpc.aio.AioRpcError as error:
                if error.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    raise
            await asyncio.sleep(0.2)  # the client's pause before reconnecting


def start_query(
    tmp_path: Path, namespace: str, keys: credentials.TestKeys, port: int, life: int
) -> ServiceProcess:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(),
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_CREDENTIALS_FILE": str(keys.path),
        "JEDI_PORT": str(port),
    }
    return ServiceProcess("services.query", env, tmp_path / f"query-{life}.log")


async def snapshot_numbers(address: str, key: str) -> dict[str, int]:
    """The release numbers a Watch opened now starts from."""
    async with open_channel(address) as channel:
        stub = query_pb2_grpc.BenchmarkServiceStub(channel)
        async for message in stub.Watch(query_pb2.WatchRequest(), metadata=call_metadata(key)):
            if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
                return {s.scope: int(s.number) for s in message.releases}
    raise AssertionError("the Watch ended before its snapshot was complete")


async def test_query_service_restarted_during_a_watch(tmp_path: Path, figures: Figures) -> None:
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)
    events = arrival_order([*dataset.responses, *dataset.interventions])
    half = len(events) // 2
    namespace = new_namespace()
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    topics = ProcessorTopics.of(
        ProcessorSettings(topic_namespace=namespace, app_id=f"{namespace}processor")
    )
    ingest, ingest_address = start_ingest(tmp_path, namespace, keys)
    env = processor_env(
        namespace=namespace,
        state_dir=tmp_path / "state",
        servers=bootstrap_servers(),
        app_id=f"{namespace}processor",
        **SETTINGS,
    )
    processes = [ProcessorProcess(env, tmp_path / "processor.log").start()]
    port = free_port()
    address = f"127.0.0.1:{port}"
    queries = [start_query(tmp_path, namespace, keys, port, 0)]
    figures.sent = len(events)
    pushed = Pushed()
    watcher = Watcher(address, keys.coordinator)
    watching: asyncio.Task[None] | None = None
    try:
        with stopped_afterwards(processes):
            await wait_serving(ingest_address, ingest)
            await register(ingest_address, keys, dataset)
            await wait_serving(address, queries[0])
            watching = asyncio.create_task(watcher.run())
            async with BenchmarksFollower(
                bootstrap_servers(), topics.platform.benchmarks.name
            ) as topic:
                await push_sites(ingest_address, keys, events[:half], pushed)
                await topic.wait_until(
                    lambda view: len(view) > 0, timeout=120, what="a first release"
                )
                pushing = asyncio.create_task(
                    push_sites(ingest_address, keys, events[half:], pushed, batch=10)
                )
                await eventually(
                    lambda: watcher.messages, 60, what="the watcher to read", until=lambda n: n > 1
                )
                queries[0].stop(kill=True)
                figures.faults += 1
                await topic.read_to_end()
                at_restart = {s: r.number for s, r in latest_releases(topic.records).items()}
                queries.append(start_query(tmp_path, namespace, keys, port, 1))
                probes_before_serving = 0
                while not await grpc_serving(address):
                    assert queries[1].running, queries[1].tail()
                    probes_before_serving += 1
                    await asyncio.sleep(0.05)  # pacing between health probes
                # SERVING only once caught up: a Watch opened now holds every earlier release.
                first = await snapshot_numbers(address, keys.coordinator)
                behind = {s: n for s, n in at_restart.items() if first.get(s, 0) < n}
                assert not behind, f"SERVING before its view caught up: {behind}"
                figures.audits += 1
                await pushing
                figures.acknowledged = len(pushed.acknowledged)
                final = processes[-1]
                await topic.wait_for(
                    dataset.sites,
                    [dataset.instrument],
                    events,
                    processor=topics,
                    timeout=TIMEOUT_S,
                    ticking=True,
                    alive=lambda: final.running,
                )
                figures.audits += 1
                latest = latest_releases(topic.records)
                await eventually(
                    lambda: watcher.numbers,
                    120,
                    what="the watcher to show the latest release of every scope",
                    until=lambda numbers: numbers == {s: r.number for s, r in latest.items()},
                )
                assert watcher.cells == topic.cells()
                figures.audits += 1
                # No partial release: at a release's first status the watcher held its cells.
                # A status numbered 0 says the scope has no release (yet): none of its cells.
                released = {(r.scope, r.number): r.by_key() for r in releases_of(topic.records)}
                partial = [
                    seen
                    for seen, cells in watcher.first_seen.items()
                    if released.get(seen, {} if seen[1] == 0 else None) != cells
                ]
                assert partial == [], f"statuses seen before all their cells: {partial[:5]}"
                assert watcher.older == []
                assert watcher.streams >= 2 and watcher.snapshots_after_reconnect >= 1
                figures.audits += len(watcher.first_seen)
                received = topic.received()
                figures.counted = sum(received.values())
                figures.covered = sum(
                    sum(r.covered.values()) for s, r in latest.items() if s.startswith("site/")
                )
                figures.notes.append(
                    f"{probes_before_serving} health probes not SERVING after the restart; "
                    f"{watcher.streams} Watch streams, {watcher.messages} messages, "
                    f"{len(watcher.first_seen)} release statuses checked whole, 0 older"
                )
    finally:
        if watching is not None:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        for query in queries:
            query.stop()
        ingest.stop()
