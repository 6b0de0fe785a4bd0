"""Watch over a real socket: the snapshot, then newly published cells and withdrawals; the
view's own refusal of cells that should never have been published. Each test has its own
namespace, since it writes to the benchmarks topic."""

from __future__ import annotations

import asyncio
import dataclasses

import grpc
import pytest
from jedi.v1 import query_pb2
from prometheus_client import REGISTRY

from shared.convert_benchmarks import cell_from_proto, cell_to_proto
from shared.domain.benchmark_set import DistributionCell
from shared.domain.cells import CompositeCell
from shared.domain.model import Composite, Wave

from tests.support.ingest import DATASET_NOW
from tests.support.query import publish_cells, publish_raw, reference, running_query, unsuppressed

pytestmark = pytest.mark.kafka


@pytest.fixture
async def query(tmp_path):
    async with running_query(tmp_path) as harness:
        yield harness


class Subscriber:
    """A Watch stream read in the background: its messages land in a queue."""

    def __init__(self, query, request: query_pb2.WatchRequest, who: str) -> None:
        self.call = query.stub.Watch(request, metadata=query.as_(who))
        self.messages: asyncio.Queue[query_pb2.WatchResponse] = asyncio.Queue()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.call:
            await self.messages.put(message)

    async def snapshot(self) -> list:
        cells = []
        while True:
            message = await asyncio.wait_for(self.messages.get(), 10)
            if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
                return cells
            assert message.phase == query_pb2.WATCH_PHASE_SNAPSHOT
            cells.extend(message.cells)

    async def next_change(self, timeout: float = 10) -> query_pb2.WatchResponse:
        message = await asyncio.wait_for(self.messages.get(), timeout)
        assert message.phase == query_pb2.WATCH_PHASE_CHANGE
        return message

    async def close(self) -> None:
        self.call.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def _north_total() -> CompositeCell:
    return reference().by_key()["composite/site-north/baseline/belonging/all/all"]


async def test_watch_delivers_the_snapshot_then_a_new_cell_then_its_withdrawal(query):
    request = query_pb2.WatchRequest(site_id="site-north", kinds=[query_pb2.CELL_KIND_COMPOSITE])
    subscriber = Subscriber(query, request, "coordinator")
    try:
        snapshot = [cell_from_proto(m) for m in await subscriber.snapshot()]
        assert snapshot == [c for c in reference().cells
                            if isinstance(c, CompositeCell) and c.site_id == "site-north"]
        # A wave the dataset does not have: a cell never seen before.
        new_cell = dataclasses.replace(_north_total(), wave=Wave.MIDPOINT)
        await publish_cells(query.topics, [new_cell])
        change = await subscriber.next_change()
        assert [cell_from_proto(m) for m in change.cells] == [new_cell] and not change.withdrawn_keys
        # A new revision of a cell in the snapshot.
        updated = dataclasses.replace(_north_total(), n=_north_total().n + 1)
        await publish_cells(query.topics, [updated], revision=2)
        change = await subscriber.next_change()
        assert [cell_from_proto(m) for m in change.cells] == [updated]
        assert change.cells[0].revision == 2
        # Withdrawn with a tombstone; a peer's withdrawal is outside the filter and not sent.
        await publish_raw(query.topics, "composite/site-south/baseline/belonging/all/all", None)
        await publish_raw(query.topics, new_cell.key, None)
        change = await subscriber.next_change()
        assert list(change.withdrawn_keys) == [new_cell.key] and not change.cells
        assert subscriber.messages.empty()
    finally:
        await subscriber.close()
    reply = await query.stub.GetTrend(query_pb2.GetTrendRequest(site_id="site-north", composite=1),
                                      metadata=query.as_("coordinator"))
    assert [cell_from_proto(m).wave for m in reply.trends[0].points] == [Wave.BASELINE, Wave.FOLLOW_UP]


