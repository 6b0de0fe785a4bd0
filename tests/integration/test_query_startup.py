"""Start-up: NOT_SERVING until the view caught up with the end offsets seen at start; calls
made meanwhile wait within their deadline."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from jedi.v1 import query_pb2
from services.query.follower import ViewFollower
from services.query.servicer import BenchmarkServicer
from tests.support.query import reference, running_query
from tests.support.waiting import eventually

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
def held_follower(monkeypatch) -> asyncio.Event:
    """The follower starts reading only once the returned event is set."""
    release = asyncio.Event()
    original = ViewFollower.run

    async def held(self, stop):
        await release.wait()
        await original(self, stop)

    monkeypatch.setattr(ViewFollower, "run", held)
    return release


@pytest.fixture
def calls_waiting(monkeypatch) -> list[bool]:
    """One entry per call that went to wait for the view to be ready (True for a stream), added
    as it starts waiting."""
    waiting: list[bool] = []
    original = BenchmarkServicer._wait_ready

    async def recorded(self, context, *, stream: bool = False):
        waiting.append(stream)
        return await original(self, context, stream=stream)

    monkeypatch.setattr(BenchmarkServicer, "_wait_ready", recorded)
    return waiting


async def test_not_serving_until_caught_up_and_calls_wait_within_their_deadline(
    tmp_path, held_follower, calls_waiting
):
    async with running_query(tmp_path, wait=False, not_ready_wait_s=0.3) as query:
        health = health_pb2_grpc.HealthStub(query.channel)
        for service in ("", "jedi.v1.BenchmarkService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == NOT_SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service="jedi.v1.BenchmarkService"))
        assert (await watch.read()).status == NOT_SERVING

        request = query_pb2.ListSitesRequest()
        with pytest.raises(grpc.aio.AioRpcError) as late:
            await query.stub.ListSites(request, metadata=query.as_("coordinator"), timeout=0.5)
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        with pytest.raises(grpc.aio.AioRpcError) as loading:
            await query.stub.ListSites(request, metadata=query.as_("coordinator"))
        assert loading.value.code() == grpc.StatusCode.UNAVAILABLE
        (detail,) = rpc_status.from_call(loading.value).details
        assert detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR)

        # A call waiting with a generous deadline is answered once the view is loaded.
        waited_before = len(calls_waiting)
        waiting = asyncio.ensure_future(
            query.stub.ListSites(request, metadata=query.as_("coordinator"), timeout=30)
        )
        await eventually(
            lambda: len(calls_waiting),
            10,
            what="the call to wait",
            until=lambda n: n > waited_before,
        )
        assert not waiting.done()
        held_follower.set()
        assert (await asyncio.wait_for(watch.read(), 30)).status == SERVING
        assert len((await waiting).sites) == 13
        assert query.server.view.current.cells.keys() == reference().keys()
        watch.cancel()


async def test_an_empty_topic_is_caught_up_at_once(tmp_path):
    async with running_query(tmp_path, fill=False) as query:
        reply = await health_pb2_grpc.HealthStub(query.channel).Check(
            health_pb2.HealthCheckRequest()
        )
        assert reply.status == SERVING
        reply = await query.stub.ListSites(
            query_pb2.ListSitesRequest(), metadata=query.as_("coordinator")
        )
        assert not reply.sites
