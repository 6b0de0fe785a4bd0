"""The dashboard's only data source: the query service's gRPC API, called with the signed-in
user's own API key, so the query service's role rules decide what anyone sees."""

from __future__ import annotations

from collections.abc import AsyncIterable
from pathlib import Path
from typing import TypedDict

import grpc

from jedi.v1 import benchmarks_pb2, common_pb2, flags_pb2, query_pb2, query_pb2_grpc
from services.dashboard.sessions import Identity, Role
from shared.clients import call_metadata, open_channel


class WrongKey(Exception):
    """The query service does not know the key."""


class QueryUnavailable(Exception):
    """The query service could not answer (down, or its view not caught up yet)."""


class QueryChannel:
    """One channel to the query service shared by every session (opened at startup)."""

    def __init__(self, address: str, *, ca_file: Path | None, timeout_s: float) -> None:
        self._address = address
        self._ca_file = ca_file
        self.timeout_s = timeout_s
        self.channel: grpc.aio.Channel | None = None
        self.stub: query_pb2_grpc.BenchmarkServiceAsyncStub | None = None

    async def start(self) -> None:
        self.channel = open_channel(self._address, ca_file=self._ca_file)
        self.stub = query_pb2_grpc.BenchmarkServiceStub(self.channel)

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.close()

    def client(self, api_key: str) -> QueryClient:
        assert self.stub is not None, "QueryChannel.start() first"
        return QueryClient(self.stub, api_key, self.timeout_s)


class _CallOptions(TypedDict):
    """The keyword arguments of every unary call: the user's key and the deadline."""

    metadata: tuple[tuple[str, str], ...]
    timeout: float


class QueryClient:
    """The query service as one user: every call carries that user's key."""

    def __init__(
        self, stub: query_pb2_grpc.BenchmarkServiceAsyncStub, api_key: str, timeout_s: float
    ) -> None:
        self._stub = stub
        self._key = api_key
        self._timeout_s = timeout_s

    def _options(self) -> _CallOptions:
        return {"metadata": call_metadata(self._key), "timeout": self._timeout_s}

    async def identify(self) -> Identity:
        """Whose key this is, as the query service sees it. Raises WrongKey or QueryUnavailable."""
        try:
            listed = await self._stub.ListSites(
                query_pb2.ListSitesRequest(page_size=2), **self._options()
            )
            try:
                await self._stub.CompareSites(
                    query_pb2.CompareSitesRequest(
                        composite=common_pb2.COMPOSITE_BELONGING,
                        wave=common_pb2.WAVE_BASELINE,
                        page_size=1,
                    ),
                    **self._options(),
                )
            except grpc.aio.AioRpcError as error:
                if error.code() is not grpc.StatusCode.PERMISSION_DENIED:
                    raise
                own = listed.sites[0].site if listed.sites else None
                return Identity(
                    Role.SITE,
                    own.site_id if own else None,
                    (own.name or own.site_id) if own else None,
                )
            return Identity(Role.COORDINATOR)
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.UNAUTHENTICATED:
                raise WrongKey() from error
            raise QueryUnavailable(error.code().name) from error

    async def sites(self) -> list[query_pb2.SiteListing]:
        listings: list[query_pb2.SiteListing] = []
        token = ""
        while True:
            page = await self._stub.ListSites(
                query_pb2.ListSitesRequest(page_size=500, page_token=token), **self._options()
            )
            listings.extend(page.sites)
            token = page.next_page_token
            if not token:
                return listings

    async def composites(self) -> list[query_pb2.CompositeListing]:
        reply = await self._stub.ListComposites(
            query_pb2.ListCompositesRequest(page_size=500), **self._options()
        )
        return list(reply.composites)

    async def compare(
        self, composite: common_pb2.Composite, wave: common_pb2.Wave
    ) -> query_pb2.CompareSitesResponse:
        first = await self._stub.CompareSites(
            query_pb2.CompareSitesRequest(composite=composite, wave=wave, page_size=500),
            **self._options(),
        )
        token = first.next_page_token
        while token:
            page = await self._stub.CompareSites(
                query_pb2.CompareSitesRequest(
                    composite=composite, wave=wave, page_size=500, page_token=token
                ),
                **self._options(),
            )
            first.sites.extend(page.sites)
            token = page.next_page_token
        return first

    async def scorecard(
        self, site_id: str, wave: common_pb2.Wave
    ) -> query_pb2.GetSiteScorecardResponse:
        return await self._stub.GetSiteScorecard(
            query_pb2.GetSiteScorecardRequest(site_id=site_id, wave=wave), **self._options()
        )

    async def disparities(
        self, site_id: str, wave: common_pb2.Wave
    ) -> list[benchmarks_pb2.BenchmarkCell]:
        cells: list[benchmarks_pb2.BenchmarkCell] = []
        token = ""
        while True:
            page = await self._stub.ListDisparities(
                query_pb2.ListDisparitiesRequest(
                    site_id=site_id,
                    wave=wave,
                    include_not_significant=True,
                    page_size=500,
                    page_token=token,
                ),
                **self._options(),
            )
            cells.extend(page.disparities)
            token = page.next_page_token
            if not token:
                return cells

    async def trend(self, site_id: str) -> query_pb2.GetTrendResponse:
        return await self._stub.GetTrend(
            query_pb2.GetTrendRequest(site_id=site_id), **self._options()
        )

    async def reach(self, site_id: str) -> query_pb2.GetInterventionReachResponse:
        return await self._stub.GetInterventionReach(
            query_pb2.GetInterventionReachRequest(site_id=site_id), **self._options()
        )

    async def releases(self) -> list[benchmarks_pb2.ReleaseStatus]:
        """The latest release status of every scope the user may see (a site: its own and the cross-site ones)."""
        reply = await self._stub.ListReleases(query_pb2.ListReleasesRequest(), **self._options())
        return list(reply.releases)

    async def flags(self) -> list[flags_pb2.SiteFlag]:
        """The sites flagged for an implausible upload the user may see (ListReleases' flags)."""
        reply = await self._stub.ListReleases(query_pb2.ListReleasesRequest(), **self._options())
        return list(reply.flags)

    def watch(self, request: query_pb2.WatchRequest) -> AsyncIterable[query_pb2.WatchResponse]:
        """The Watch stream (no deadline: it lives as long as the browser's SSE stream)."""
        return self._stub.Watch(request, metadata=call_metadata(self._key))
