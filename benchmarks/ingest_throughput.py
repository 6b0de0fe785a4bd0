"""Ingest throughput: survey responses per second through gRPC ingest into Kafka.

Baseline, measured in the same run on the same broker: the same records produced straight
to Kafka with the same producer settings (acks=all, idempotent). The ratio is what ingest's
validation, authentication, deduplication and gRPC hop cost.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from shared.convert import event_to_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.support.ingest import DATASET_NOW, running_ingest
from tests.support.kafka import bootstrap_servers

BATCH = 500


async def kafka_baseline(servers: str, payloads: list[bytes], keys: list[bytes]) -> float:
    topics = Topics(f"bench-{time.time_ns()}.")
    await ensure_topics(servers, [topics.survey_responses])
    producer = make_producer(servers)
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, len(payloads), BATCH):
            futures = [
                await producer.send(topics.survey_responses.name, value, key=key)
                for value, key in zip(payloads[start : start + BATCH], keys[start : start + BATCH])
            ]
            await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def through_ingest(directory: Path) -> tuple[float, float, int]:
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=1.0)
    async with running_ingest(directory, dataset=dataset) as ingest:
        responses = list(ingest.dataset.responses)
        events = [event_to_proto(response) for response in responses]
        payloads = [event.survey_response.SerializeToString() for event in events]
        keys = [response.site_id.encode() for response in responses]
        baseline = await kafka_baseline(ingest.settings.kafka_bootstrap_servers, payloads, keys)
        started = time.perf_counter()
        for start in range(0, len(events), BATCH):
            reply = await ingest.submit(events[start : start + BATCH])
            assert reply.rejected_count == 0, reply.results[0]
        return time.perf_counter() - started, baseline, len(events)


def main() -> None:
    bootstrap_servers()
    with tempfile.TemporaryDirectory() as directory:
        ingest_seconds, baseline_seconds, count = asyncio.run(through_ingest(Path(directory)))
    print(f"ingest_throughput: {count} survey responses in batches of {BATCH}")
    print(f"  baseline (aiokafka produce, acks=all): {count / baseline_seconds:,.0f} events/s")
    print(f"  through ingest (gRPC, validation):     {count / ingest_seconds:,.0f} events/s")
    print(f"  ratio ingest / baseline time:           {ingest_seconds / baseline_seconds:.2f}x")
