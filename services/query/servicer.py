"""The gRPC servicer: authenticate, wait for the view, answer from one snapshot, map refusals.

Calls are traced, counted and timed by the server's interceptors (shared.grpc_telemetry).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar, cast

import grpc
import structlog
from google.protobuf.message import Message

from jedi.v1 import query_pb2, query_pb2_grpc
from services.query import answers_lists, answers_releases, answers_site, answers_trail, metrics
from services.query.ask import Ask
from services.query.errors import QueryError, unavailable
from services.query.settings import QuerySettings
from services.query.snapshot import Snapshot
from services.query.view import View
from services.query.watch import watch, watch_filter
from shared.audit_trail import AuditTrailStore, AuditTrailWriter
from shared.auth import CredentialStore, Principal
from shared.domain.trail import IsolationRule, QueryCall
from shared.grpc_support import authenticate

log = structlog.get_logger(__name__)
Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)
# Replies kept per snapshot for callers asking again before the next version (dashboards
# polling the same scorecards): bounded, as a reply can hold a site's every cell.
REPLIES_PER_SNAPSHOT = 512


class BenchmarkServicer(query_pb2_grpc.BenchmarkServiceServicer):
    def __init__(
        self,
        *,
        view: View,
        credentials: CredentialStore,
        settings: QuerySettings,
        closing: asyncio.Event,
        trail: AuditTrailWriter | None = None,
        trail_store: AuditTrailStore | None = None,
    ) -> None:
        self.view = view
        self.credentials = credentials
        self.settings = settings
        self.closing = closing
        self.trail = trail
        self.trail_store = trail_store or AuditTrailStore()

    async def GetSiteScorecard(
        self,
        request: query_pb2.GetSiteScorecardRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.GetSiteScorecardRequest, query_pb2.GetSiteScorecardResponse
        ],
    ) -> query_pb2.GetSiteScorecardResponse:
        return await self._answer(answers_site.site_scorecard, request, context)

    async def CompareSites(
        self,
        request: query_pb2.CompareSitesRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.CompareSitesRequest, query_pb2.CompareSitesResponse
        ],
    ) -> query_pb2.CompareSitesResponse:
        return await self._answer(answers_lists.compare_sites, request, context)

    async def GetDistribution(
        self,
        request: query_pb2.GetDistributionRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.GetDistributionRequest, query_pb2.GetDistributionResponse
        ],
    ) -> query_pb2.GetDistributionResponse:
        return await self._answer(answers_lists.distribution, request, context)

    async def ListDisparities(
        self,
        request: query_pb2.ListDisparitiesRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.ListDisparitiesRequest, query_pb2.ListDisparitiesResponse
        ],
    ) -> query_pb2.ListDisparitiesResponse:
        return await self._answer(answers_lists.disparities, request, context)

    async def GetTrend(
        self,
        request: query_pb2.GetTrendRequest,
        context: grpc.aio.ServicerContext[query_pb2.GetTrendRequest, query_pb2.GetTrendResponse],
    ) -> query_pb2.GetTrendResponse:
        return await self._answer(answers_site.trend, request, context)

    async def GetInterventionReach(
        self,
        request: query_pb2.GetInterventionReachRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.GetInterventionReachRequest, query_pb2.GetInterventionReachResponse
        ],
    ) -> query_pb2.GetInterventionReachResponse:
        return await self._answer(answers_site.intervention_reach, request, context)

    async def ListSites(
        self,
        request: query_pb2.ListSitesRequest,
        context: grpc.aio.ServicerContext[query_pb2.ListSitesRequest, query_pb2.ListSitesResponse],
    ) -> query_pb2.ListSitesResponse:
        return await self._answer(answers_lists.sites, request, context)

    async def ListComposites(
        self,
        request: query_pb2.ListCompositesRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.ListCompositesRequest, query_pb2.ListCompositesResponse
        ],
    ) -> query_pb2.ListCompositesResponse:
        return await self._answer(answers_lists.composites, request, context)

    async def ListReleases(
        self,
        request: query_pb2.ListReleasesRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.ListReleasesRequest, query_pb2.ListReleasesResponse
        ],
    ) -> query_pb2.ListReleasesResponse:
        return await self._answer(answers_releases.releases, request, context)

    async def ListAuditEvents(
        self,
        request: query_pb2.ListAuditEventsRequest,
        context: grpc.aio.ServicerContext[
            query_pb2.ListAuditEventsRequest, query_pb2.ListAuditEventsResponse
        ],
    ) -> query_pb2.ListAuditEventsResponse:
        principal = await authenticate(context, self.credentials)
        try:
            reply = answers_trail.audit_events(
                principal,
                self.trail_store,
                request,
                rule=IsolationRule(k=self.settings.min_cell_size),
                default_page_size=self.settings.default_page_size,
                max_page_size=self.settings.max_page_size,
            )
        except QueryError as error:
            await self._audit(principal, request, error.code.name)
            await context.abort_with_status(error.to_status())
            raise AssertionError("unreachable: abort raises") from error
        await self._audit(principal, request, "OK")
        return reply

    async def Watch(
        self,
        request: query_pb2.WatchRequest,
        context: grpc.aio.ServicerContext[query_pb2.WatchRequest, query_pb2.WatchResponse],
    ) -> AsyncIterator[query_pb2.WatchResponse]:
        principal = await authenticate(context, self.credentials)
        try:
            matcher = watch_filter(principal, request)
            await self._wait_ready(context, stream=True)
        except QueryError as error:
            await self._audit(principal, request, error.code.name)
            await context.abort_with_status(error.to_status())
        await self._audit(principal, request, "OK")
        metrics.WATCH_SUBSCRIBERS.inc()
        try:
            async for message in watch(
                self.view, matcher, chunk=self.settings.watch_snapshot_chunk, closing=self.closing
            ):
                yield message
        finally:
            metrics.WATCH_SUBSCRIBERS.dec()
        if self.closing.is_set():
            await context.abort_with_status(
                unavailable("the server is shutting down", 1.0).to_status()
            )

    async def _answer(
        self,
        answer: Callable[[Ask, Request], Response],
        request: Request,
        context: grpc.aio.ServicerContext[Request, Response],
    ) -> Response:
        principal = await authenticate(context, self.credentials)
        try:
            snapshot = await self._wait_ready(context)
            key = (answer, principal, request.SerializeToString(deterministic=True))
            found = snapshot.replies.get(key)
            if found is not None:
                metrics.REPLIES_REUSED.inc()
                await self._audit(principal, request, "OK")
                return cast(Response, found)  # stored under this answer's key, so its type
            ask = Ask(
                snapshot, principal, self.settings.default_page_size, self.settings.max_page_size
            )
            reply = answer(ask, request)
            if len(snapshot.replies) < REPLIES_PER_SNAPSHOT:
                snapshot.replies[key] = reply
            await self._audit(principal, request, "OK")
            return reply
        except QueryError as error:
            await self._audit(principal, request, error.code.name)
            await context.abort_with_status(error.to_status())
            raise AssertionError("unreachable: abort raises") from error

    async def _audit(self, principal: Principal, request: Message, status: str) -> None:
        """The audit trail's one hook for queries: every call once authenticated, its method,
        the sites it names and how it ended (queued, not awaited: reads stay fast)."""
        if self.trail is not None:
            await self.trail.record(principal, query_call(request, status), wait=False)

    async def _wait_ready(
        self, context: grpc.aio.ServicerContext[Request, Response], *, stream: bool = False
    ) -> Snapshot:
        """The current snapshot once the view has caught up, waiting within the call's deadline."""
        if not self.view.ready.is_set():
            remaining = context.time_remaining()
            limit = (
                remaining
                if remaining is not None
                else (None if stream else self.settings.not_ready_wait_s)
            )
            try:
                await asyncio.wait_for(self.view.ready.wait(), limit)
            except TimeoutError:
                if remaining is not None:
                    raise QueryError(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        "the deadline passed while the view was still loading",
                    ) from None
                raise unavailable("the benchmark view is still loading", 1.0) from None
        return self.view.current


def query_call(request: Message, status: str) -> QueryCall:
    """A request's audit record: the RPC's name from its request type, the sites it names."""
    sites: set[str] = set()
    site_id = getattr(request, "site_id", None)
    if isinstance(site_id, str) and site_id:
        sites.add(site_id)
    site_ids = getattr(request, "site_ids", None)
    if site_ids is not None:
        sites.update(str(site) for site in site_ids)
    method = type(request).__name__.removesuffix("Request")
    return QueryCall(method=method, site_ids=tuple(sorted(sites)), status=status)
