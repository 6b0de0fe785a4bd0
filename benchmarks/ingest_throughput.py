"""Ingest throughput: events per second through `IngestService` into Kafka.

`python -m services.ingest` on a real socket (acks=all, idempotent producer) takes each site's
events in batches of 500, as a site's system pushes them; once with one call at a time, once
with four sites pushing at once. Ingest validates, authenticates, deduplicates and publishes.

Baseline, in the same run on the same broker: a plain aiokafka producer with the same settings
(shared.kafka.make_producer, as ingest's publisher) sending the same serialized records in the
same batches, each batch awaited as ingest awaits its acknowledgements.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.dataset import by_site, describe, events_of
from benchmarks.platform import (
    BATCH,
    Service,
    bootstrap_servers,
    delete_namespaces,
    free_port,
    grpc_env,
    new_namespace,
    register,
    requests_of,
    submit_all,
    wait_ready,
    write_credentials,
)
from benchmarks.progress import say
from benchmarks.results import ScenarioResult
from shared.demo_dataset import DemoDataset
from shared.event_records import event_record
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics

STREAMS = (1, 4)


async def plain_producer(servers: str, dataset: DemoDataset) -> float:
    """Seconds for aiokafka to send the same records in the same batches, acks=all."""
    namespace = new_namespace("ingest-baseline")
    topics = Topics(namespace)
    try:
        await ensure_topics(servers, [topics.survey_responses, topics.interventions])
        batches = [
            [event_record(topics, e) for e in site_events[start : start + BATCH]]
            for site_events in by_site(events_of(dataset)).values()
            for start in range(0, len(site_events), BATCH)
        ]
        producer = make_producer(servers)
        await producer.start()
        try:
            started = time.perf_counter()
            for batch in batches:
                futures = [
                    await producer.send(r.topic, r.value, key=r.key, headers=r.headers)
                    for r in batch
                ]
                await asyncio.gather(*futures)
            return time.perf_counter() - started
        finally:
            await producer.stop()
    finally:
        await delete_namespaces(servers, [namespace])


async def through_ingest(dataset: DemoDataset, streams: int, directory: Path) -> float:
    servers = bootstrap_servers()
    namespace = new_namespace("ingest")
    keys = write_credentials(directory, [site.site_id for site in dataset.sites])
    port = free_port()
    address = f"127.0.0.1:{port}"
    ingest = Service("ingest", grpc_env(servers, namespace, keys, port), directory / "ingest.log")
    try:
        await wait_ready(ingest, address)
        await register(address, keys, dataset)
        requests = requests_of(events_of(dataset))
        return await submit_all(
            address, keys, requests, streams=streams, label=f"ingest, {streams} at a time"
        )
    finally:
        ingest.stop()
        await delete_namespaces(servers, [namespace])


async def measure(result: ScenarioResult, dataset: DemoDataset, directory: Path) -> None:
    servers = bootstrap_servers()
    events = len(dataset.responses) + len(dataset.interventions)
    baseline = await plain_producer(servers, dataset)
    for streams in STREAMS:
        say(f"ingest: {events} events, {streams} call(s) at a time")
        seconds = await through_ingest(dataset, streams, directory / f"streams-{streams}")
        result.add(
            f"through ingest, {streams} call(s) at a time",
            events / seconds,
            "ev/s",
            "aiokafka producer, same records and batches",
            events / baseline,
        )


def run(result: ScenarioResult, dataset: DemoDataset) -> None:
    result.parameters.update(describe(dataset), batch=BATCH, acks="all")
    with tempfile.TemporaryDirectory() as directory:
        for streams in STREAMS:
            (Path(directory) / f"streams-{streams}").mkdir()
        asyncio.run(measure(result, dataset, Path(directory)))
