"""Consumer lag of the processor's group, sampled for Prometheus.

Read from the broker (the group's committed offsets against the partitions' end offsets),
not from inside Faust, so it keeps counting while a worker is stuck or rebalancing.
"""

from __future__ import annotations

import asyncio
import threading

import structlog
from prometheus_client import Gauge

from shared.kafka import Kafka, make_admin, make_consumer, topic_partitions

CONSUMER_LAG = Gauge(
    "jedi_processor_consumer_lag",
    "Records on an input partition not yet committed by the processor's consumer group.",
    ["topic", "partition"],
)
log = structlog.get_logger(__name__)


async def consumer_lag(
    kafka: Kafka, group_id: str, topics: list[str]
) -> dict[tuple[str, int], int]:
    partitions = await topic_partitions(kafka, topics)
    admin = make_admin(kafka)
    # The high watermark, as before: lag counts every record not yet committed.
    consumer = make_consumer(kafka, isolation_level="read_uncommitted")
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    lag = {}
    for tp, end in ends.items():
        offset = committed[tp].offset if tp in committed else -1
        lag[(tp.topic, tp.partition)] = max(0, end - max(offset, 0))  # -1: nothing committed yet
    return lag


def start_lag_sampler(
    kafka: Kafka, group_id: str, topics: list[str], interval_s: float = 10.0
) -> None:
    """Sample the lag every `interval_s` in a daemon thread of its own (its own event loop)."""

    async def sample_forever() -> None:
        while True:
            try:
                for (topic, partition), lag in (
                    await consumer_lag(kafka, group_id, topics)
                ).items():
                    CONSUMER_LAG.labels(topic, str(partition)).set(lag)
            except Exception as error:  # noqa: BLE001 -- the metric goes stale; the processor is unaffected
                log.warning("consumer_lag_sample_failed", error=repr(error))
            await asyncio.sleep(interval_s)

    threading.Thread(
        target=lambda: asyncio.run(sample_forever()), name="consumer-lag", daemon=True
    ).start()
