"""Test-wide set-up: a real OpenTelemetry SDK provider whose spans tests can inspect, checks
that each test leaves no unclosed client behind and each module no task or open socket, and
the deletion of the session's Kafka topics at its end."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import configure_tracing
from tests.support.kafka import delete_session_topics
from tests.support.leaks import Leaks, collect_unclosed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop and restart the broker run last, so they disturb nothing else."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is not None)


@pytest.fixture(autouse=True)
def closes_what_it_drops() -> Iterator[None]:
    """Fails the test if an object it dropped was never closed (a file, a socket, a transport,
    a Kafka client: their ResourceWarnings, raised while collecting its garbage)."""
    yield
    unclosed = collect_unclosed()
    if unclosed:
        pytest.fail("the test left unclosed:\n" + "\n".join(unclosed), pytrace=False)


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def leaves_nothing_behind() -> AsyncIterator[None]:
    """Fails the module's last test if the module (its tests and fixtures, all torn down by
    then) leaves a task pending, a socket open or a client unclosed."""
    leaks = Leaks()
    yield
    left = await leaks.after()
    if left:
        pytest.fail("the module left behind:\n" + "\n".join(left), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def delete_topics_at_the_end() -> Iterator[None]:
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
