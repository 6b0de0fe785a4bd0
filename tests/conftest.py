"""Test-wide set-up: a real OpenTelemetry SDK provider whose spans tests can inspect, a check
that each test leaves no task, socket or unclosed client behind, and the deletion of the
session's Kafka topics at its end."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import configure_tracing
from tests.support.kafka import delete_session_topics
from tests.support.leaks import Leaks


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop and restart the broker run last, so they disturb nothing else."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is not None)


@pytest.fixture(autouse=True)
async def leaves_nothing_behind() -> AsyncIterator[None]:
    """Fails the test if it leaves a pending task, an open socket or an unclosed client behind
    (every fixture of its own is torn down by then)."""
    leaks = Leaks()
    yield
    left = await leaks.after()
    if left:
        pytest.fail("the test left behind:\n" + "\n".join(left), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def delete_topics_at_the_end():
    yield
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        return
    try:
        delete_session_topics(servers)
    except Exception as error:  # noqa: BLE001  a broker that is gone must not fail a finished run
        print(f"could not delete this session's test topics: {error!r}", file=sys.stderr)


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return _EXPORTER


_EXPORTER = InMemorySpanExporter()
configure_tracing("tests", "none", extra_exporter=_EXPORTER)
