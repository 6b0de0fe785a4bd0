"""Test access to the real local Kafka broker that `make test` starts."""

from __future__ import annotations

import os
import uuid

import pytest
from aiokafka import ConsumerRecord

from shared.kafka import replay_topics


def bootstrap_servers() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        message = "KAFKA_BOOTSTRAP_SERVERS is not set: run the tests with `make test` (it starts Kafka)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return servers


def new_namespace() -> str:
    """A topic prefix of its own, so a test reads only the records it wrote."""
    return f"test-{uuid.uuid4().hex[:10]}."


async def read_topic(servers: str, topic: str) -> list[ConsumerRecord]:
    """Every record on `topic` up to its current end, all partitions."""
    records: list[ConsumerRecord] = []
    await replay_topics(servers, [topic], records.append)
    return records
