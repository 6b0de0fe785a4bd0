"""An in-process ingest service on a real socket, against the real broker, and events sent
through it as sites send them."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.ingest.server import IngestServer
from services.ingest.settings import IngestSettings
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.demo_dataset import DemoDataset, build_demo_dataset
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.topics import Topics
from tests.support.credentials import TestKeys, write_credentials
from tests.support.kafka import bootstrap_servers, new_namespace

# A fixed "now" for the dataset, so every test sees the same events.
DATASET_NOW = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass
class IngestHarness:
    server: IngestServer
    stub: ingest_pb2_grpc.IngestServiceStub
    keys: TestKeys
    topics: Topics
    dataset: DemoDataset

    @property
    def settings(self) -> IngestSettings:
        return self.server.settings

    async def submit(
        self, events: Iterable[ingest_pb2.Event], *, key: str | None = "coordinator"
    ) -> ingest_pb2.SubmitEventsResponse:
        api_key = self.keys.coordinator if key == "coordinator" else key
        return await self.stub.SubmitEvents(
            ingest_pb2.SubmitEventsRequest(events=events), metadata=call_metadata(api_key)
        )


def demo_dataset() -> DemoDataset:
    return build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=0.2)


@contextlib.asynccontextmanager
async def running_ingest(
    tmp_path: Path,
    *,
    namespace: str | None = None,
    register: bool = True,
    dataset: DemoDataset | None = None,
    ca_file: Path | None = None,
    **overrides: Any,  # IngestSettings fields
) -> AsyncIterator[IngestHarness]:
    """An ingest on port 0 (settings `overrides` on top of the test defaults); `ca_file` makes
    the harness's channel a TLS one that trusts that CA."""
    dataset = dataset or demo_dataset()
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    settings = IngestSettings(
        kafka_bootstrap_servers=bootstrap_servers(),
        topic_namespace=namespace or new_namespace(),
        port=0,
        credentials_file=keys.path,
    )
    settings = dataclasses.replace(settings, **overrides)
    server = IngestServer(settings)
    await server.start()
    channel = open_channel(f"127.0.0.1:{server.port}", ca_file=ca_file)
    harness = IngestHarness(
        server,
        ingest_pb2_grpc.IngestServiceStub(channel),
        keys,
        Topics(settings.topic_namespace),
        dataset,
    )
    try:
        if register:
            await register_dataset(harness)
        yield harness
    finally:
        await channel.close()
        await harness.server.stop()  # the test may have replaced it (a restart)


async def register_dataset(harness: IngestHarness) -> None:
    metadata = call_metadata(harness.keys.coordinator)
    await harness.stub.PutInstrument(
        ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(harness.dataset.instrument)),
        metadata=metadata,
    )
    for site in harness.dataset.sites:
        await harness.stub.PutSite(
            ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=metadata
        )


def arrival_order(
    events: Iterable[SurveyResponse | InterventionEvent],
) -> list[SurveyResponse | InterventionEvent]:
    """As sites send them: in time order, so incident steps arrive in lifecycle order."""
    return sorted(
        events,
        key=lambda event: (
            event.occurred_at if isinstance(event, InterventionEvent) else event.submitted_at
        ),
    )


async def submit_events(
    ingest: IngestHarness, events: Sequence[SurveyResponse | InterventionEvent], *, batch: int = 500
) -> int:
    """Push events through the ingest service over gRPC (coordinator key); the number accepted."""
    accepted = 0
    for start in range(0, len(events), batch):
        reply = await ingest.submit(
            [event_to_proto(event) for event in events[start : start + batch]]
        )
        if reply.rejected_count:
            reasons = [r for r in reply.results if r.status != 1][:3]
            raise AssertionError(f"ingest rejected {reply.rejected_count} events: {reasons}")
        accepted += reply.accepted_count
    return accepted