async def test_a_site_watch_sees_its_own_changes_and_never_a_peer(query):
    subscriber = Subscriber(query, query_pb2.WatchRequest(), "site-south")
    try:
        snapshot = [cell_from_proto(m) for m in await subscriber.snapshot()]
        assert {getattr(c, "site_id", None) for c in snapshot} == {"site-south", None}
        peer = dataclasses.replace(_north_total(), wave=Wave.MIDPOINT)
        own = reference().by_key()["composite/site-south/baseline/belonging/all/all"]
        own_update = dataclasses.replace(own, mean=own.mean + 0.01)
        distribution = next(c for c in reference().cells if isinstance(c, DistributionCell))
        distribution_update = dataclasses.replace(distribution, p50=distribution.p50 + 1)
        await publish_cells(query.topics, [peer], revision=5)
        await publish_raw(query.topics, _north_total().key, None)
        await publish_cells(query.topics, [own_update, distribution_update], revision=5)
        received, withdrawn = [], []
        while len(received) < 2:
            change = await subscriber.next_change()
            received += [cell_from_proto(m) for m in change.cells]
            withdrawn += change.withdrawn_keys
        assert sorted(received, key=lambda c: c.key) == sorted([own_update, distribution_update], key=lambda c: c.key)
        assert not withdrawn
        await asyncio.sleep(0.5)
        assert subscriber.messages.empty()
    finally:
        await subscriber.close()


async def test_the_view_refuses_a_cell_below_k_even_if_the_topic_has_it(query):
    """Defence in depth: a small cell published by mistake is never served, and it withdraws
    whatever the view held under its key."""
    hidden = next(c for c in unsuppressed().of_type(CompositeCell)
                  if c.n < 10 and c.site_id == "site-north" and c.dimension != "all")
    shrunk = dataclasses.replace(_north_total(), n=9)
    refused_before = REGISTRY.get_sample_value("jedi_query_refused_records_total",
                                               {"reason": "below_min_cell_size"}) or 0
    subscriber = Subscriber(query, query_pb2.WatchRequest(site_id="site-north"), "coordinator")
    try:
        await subscriber.snapshot()
        await publish_cells(query.topics, [hidden, shrunk], revision=9)
        change = await subscriber.next_change()
        assert list(change.withdrawn_keys) == [shrunk.key] and not change.cells
        # An unreadable value and one whose key is not its cell's are refused the same way.
        other = reference().by_key()["composite/site-north/baseline/inclusion/all/all"]
        await publish_raw(query.topics, other.key, b"\xff not a protobuf")
        change = await subscriber.next_change()
        assert list(change.withdrawn_keys) == [other.key]
        mislabelled = cell_to_proto(reference().by_key()["composite/site-south/baseline/inclusion/all/all"],
                                    as_of=DATASET_NOW, revision=9)
        await publish_raw(query.topics, "composite/site-north/follow_up/inclusion/all/all",
                          mislabelled.SerializeToString())
        change = await subscriber.next_change()
        assert list(change.withdrawn_keys) == ["composite/site-north/follow_up/inclusion/all/all"]
    finally:
        await subscriber.close()
    reply = await query.stub.GetSiteScorecard(query_pb2.GetSiteScorecardRequest(site_id="site-north", wave=1),
                                              metadata=query.as_("coordinator"))
    keys = {m.key for entry in reply.composites for m in [entry.total, *entry.breakdowns]}
    assert hidden.key not in keys and shrunk.key not in keys
    assert hidden.key not in query.server.view.current.cells
    refused_after = REGISTRY.get_sample_value("jedi_query_refused_records_total", {"reason": "below_min_cell_size"})
    assert refused_after == refused_before + 2


async def test_an_older_revision_is_ignored(query):
    total = _north_total()
    await publish_cells(query.topics, [dataclasses.replace(total, n=total.n + 5)], revision=0)
    marker = dataclasses.replace(total, composite=Composite.INCLUSION, wave=Wave.MIDPOINT)
    await publish_cells(query.topics, [marker], revision=1)
    for _ in range(200):
        if marker.key in query.server.view.current.cells:
            break
        await asyncio.sleep(0.05)
    assert query.server.view.current.cells[total.key].cell == total


async def test_watch_streams_end_with_unavailable_when_the_server_stops(tmp_path):
    async with running_query(tmp_path) as query:
        subscriber = Subscriber(query, query_pb2.WatchRequest(kinds=[query_pb2.CELL_KIND_RANK]), "coordinator")
        await subscriber.snapshot()
        await query.server.stop(grace=2.0)
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await subscriber.task
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
