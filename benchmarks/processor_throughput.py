"""Processor throughput: events per second from the event topics to complete benchmarks.

The demo dataset (JEDI_BENCH_SCALE, default 1: 13 sites, about 5,700 events) is produced
straight to the event topics, as ingest writes them, while a processor (`python -m
services.processor`, a subprocess with its default batch settings) follows them. The clock
runs from the first record produced until the processor has received every event and the
latest releases equal the batch reference over what they cover,
cell for cell.

Baselines measured in the same run, on the same events:
- Kafka: the same records produced to other topics and read back by a plain consumer;
- batch: the reference core (`compute_benchmarks`) over the same events, in this process.
Memory: the processor's peak resident set (VmHWM) against its resident set once ready, idle.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from shared.demo_dataset import build_demo_dataset
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.event_records import EventRecord, event_record
from shared.kafka import ensure_topics, make_producer, replay_topics
from shared.topics import Topics
from tests.support.ingest import DATASET_NOW, running_ingest
from tests.support.kafka import bootstrap_servers, delete_namespaces
from tests.support.processor import (
    BenchmarksFollower,
    ProcessorProcess,
    arrival_order,
    processor_env,
)

SCALE = float(os.environ.get("JEDI_BENCH_SCALE", "1"))
TIMEOUT_S = 600.0


async def produce(servers: str, records: list[EventRecord]) -> None:
    producer = make_producer(servers)
    await producer.start()
    try:
        futures = [
            await producer.send(record.topic, record.value, key=record.key, headers=record.headers)
            for record in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def kafka_baseline(servers: str, events, namespace: str) -> float:
    """Seconds to produce the events and read every one back."""
    topics = Topics(namespace)
    await ensure_topics(servers, [topics.survey_responses, topics.interventions])
    records = [event_record(topics, event) for event in events]
    started = time.perf_counter()
    await produce(servers, records)
    seen: list[object] = []
    await replay_topics(
        servers, [topics.survey_responses.name, topics.interventions.name], seen.append
    )
    elapsed = time.perf_counter() - started
    assert len(seen) == len(records), (len(seen), len(records))
    return elapsed


def resident_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


async def through_processor(
    directory: Path, dataset, events, namespace: str
) -> tuple[float, int, int, int]:
    """Seconds from the first record produced to benchmarks equal to the reference, the number of
    benchmark records written, and the processor's idle and peak resident set (KiB)."""
    servers = bootstrap_servers()
    processor = ProcessorProcess(
        processor_env(
            namespace=namespace,
            state_dir=directory / "state",
            servers=servers,
            registry_check_interval_s=1,
        ),
        directory / "processor.log",
    )
    try:
        async with (
            running_ingest(directory, namespace=namespace, dataset=dataset) as ingest,
            BenchmarksFollower(servers, ingest.topics.benchmarks.name) as topic,
        ):
            processor.start()
            await topic.wait_for_registry(dataset.sites, timeout=120)
            idle = resident_kib(processor.process.pid, "VmRSS")
            print(
                f"processor_throughput: processor ready ({idle / 1024:.0f} MiB); producing {len(events)} events"
            )
            started = time.perf_counter()
            await produce(servers, [event_record(ingest.topics, event) for event in events])
            try:
                await topic.wait_for(
                    dataset.sites,
                    [dataset.instrument],
                    events,
                    timeout=TIMEOUT_S,
                    quiet_s=0.0,
                    alive=lambda: processor.running,
                )
            except AssertionError as error:
                raise RuntimeError(
                    f"no complete benchmarks: {error}\n{processor.log_tail()}"
                ) from error
            elapsed = time.perf_counter() - started
            peak = resident_kib(processor.process.pid, "VmHWM")
            return elapsed, len(topic.records), idle, peak
    finally:
        processor.terminate()


async def run(directory: Path) -> None:
    servers = bootstrap_servers()
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)
    events = arrival_order([*dataset.responses, *dataset.interventions])
    started = time.perf_counter()
    reference = compute_benchmarks(
        dataset.sites,
        [dataset.instrument],
        dataset.responses,
        dataset.interventions,
        as_of=DATASET_NOW,
    )
    batch = time.perf_counter() - started
    namespaces = [f"bench-{uuid.uuid4().hex[:10]}." for _ in range(2)]
    try:
        kafka = await kafka_baseline(servers, events, namespaces[0])
        streaming, written, idle, peak = await through_processor(
            directory, dataset, events, namespaces[1]
        )
    finally:
        await delete_namespaces(servers, namespaces)
    count = len(events)
    print(
        f"processor_throughput: {count} events from {len(dataset.sites)} sites, "
        f"{len(reference.cells)} publishable cells"
    )
    print(f"  baseline Kafka (produce, then read back):   {count / kafka:9,.0f} events/s")
    print(f"  baseline batch (compute_benchmarks, once):  {count / batch:9,.0f} events/s")
    print(
        f"  processor (produce → benchmarks complete):  {count / streaming:9,.0f} events/s   "
        f"({streaming / kafka:.1f}x Kafka time, {streaming / batch:.1f}x batch time; "
        f"{written} benchmark records written)"
    )
    print(
        f"  processor memory: {idle / 1024:.0f} MiB ready, {peak / 1024:.0f} MiB peak ({peak / idle:.2f}x)"
    )


def main() -> None:
    bootstrap_servers()
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(Path(directory)))


if __name__ == "__main__":
    main()
