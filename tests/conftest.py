"""Test-wide set-up: one real OpenTelemetry SDK provider whose spans tests can inspect."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import configure_tracing


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop and restart the broker run last, so they disturb nothing else."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is not None)


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return _EXPORTER


_EXPORTER = InMemorySpanExporter()
configure_tracing("tests", "none", extra_exporter=_EXPORTER)
