"""Watch latency: from submitting one event to ingest until a Watch subscriber knows of it.

Path measured: ingest (gRPC) → Kafka → processor (`python -m services.processor`, a
subprocess) → benchmarks topic → query view → Watch stream. Each event is one new survey
response of one site. One response is never released on its own (docs/privacy.md): the
subscriber waits for the site's release status to count it as received (covered or held back).

Measured in the same run, on the same broker:
- baseline: a raw Kafka round trip, one record produced (acks=all, idempotent) until a
  consumer polling the topic has it;
- query hop: one release of the site produced straight to the benchmarks topic until the Watch
  subscriber has its new site total (the query service's share of the path; runs even without
  the processor).
Figures are medians and p90 over N events (JEDI_BENCH_EVENTS, default 30), one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition

from jedi.v1 import common_pb2, query_pb2, query_pb2_grpc
from services.query.server import QueryServer
from services.query.settings import QuerySettings
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto
from shared.convert_releases import record_key, release_to_proto
from shared.domain.cells import CompositeCell
from shared.domain.model import Wave
from shared.domain.releases import site_scope
from shared.kafka import ensure_topics, make_consumer, make_producer
from shared.topics import TopicSpec
from tests.support.ingest import running_ingest
from tests.support.kafka import bootstrap_servers
from tests.support.query import reference_release, running_query

EVENTS = int(os.environ.get("JEDI_BENCH_EVENTS", "30"))
SITE = "site-north"
PIPELINE_TIMEOUT_S = 300.0
PROCESSOR_COMMAND = shlex.split(os.environ.get("JEDI_BENCH_PROCESSOR", "")) or [
    sys.executable,
    "-m",
    "services.processor",
]


def figures(seconds: list[float]) -> tuple[float, float]:
    """Median and p90, in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), statistics.quantiles(ms, n=10, method="inclusive")[-1]


