"""Wires the ingest service together: Kafka topics, registries, ledger, gRPC server."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import structlog

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.ingest import metrics
from services.ingest.ledger import EventLedger
from services.ingest.publisher import EventPublisher
from services.ingest.registration import Registration
from services.ingest.registry import RegistryView
from services.ingest.servicer import IngestServicer
from services.ingest.settings import IngestSettings
from services.ingest.submission import EventSubmissions
from shared.audit_trail import AuditTrailWriter
from shared.auth import CredentialStore
from shared.grpc_support import add_health_and_reflection, bind, set_serving
from shared.grpc_telemetry import instrumented_server
from shared.kafka import ensure_topics, replay_topics
from shared.topics import Topics

log = structlog.get_logger(__name__)
SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


class IngestServer:
    """One ingest process: `start()` returns once it serves, `stop()` shuts it down cleanly."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.port: int | None = None
        self._stop_following = asyncio.Event()
        self._registry_task: asyncio.Task[None] | None = None
        self._publisher = EventPublisher(settings.kafka, send_timeout_s=settings.publish_timeout_s)
        self._server: grpc.aio.Server | None = None
        self._trail = AuditTrailWriter(
            settings.kafka, Topics(settings.topic_namespace).audit_trail.name, "ingest"
        )

    async def start(self) -> None:
        settings = self.settings
        topics = Topics(settings.topic_namespace)
        await ensure_topics(
            settings.kafka,
            [*topics.all, topics.audit_trail],
            replication_factor=settings.topic_replication_factor,
        )
        registry, ledger = RegistryView(topics), EventLedger(topics)
        registry_loaded = asyncio.Event()
        self._registry_task = asyncio.create_task(
            replay_topics(
                settings.kafka,
                registry.topics,
                registry.apply_record,
                follow=True,
                stop=self._stop_following,
                caught_up=registry_loaded,
            )
        )
        await replay_topics(settings.kafka, ledger.topics, ledger.apply_record)
        await registry_loaded.wait()
        await self._publisher.start()
        await self._trail.start()
        log.info(
            "ingest_state_loaded",
            events=len(ledger),
            sites=len(registry.sites),
            instruments=len(registry.instruments),
        )

        self._server = instrumented_server(SERVICE_NAME, metrics.REQUESTS, metrics.REQUEST_SECONDS)
        submissions = EventSubmissions(
            registry=registry,
            ledger=ledger,
            publisher=self._publisher,
            topics=topics,
            only_site_id=settings.site_id,
        )
        registration = Registration(registry=registry, publisher=self._publisher, topics=topics)
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(
            IngestServicer(
                credentials=CredentialStore.from_file(settings.credentials_file),
                registry=registry,
                submissions=submissions,
                registration=registration,
                max_events_per_request=settings.max_events_per_request,
                trail=self._trail,
            ),
            self._server,
        )
        health = add_health_and_reflection(self._server, [SERVICE_NAME])
        self.port = bind(
            self._server,
            f"{settings.host}:{settings.port}",
            settings.tls_cert_file,
            settings.tls_key_file,
        )
        await self._server.start()
        await set_serving(health, [SERVICE_NAME], True)
        log.info("ingest_serving", host=settings.host, port=self.port, site_id=settings.site_id)

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
        self._stop_following.set()
        if self._registry_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._registry_task
        await self._publisher.stop()
        await self._trail.stop()
        log.info("ingest_stopped")
