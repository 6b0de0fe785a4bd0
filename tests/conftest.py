"""Test-wide set-up: a real OpenTelemetry SDK provider whose spans tests can inspect, and the
deletion of the session's Kafka topics at its end."""

from __future__ import annotations

import os
import warnings

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import configure_tracing
from tests.support.kafka import delete_session_topics


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop and restart the broker run last, so they disturb nothing else."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is not None)


@pytest.fixture(scope="session", autouse=True)
def delete_topics_at_the_end():
    yield
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        return
    try:
        delete_session_topics(servers)
    except Exception as error:  # a broker that is gone must not fail a finished run
        warnings.warn(f"could not delete this session's test topics: {error!r}", stacklevel=1)


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return _EXPORTER


_EXPORTER = InMemorySpanExporter()
configure_tracing("tests", "none", extra_exporter=_EXPORTER)
