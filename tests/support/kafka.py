"""Test access to the real local Kafka broker that `make test` starts."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterable

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka import replay_topics, topic_partitions


def bootstrap_servers() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        message = (
            "KAFKA_BOOTSTRAP_SERVERS is not set: run the tests with `make test` (it starts Kafka)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return servers


# The namespaces this test session made, whose topics it deletes at its end.
_SESSION_NAMESPACES: set[str] = set()


def new_namespace() -> str:
    """A topic prefix of its own, so a test reads only the records it wrote."""
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    _SESSION_NAMESPACES.add(namespace)
    return namespace


def delete_session_topics(servers: str) -> int:
    """Delete the topics of every namespace this session made; returns how many.

    A `make test` leaves a few hundred topics behind otherwise, and a local broker holding
    thousands of partitions starts too slowly after a few dozen runs. Only this session's
    namespaces: another session may be using the same broker. Runs its own event loop in a
    thread, since it is called after pytest-asyncio's session loop may be closed.
    """
    deleted: list[int] = []
    worker = threading.Thread(
        target=lambda: deleted.append(asyncio.run(delete_namespaces(servers, _SESSION_NAMESPACES)))
    )
    worker.start()
    worker.join()
    return deleted[0] if deleted else 0


async def delete_namespaces(servers: str, namespaces: Iterable[str]) -> int:
    """Delete every topic whose name starts with one of `namespaces`; returns how many."""
    prefixes = tuple(namespaces)
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=30_000)
    await admin.start()
    try:
        topics = [
            topic for topic in await admin.list_topics() if prefixes and topic.startswith(prefixes)
        ]
        for start in range(0, len(topics), 100):
            await admin.delete_topics(topics[start : start + 100], timeout_ms=30_000)
        return len(topics)
    finally:
        await admin.close()


async def read_topic(servers: str, topic: str) -> list[ConsumerRecord]:
    """Every record on `topic` up to its current end, all partitions."""
    records: list[ConsumerRecord] = []
    await replay_topics(servers, [topic], records.append)
    return records


async def records_written(servers: str, topic: str) -> int:
    """How many records were ever written to `topic`: the sum of its partitions' end offsets."""
    partitions = await topic_partitions(servers, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=servers)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def group_state(servers: str, group_id: str) -> tuple[str, int]:
    """A consumer group's state as the broker sees it ("Stable" once a rebalance is done) and
    how many members it has."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    ((_, _, state, _, _, members, *_),) = [g for r in responses for g in r.groups]
    return str(state), len(members)
