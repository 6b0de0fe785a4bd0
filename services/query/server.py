"""Wires the query service together: topics, the view and its follower, the gRPC server."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import structlog
from grpc_health.v1 import health as grpc_health

from jedi.v1 import query_pb2, query_pb2_grpc
from services.query import metrics
from services.query.follower import ViewFollower, follow_forever
from services.query.servicer import BenchmarkServicer
from services.query.settings import QuerySettings
from services.query.view import View
from shared.audit_trail import AuditTrailStore, AuditTrailWriter
from shared.auth import CredentialStore
from shared.grpc_support import add_health_and_reflection, bind, set_serving
from shared.grpc_telemetry import instrumented_server
from shared.kafka import ensure_topics, replay_topics
from shared.topics import Topics

log = structlog.get_logger(__name__)
SERVICE_NAME = query_pb2.DESCRIPTOR.services_by_name["BenchmarkService"].full_name


class QueryServer:
    """`start()` listens at once (health NOT_SERVING) and follows the topics; health turns
    SERVING once the view caught up with the end offsets seen at start. `stop()` ends it."""

    def __init__(self, settings: QuerySettings) -> None:
        self.settings = settings
        self.port: int | None = None
        self.view = View()
        self._stop_following = asyncio.Event()
        self._closing = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._server: grpc.aio.Server | None = None
        self.trail_store = AuditTrailStore()
        self._trail = AuditTrailWriter(
            settings.kafka, Topics(settings.topic_namespace).audit_trail.name, "query"
        )

    async def start(self) -> None:
        settings = self.settings
        topics = Topics(settings.topic_namespace)
        await ensure_topics(
            settings.kafka,
            [topics.benchmarks, topics.sites, topics.audit_trail, topics.site_flags],
            replication_factor=settings.topic_replication_factor,
        )
        await self._trail.start()
        self._server = instrumented_server(SERVICE_NAME, metrics.REQUESTS, metrics.REQUEST_SECONDS)
        query_pb2_grpc.add_BenchmarkServiceServicer_to_server(
            BenchmarkServicer(
                view=self.view,
                credentials=CredentialStore.from_file(settings.credentials_file),
                settings=settings,
                closing=self._closing,
                trail=self._trail,
                trail_store=self.trail_store,
            ),
            self._server,
        )
        health_servicer = add_health_and_reflection(self._server, [SERVICE_NAME])
        await set_serving(health_servicer, [SERVICE_NAME], False)
        self.port = bind(
            self._server,
            f"{settings.host}:{settings.port}",
            settings.tls_cert_file,
            settings.tls_key_file,
        )
        await self._server.start()
        follower = ViewFollower(
            settings.kafka,
            cells_topic=topics.benchmarks.name,
            sites_topic=topics.sites.name,
            flags_topic=topics.site_flags.name,
            view=self.view,
            min_cell_size=settings.min_cell_size,
            min_sites=settings.min_sites,
        )
        self._tasks = [
            asyncio.create_task(
                follow_forever(follower, self._stop_following), name="query-view-follower"
            ),
            asyncio.create_task(self._serve_once_caught_up(health_servicer), name="query-health"),
            asyncio.create_task(self._follow_trail(topics.audit_trail.name), name="query-trail"),
        ]
        log.info(
            "query_listening",
            host=settings.host,
            port=self.port,
            namespace=settings.topic_namespace,
        )

    async def wait_serving(self) -> None:
        """Returns once the view caught up and health says SERVING."""
        await self.view.ready.wait()
        await self._tasks[1]  # the health task (the trail follower runs on)

    async def _serve_once_caught_up(self, servicer: grpc_health.aio.HealthServicer) -> None:
        await self.view.ready.wait()
        await set_serving(servicer, [SERVICE_NAME], True)
        log.info("query_serving", cells=len(self.view.current.cells), port=self.port)

    async def _follow_trail(self, topic: str) -> None:
        """The audit trail into `trail_store`, for ListAuditEvents (coordinators only)."""
        try:
            await replay_topics(
                self.settings.kafka,
                [topic],
                self.trail_store.apply_record,
                follow=True,
                stop=self._stop_following,
                caught_up=self.trail_store.caught_up,
            )
        except Exception as error:
            log.error("audit_trail_follow_failed", topic=topic, error=repr(error))
            raise

    async def stop(self, grace: float | None = None) -> None:
        grace_s = self.settings.shutdown_grace_s if grace is None else grace
        self._closing.set()  # Watch streams end with UNAVAILABLE: clients reconnect elsewhere
        if self._server is not None:
            await self._server.stop(grace_s)
        self._stop_following.set()
        # The followers see the stop within a poll and close their consumers themselves; a
        # cancel landing while one is already closing would cut its close short and leave its
        # Kafka client's tasks running. So only what has not ended by the grace is cancelled.
        _, unfinished = (
            await asyncio.wait(self._tasks, timeout=grace_s) if self._tasks else ((), ())
        )
        for task in unfinished:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._trail.stop()
        log.info("query_stopped")
