"""Processor throughput: events per second from the event topics to complete benchmarks.

The dataset's events are produced straight onto the event topics, as ingest writes them, while
a processor (`python -m services.processor`, its default batch settings) follows them. The
clock runs from the first record produced until the benchmarks topic shows complete benchmarks
equal to the batch reference (benchmarks/follow.py). Before that, the instrument and the sites
are registered through an ingest and the processor has released every (empty) site.

Baseline, in the same run on the same broker: the same records produced to topics of their
own and read back by a plain consumer. The batch core (`compute_benchmarks` once over every
event, in this process) is reported beside it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.dataset import DATASET_NOW, describe, events_of
from benchmarks.follow import BenchmarksTopic, Completion, Reference, wait_complete
from benchmarks.platform import (
    RELEASE_EVERY,
    Service,
    bootstrap_servers,
    delete_namespaces,
    new_namespace,
    processor_env,
    produce_events,
    register,
    resident_kib,
    write_credentials,
)
from benchmarks.progress import say
from benchmarks.results import ScenarioResult
from services.ingest.server import IngestServer
from services.ingest.settings import IngestSettings
from shared.demo_dataset import DemoDataset
from shared.domain.benchmarks import compute_benchmarks
from shared.kafka import ensure_topics, replay_topics
from shared.topics import Topics

TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class ProcessorRun:
    events: int
    seconds: float  # first record produced → complete benchmarks
    counted_seconds: float  # first record produced → progress records count every event
    kafka_seconds: float  # the same records produced and read back
    records_written: int  # on the benchmarks topic
    ready_mib: float
    peak_mib: float


async def produce_and_read_back(servers: str, dataset: DemoDataset) -> float:
    """Seconds to produce the dataset's records onto topics of their own and read them all back."""
    namespace = new_namespace("kafka")
    topics = Topics(namespace)
    try:
        await ensure_topics(servers, [topics.survey_responses, topics.interventions])
        events = events_of(dataset)
        started = time.perf_counter()
        await produce_events(servers, topics, events)
        seen: list[object] = []
        await replay_topics(
            servers, [topics.survey_responses.name, topics.interventions.name], seen.append
        )
        elapsed = time.perf_counter() - started
        if len(seen) != len(events):
            raise RuntimeError(f"read back {len(seen)} of {len(events)} records")
        return elapsed
    finally:
        await delete_namespaces(servers, [namespace])


async def through_processor(dataset: DemoDataset, label: str, directory: Path) -> ProcessorRun:
    servers = bootstrap_servers()
    namespace = new_namespace(label)
    topics = Topics(namespace)
    events = events_of(dataset)
    processor: Service | None = None
    try:
        kafka_seconds = await produce_and_read_back(servers, dataset)
        keys = write_credentials(directory, [site.site_id for site in dataset.sites])
        ingest = IngestServer(
            IngestSettings(
                kafka_bootstrap_servers=servers,
                topic_namespace=namespace,
                port=0,
                credentials_file=keys.path,
            )
        )
        await ingest.start()
        try:
            await register(f"127.0.0.1:{ingest.port}", keys, dataset)
        finally:
            await ingest.stop()
        processor = Service(
            "processor",
            processor_env(servers, namespace, directory / "state"),
            directory / "processor.log",
        )
        async with BenchmarksTopic(servers, topics.benchmarks.name) as topic:
            wanted = {f"site/{site.site_id}" for site in dataset.sites}
            deadline = time.monotonic() + 180
            while not wanted <= topic.releases.keys():
                processor.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{label}: the processor did not release the sites")
                await topic.poll()
            reference = Reference(dataset, events)
            reference.prime()
            ready = resident_kib(processor.pid, "VmRSS") / 1024
            say(f"{label}: processor ready; producing {len(events)} events ({describe(dataset)})")
            started = time.time()
            await produce_events(servers, topics, events)
            completion = Completion()
            done = await wait_complete(
                topic,
                reference,
                events,
                timeout=TIMEOUT_S,
                alive=processor.check_alive,
                label=label,
                completion=completion,
            )
            peak = processor.peak_kib() / 1024
            counted = completion.received_at if completion.received_at is not None else done
            return ProcessorRun(
                len(events),
                done - started,
                counted - started,
                kafka_seconds,
                topic.records,
                ready,
                peak,
            )
    finally:
        if processor is not None:
            processor.stop()
        await delete_namespaces(servers, [namespace])


def batch_core_seconds(dataset: DemoDataset) -> float:
    started = time.perf_counter()
    compute_benchmarks(
        dataset.sites,
        [dataset.instrument],
        dataset.responses,
        dataset.interventions,
        as_of=DATASET_NOW,
    )
    return time.perf_counter() - started


def measure(dataset: DemoDataset, label: str) -> ProcessorRun:
    with tempfile.TemporaryDirectory() as directory:
        return asyncio.run(through_processor(dataset, label, Path(directory)))


def run(result: ScenarioResult, dataset: DemoDataset, scale: float) -> ProcessorRun:
    result.parameters.update(describe(dataset), demo_scale=scale, events=0)
    measured = measure(dataset, "processor")
    result.parameters["events"] = measured.events
    batch = batch_core_seconds(dataset)
    result.add(
        "produce → benchmarks complete",
        measured.events / measured.seconds,
        "ev/s",
        "produce and read back",
        measured.events / measured.kafka_seconds,
    )
    result.add(
        "produce → every event counted (progress records)",
        measured.events / measured.counted_seconds,
        "ev/s",
        "produce and read back",
        measured.events / measured.kafka_seconds,
    )
    counted = measured.kafka_seconds / measured.counted_seconds
    complete = measured.kafka_seconds / measured.seconds
    result.notes.append(
        f"goal (issue 22) processor >= 0.5x produce-and-read: {'met' if counted >= 0.5 else 'NOT met'}"
        f" ({counted:.3f}x to every event counted; {complete:.3f}x to complete releases, which "
        f"includes the wait for the next scheduled release, every {RELEASE_EVERY} here)"
    )
    result.add("batch core (compute_benchmarks once)", measured.events / batch, "ev/s")
    result.add(
        "processor peak resident",
        measured.peak_mib,
        "MiB",
        "resident once ready, idle",
        measured.ready_mib,
    )
    result.add("benchmark records written", measured.records_written, "records")
    return measured
