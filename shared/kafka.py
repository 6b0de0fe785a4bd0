"""Kafka helpers: topic creation and producer/consumer factories with safe defaults."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.topics import TopicSpec


async def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], *, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name=spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=replication_factor,
                            topic_configs=dict(spec.config),
                        )
                        for spec in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another process created it between the listing and now
            await _until_visible(admin, [spec.name for spec in missing])
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def _until_visible(
    admin: AIOKafkaAdminClient, topics: list[str], *, wait_s: float = 30.0
) -> None:
    """Until every partition of the new topics has a leader: the broker accepts creation before
    its metadata shows the topics, and a describe or produce right after could fail."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        descriptions = await admin.describe_topics(topics)
        if all(
            d["error_code"] == 0
            and d["partitions"]
            and all(p["leader"] >= 0 for p in d["partitions"])
            for d in descriptions
        ) and len(descriptions) == len(topics):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"topics created but not visible after {wait_s:.0f} s: {topics}")
        await asyncio.sleep(0.1)  # pacing: the broker's metadata catches up within moments


def make_producer(bootstrap_servers: str, **overrides) -> AIOKafkaProducer:
    """A producer that acknowledges only what all in-sync replicas have, without duplicates."""
    settings = dict(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15000,
    )
    settings.update(overrides)
    return AIOKafkaProducer(**settings)


def make_consumer(bootstrap_servers: str, *topics: str, **overrides) -> AIOKafkaConsumer:
    """A consumer that reads from the beginning and commits only when told to."""
    settings = dict(
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    settings.update(overrides)
    return AIOKafkaConsumer(*topics, **settings)


async def replay_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    on_record: Callable[[ConsumerRecord], None],
    *,
    follow: bool = False,
    stop: asyncio.Event | None = None,
    caught_up: asyncio.Event | None = None,
) -> None:
    """Feed every record of `topics` to `on_record`, from the beginning.

    Without `follow`, returns once the end offsets seen at the start are reached: the
    caller has then seen everything published before it asked. With `follow`, goes on
    with new records until `stop` is set, and sets `caught_up` once the end is reached.
    """
    partitions = await topic_partitions(bootstrap_servers, topics)
    if not partitions:
        if caught_up is not None:
            caught_up.set()
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in end_offsets.items() if end > 0}
        while remaining or follow:
            if stop is not None and stop.is_set():
                return
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    on_record(record)
            for tp in list(remaining):
                if await consumer.position(tp) >= end_offsets[tp]:
                    remaining.discard(tp)
            if not remaining and caught_up is not None:
                caught_up.set()
    finally:
        await consumer.stop()


async def topic_partitions(bootstrap_servers: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of `topics`, in order; raises if a topic does not exist.

    Asked of the admin client: a consumer knows the partitions only of topics it subscribed to.
    """
    topics = list(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        descriptions = await admin.describe_topics(topics)
    finally:
        await admin.close()
    found = {d["topic"]: d for d in descriptions if d["error_code"] == 0}
    missing = [topic for topic in topics if topic not in found]
    if missing:
        raise RuntimeError(f"topics not found: {missing}")
    return [
        TopicPartition(topic, partition["partition"])
        for topic in topics
        for partition in sorted(found[topic]["partitions"], key=lambda p: p["partition"])
    ]