async def kafka_round_trip(servers: str, count: int) -> list[float]:
    spec = TopicSpec(f"bench-{uuid.uuid4().hex[:8]}.round-trip", 1)
    await ensure_topics(servers, [spec])
    consumer = make_consumer(servers)
    producer = make_producer(servers, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        partition = TopicPartition(spec.name, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)
        samples = []
        for index in range(count):
            started = time.perf_counter()
            await producer.send_and_wait(spec.name, f"{index}".encode(), key=b"k")
            await consumer.getone()
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        await producer.stop()
        await consumer.stop()


class Subscriber:
    """A Watch stream read in the background; `wait_for` returns once a matching cell arrived."""

    def __init__(self, address: str, api_key: str, request: query_pb2.WatchRequest) -> None:
        self.channel = open_channel(address)
        self.call = query_pb2_grpc.BenchmarkServiceStub(self.channel).Watch(
            request, metadata=call_metadata(api_key)
        )
        self.latest: dict[str, query_pb2.WatchResponse] = {}
        self.releases: dict[str, object] = {}  # scope -> the latest ReleaseStatus
        self._arrived = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.call:
            for cell in message.cells:
                self.latest[cell.key] = cell
            for status in message.releases:
                self.releases[status.scope] = status
            self._arrived.set()

    async def wait_for(self, key: str, predicate, timeout: float) -> None:
        """Until the cell under `key` matches."""
        await self.wait_until(
            lambda: key in self.latest and predicate(self.latest[key]), key, timeout
        )

    async def wait_for_status(self, scope: str, predicate, timeout: float) -> None:
        """Until the release status of `scope` matches."""
        await self.wait_until(
            lambda: scope in self.releases and predicate(self.releases[scope]), scope, timeout
        )

    async def wait_until(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.task.done():
                raise TimeoutError(f"no matching {what} on the Watch stream")
            with contextlib.suppress(TimeoutError):  # the loop checks the deadline again
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def close(self) -> None:
        self.call.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.channel.close()


async def query_hop(directory: Path, count: int) -> list[float]:
    async with running_query(directory) as query:
        release = reference_release(site_scope(SITE))
        total = next(
            c for c in release.cells if isinstance(c, CompositeCell) and c.dimension == "all"
        )
        subscriber = Subscriber(
            query.address,
            query.key("coordinator"),
            query_pb2.WatchRequest(site_id=SITE, kinds=[query_pb2.CELL_KIND_COMPOSITE]),
        )
        producer = make_producer(bootstrap_servers(), linger_ms=0)  # as the baseline's
        await producer.start()
        try:
            await subscriber.wait_for(total.key, lambda cell: True, 30)
            samples = []
            for index in range(count):
                cell = dataclasses.replace(total, n=total.n + 10 * (index + 1))
                cells = tuple(cell if c.key == cell.key else c for c in release.cells)
                newer = dataclasses.replace(release, number=release.number + index + 1, cells=cells)
                started = time.perf_counter()
                await producer.send_and_wait(
                    query.topics.benchmarks.name,
                    release_to_proto(newer).SerializeToString(),
                    key=record_key(newer),
                )
                await subscriber.wait_for(cell.key, lambda m, n=cell.n: m.composite.n == n, 30)
                samples.append(time.perf_counter() - started)
            return samples
        finally:
            await producer.stop()
            await subscriber.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_processor(namespace: str, directory: Path) -> tuple[subprocess.Popen, Path]:
    """`python -m services.processor` on the benchmark's namespace (JEDI_BENCH_PROCESSOR overrides the command)."""
    log = directory / "processor.log"
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers(),
        JEDI_TOPIC_NAMESPACE=namespace,
        JEDI_APP_ID=f"bench-{uuid.uuid4().hex[:8]}",
        JEDI_STATE_DIR=str(directory / "processor-state"),
        JEDI_WEB_PORT=str(_free_port()),
        JEDI_METRICS_PORT="0",
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            PROCESSOR_COMMAND,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return process, log


def stop_processor(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def pipeline(directory: Path, count: int) -> list[float]:
    async with running_ingest(directory) as ingest:
        namespace = ingest.settings.topic_namespace
        dataset = ingest.dataset
        events = [
            *dataset.responses,
            *sorted(
                dataset.interventions,
                key=lambda e: getattr(e, "occurred_at", None) or e.submitted_at,
            ),
        ]
        for start in range(0, len(events), 500):
            reply = await ingest.submit([event_to_proto(e) for e in events[start : start + 500]])
            assert reply.rejected_count == 0, reply
        processor, log = start_processor(namespace, directory)
        query = QueryServer(
            QuerySettings(
                kafka_bootstrap_servers=bootstrap_servers(),
                topic_namespace=namespace,
                port=0,
                credentials_file=ingest.keys.path,
            )
        )
        await query.start()
        subscriber = None
        try:
            await query.wait_serving()
            subscriber = Subscriber(
                f"127.0.0.1:{query.port}",
                ingest.keys.sites[SITE],
                query_pb2.WatchRequest(
                    site_id=SITE,
                    kinds=[query_pb2.CELL_KIND_RESPONSE],
                    wave=common_pb2.WAVE_BASELINE,
                ),
            )
            template = next(
                r for r in dataset.responses if r.site_id == SITE and r.wave == Wave.BASELINE
            )
            scope, wave = site_scope(SITE), Wave.BASELINE.value
            expected = sum(
                1 for r in dataset.responses if r.site_id == SITE and r.wave == Wave.BASELINE
            )

            def received(status) -> int:
                return status.covered.get(wave, 0) + status.held_back.get(wave, 0)

            print(
                f"watch_latency: waiting for the processor to release the seeded dataset ({len(events)} events)"
            )
            await subscriber.wait_for_status(
                scope, lambda status: received(status) == expected, PIPELINE_TIMEOUT_S
            )
            samples = []
            for index in range(count):
                response = dataclasses.replace(template, event_id=f"bench-{uuid.uuid4().hex}")
                started = time.perf_counter()
                reply = await ingest.submit([event_to_proto(response)], key=ingest.keys.sites[SITE])
                assert reply.accepted_count == 1, reply
                n = expected + index + 1
                await subscriber.wait_for_status(
                    scope, lambda status, n=n: received(status) == n, 60
                )
                samples.append(time.perf_counter() - started)
            return samples
        except Exception:
            print(f"watch_latency: the pipeline failed; processor log {log}:", file=sys.stderr)
            print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            raise
        finally:
            if subscriber is not None:
                await subscriber.close()
            await query.stop(grace=1.0)
            stop_processor(processor)


async def run(directory: Path, count: int) -> None:
    baseline = figures(await kafka_round_trip(bootstrap_servers(), count))
    hop = figures(await query_hop(directory / "hop", count))
    print(f"watch_latency: {count} events, one at a time, median / p90")
    print(
        f"  baseline (Kafka produce→consume, acks=all):      {baseline[0]:7.1f} / {baseline[1]:7.1f} ms"
    )
    print(
        f"  query hop (benchmarks topic → Watch subscriber): {hop[0]:7.1f} / {hop[1]:7.1f} ms"
        f"   ({hop[0] / baseline[0]:.1f}x baseline)"
    )
    if (
        "JEDI_BENCH_PROCESSOR" not in os.environ
        and importlib.util.find_spec("services.processor.__main__") is None
    ):
        print(
            "  full path (ingest → processor → query → Watch): skipped, services.processor has no __main__ yet"
        )
        return
    full = figures(await pipeline(directory / "pipeline", count))
    print(
        f"  full path (ingest → processor → query → Watch, the response counted): {full[0]:7.1f} / {full[1]:7.1f} ms"
        f"   ({full[0] / baseline[0]:.1f}x baseline)"
    )


def main() -> None:
    bootstrap_servers()
    with tempfile.TemporaryDirectory() as directory:
        for name in ("hop", "pipeline"):
            (Path(directory) / name).mkdir()
        asyncio.run(run(Path(directory), EVENTS))


if __name__ == "__main__":
    main()
