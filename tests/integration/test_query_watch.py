"""Watch over a real socket: the snapshot with every release status, then each new release as
one change (new and changed cells, withdrawn keys, its status), progress between releases;
the view's own refusal of cells that should never have been published. Each test has its own
namespace, since it writes to the benchmarks topic."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import grpc
import pytest
from prometheus_client import REGISTRY

from jedi.v1 import benchmarks_pb2, query_pb2
from services.query.snapshot import Snapshot
from shared.convert_benchmarks import cell_from_proto, cell_to_proto
from shared.convert_releases import release_to_proto, status_to_proto
from shared.domain.benchmark_set import Cell, DistributionCell
from shared.domain.cells import CompositeCell
from shared.domain.model import Composite, Wave
from shared.domain.releases import ReleaseProgress
from tests.support.ingest import DATASET_NOW
from tests.support.query import (
    publish_raw,
    publish_records,
    reference,
    reference_release,
    release_of,
    releases_of,
    running_query,
    unsuppressed,
)
from tests.support.waiting import eventually

NORTH, SOUTH = "site/site-north", "site/site-south"
CROSS_SITE = [r.scope for r in releases_of(reference().cells) if r.scope.startswith("cross-site/")]


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

    async def snapshot(self) -> tuple[list[benchmarks_pb2.BenchmarkCell], query_pb2.WatchResponse]:
        """The snapshot's cells and its SNAPSHOT_COMPLETE message."""
        cells = []
        while True:
            message = await asyncio.wait_for(self.messages.get(), 10)
            if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
                return cells, message
            assert message.phase == query_pb2.WATCH_PHASE_SNAPSHOT
            cells.extend(message.cells)

    async def next_change(self, timeout: float = 10) -> query_pb2.WatchResponse:
        message = await asyncio.wait_for(self.messages.get(), timeout)
        assert message.phase == query_pb2.WATCH_PHASE_CHANGE
        return message

    async def changes_until(
        self, done: Callable[[query_pb2.WatchResponse], bool]
    ) -> list[query_pb2.WatchResponse]:
        """Every change message up to and including the first for which `done` is true."""
        received = []
        while not received or not done(received[-1]):
            received.append(await self.next_change())
        return received

    async def close(self) -> None:
        self.call.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def view_reaches(
    query, condition: Callable[[Snapshot], bool], timeout: float = 10
) -> Snapshot:
    """The view's snapshot once `condition` holds for it."""

    async def wait() -> Snapshot:
        snapshot = query.server.view.current
        while not condition(snapshot):
            snapshot = await query.server.view.newer_than(snapshot.version)
        return snapshot

    return await asyncio.wait_for(wait(), timeout)


def _north_total() -> CompositeCell:
    return reference().by_key()["composite/site-north/baseline/belonging/all/all"]


def _north_cells() -> list[Cell]:
    return list(reference_release(NORTH).cells)


def _with(cells: list[Cell], *changed: Cell, without: tuple[str, ...] = ()) -> list[Cell]:
    """The cells with some replaced or added (by key) and some keys left out."""
    by_key = {cell.key: cell for cell in cells}
    by_key.update({cell.key: cell for cell in changed})
    return [cell for key, cell in sorted(by_key.items()) if key not in without]


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_watch_delivers_the_snapshot_then_each_release_as_one_change(query):
    request = query_pb2.WatchRequest(site_id="site-north", kinds=[query_pb2.CELL_KIND_COMPOSITE])
    subscriber = Subscriber(query, request, "coordinator")
    try:
        cells, complete = await subscriber.snapshot()
        assert [cell_from_proto(m) for m in cells] == [
            c
            for c in reference().cells
            if isinstance(c, CompositeCell) and c.site_id == "site-north"
        ]
        # Every status the filter's scopes have: the site's and the cross-site ones.
        expected = [
            status_to_proto(r)
            for r in releases_of(reference().cells)
            if r.scope in (NORTH, *CROSS_SITE)
        ]
        assert list(complete.releases) == expected
        # A release adding a wave the dataset does not have: a cell never seen before.
        new_cell = dataclasses.replace(_north_total(), wave=Wave.MIDPOINT)
        await publish_records(
            query.topics, [release_of(NORTH, _with(_north_cells(), new_cell), number=2)]
        )
        change = await subscriber.next_change()
        assert [cell_from_proto(m) for m in change.cells] == [
            new_cell
        ] and not change.withdrawn_keys
        assert [(s.scope, s.number) for s in change.releases] == [(NORTH, 2)]
        # A peer's release is outside the filter (cells and status); the next release of the site
        # changes one cell and leaves out the new one, which is withdrawn.
        south = reference_release(SOUTH)
        await publish_records(query.topics, [release_of(SOUTH, south.cells[1:], number=2)])
        await view_reaches(query, lambda s: s.statuses[SOUTH].number == 2)
        updated = dataclasses.replace(_north_total(), n=_north_total().n + 1)
        await publish_records(
            query.topics, [release_of(NORTH, _with(_north_cells(), updated), number=3)]
        )
        change = await subscriber.next_change()
        assert [cell_from_proto(m) for m in change.cells] == [updated] and change.cells[
            0
        ].revision == 3
        assert list(change.withdrawn_keys) == [new_cell.key]
        assert [(s.scope, s.number) for s in change.releases] == [(NORTH, 3)]
        # Nothing else came of those releases: the next change is a sentinel published after them.
        await publish_records(query.topics, [ReleaseProgress(NORTH, 3, {"baseline": 1})])
        sentinel = await subscriber.next_change()
        assert not sentinel.cells and not sentinel.withdrawn_keys
        assert [(s.scope, s.number, dict(s.held_back)) for s in sentinel.releases] == [
            (NORTH, 3, {"baseline": 1})
        ]
    finally:
        await subscriber.close()
    reply = await query.stub.GetTrend(
        query_pb2.GetTrendRequest(site_id="site-north", composite=1),
        metadata=query.as_("coordinator"),
    )
    assert [cell_from_proto(m) for m in reply.trends[0].points] == [
        updated,
        reference().by_key()["composite/site-north/follow_up/belonging/all/all"],
    ]
    assert reply.trends[0].points[0].revision == 3


async def test_half_a_release_is_never_visible(tmp_path):
    """Every cell of the site changes in one release: a Watch subscriber gets it in one view
    version, and no scorecard read meanwhile mixes the two releases."""
    async with running_query(tmp_path, watch_snapshot_chunk=7) as query:
        subscriber = Subscriber(query, query_pb2.WatchRequest(site_id="site-north"), "coordinator")
        try:
            await subscriber.snapshot()
            old = [c for c in _north_cells() if isinstance(c, CompositeCell)]
            new = [dataclasses.replace(c, mean=round(c.mean + 0.01, 6)) for c in old]
            dropped = next(c for c in _north_cells() if not isinstance(c, CompositeCell)).key
            await publish_records(
                query.topics,
                [release_of(NORTH, _with(_north_cells(), *new, without=(dropped,)), number=2)],
            )
            scorecards: list[set[int]] = []

            async def scorecard_revisions() -> set[int]:
                reply = await query.stub.GetSiteScorecard(
                    query_pb2.GetSiteScorecardRequest(site_id="site-north", wave=1),
                    metadata=query.as_("coordinator"),
                )
                revisions = {
                    m.revision
                    for entry in reply.composites
                    for m in [entry.total, *entry.breakdowns]
                }
                scorecards.append(revisions)
                return revisions

            # Reads racing the follower, with no pause between them: each is one release or the other.
            await eventually(
                scorecard_revisions,
                10,
                what="a scorecard of release 2",
                until=lambda revisions: revisions == {2},
                interval=0,
            )
            assert all(len(revisions) == 1 for revisions in scorecards)
            received = await subscriber.changes_until(lambda m: bool(m.releases))
        finally:
            await subscriber.close()
        assert len(received) > 1  # chunked, all of one version
        assert {m.view_version for m in received} == {received[0].view_version}
        assert sorted(
            (cell_from_proto(m) for m in received for m in m.cells), key=lambda c: c.key
        ) == sorted(new, key=lambda c: c.key)
        assert [k for m in received for k in m.withdrawn_keys] == [dropped]
        assert [(s.scope, s.number) for s in received[-1].releases] == [(NORTH, 2)]


async def test_progress_alone_reaches_a_dashboard(query):
    subscriber = Subscriber(
        query, query_pb2.WatchRequest(kinds=[query_pb2.CELL_KIND_COMPOSITE]), "site-north"
    )
    try:
        _, complete = await subscriber.snapshot()
        before = next(s for s in complete.releases if s.scope == NORTH)
        await publish_records(
            query.topics, [ReleaseProgress(NORTH, 1, {"baseline": 3, "interventions": 2})]
        )
        change = await subscriber.next_change()
        assert (
            not change.cells
            and not change.withdrawn_keys
            and change.view_version > complete.view_version
        )
        (status,) = change.releases
        assert dict(status.held_back) == {"baseline": 3, "interventions": 2}
        status.ClearField("held_back")
        before.ClearField("held_back")
        assert status == before  # nothing else about the release changed
    finally:
        await subscriber.close()
    reply = await query.stub.ListReleases(
        query_pb2.ListReleasesRequest(), metadata=query.as_("site-north")
    )
    assert dict(next(s for s in reply.releases if s.scope == NORTH).held_back) == {
        "baseline": 3,
        "interventions": 2,
    }


async def test_a_site_watch_sees_its_own_changes_and_never_a_peer(query):
    subscriber = Subscriber(query, query_pb2.WatchRequest(), "site-south")
    try:
        cells, complete = await subscriber.snapshot()
        assert {getattr(cell_from_proto(m), "site_id", None) for m in cells} == {"site-south", None}
        assert [s.scope for s in complete.releases] == [*CROSS_SITE, SOUTH]
        peer = dataclasses.replace(_north_total(), wave=Wave.MIDPOINT)
        own = reference().by_key()["composite/site-south/baseline/belonging/all/all"]
        own_update = dataclasses.replace(own, mean=own.mean + 0.01)
        cross = reference_release("cross-site/baseline")
        distribution = next(c for c in cross.cells if isinstance(c, DistributionCell))
        distribution_update = dataclasses.replace(distribution, p50=distribution.p50 + 1)
        await publish_records(
            query.topics,
            [
                release_of(
                    NORTH, _with(_north_cells(), peer, without=(_north_total().key,)), number=5
                ),
                ReleaseProgress(NORTH, 5, {"baseline": 4}),
                release_of(
                    SOUTH, _with(list(reference_release(SOUTH).cells), own_update), number=5
                ),
                release_of(cross.scope, _with(list(cross.cells), distribution_update), number=5),
            ],
        )
        await view_reaches(
            query,
            lambda s: (
                s.statuses[NORTH].number == 5
                and dict(s.statuses[NORTH].held_back)
                and s.statuses[SOUTH].number == 5
                and s.statuses[cross.scope].number == 5
            ),
        )
        # A sentinel after everything the peer published: its progress is the last message to read.
        await publish_records(query.topics, [ReleaseProgress(SOUTH, 5, {"baseline": 1})])
        received = await subscriber.changes_until(
            lambda m: any(
                s.scope == SOUTH and dict(s.held_back) == {"baseline": 1} for s in m.releases
            )
        )
    finally:
        await subscriber.close()
    assert sorted(
        (cell_from_proto(c) for m in received for c in m.cells), key=lambda c: c.key
    ) == sorted([own_update, distribution_update], key=lambda c: c.key)
    assert not [k for m in received for k in m.withdrawn_keys]
    assert {s.scope for m in received for s in m.releases} == {SOUTH, cross.scope}
    assert not any("site-north" in m.SerializeToString().decode("latin-1") for m in received)


async def test_the_view_refuses_a_cell_below_k_even_if_the_topic_has_it(query):
    """Defence in depth: a small cell published by mistake is never served (the release's other
    cells are), and a record that is not a readable release of its key withdraws the scope."""
    hidden = next(
        c
        for c in unsuppressed().of_type(CompositeCell)
        if c.n < 10 and c.site_id == "site-north" and c.dimension != "all"
    )
    shrunk = dataclasses.replace(_north_total(), n=9)
    cells_before = {
        reason: _sample("jedi_query_refused_cells_total", {"reason": reason})
        for reason in ("below_min_cell_size", "key_mismatch", "outside_scope")
    }
    records_before = _sample("jedi_query_refused_records_total", {"reason": "unreadable"})
    subscriber = Subscriber(query, query_pb2.WatchRequest(site_id="site-north"), "coordinator")
    try:
        await subscriber.snapshot()
        await publish_records(
            query.topics, [release_of(NORTH, _with(_north_cells(), hidden, shrunk), number=2)]
        )
        change = await subscriber.next_change()
        assert list(change.withdrawn_keys) == [shrunk.key] and not change.cells
        assert [(s.scope, s.number) for s in change.releases] == [(NORTH, 2)]
        # A cell whose key is not its own, and a peer's cell inside this site's release.
        inclusion = reference().by_key()["composite/site-north/baseline/inclusion/all/all"]
        message = release_to_proto(release_of(NORTH, _with(_north_cells(), shrunk), number=3))
        message.release.cells.append(
            cell_to_proto(
                reference().by_key()["composite/site-south/baseline/inclusion/all/all"],
                as_of=DATASET_NOW,
                revision=3,
            )
        )
        (mislabelled,) = [m for m in message.release.cells if m.key == inclusion.key]
        mislabelled.key = "composite/site-north/follow_up/inclusion/all/all"
        await publish_raw(query.topics, NORTH, message.SerializeToString())
        change = await subscriber.next_change()
        assert list(change.withdrawn_keys) == [inclusion.key] and not change.cells
        reply = await query.stub.GetSiteScorecard(
            query_pb2.GetSiteScorecardRequest(site_id="site-north", wave=1),
            metadata=query.as_("coordinator"),
        )
        keys = {m.key for entry in reply.composites for m in [entry.total, *entry.breakdowns]}
        assert keys and not keys & {hidden.key, shrunk.key, inclusion.key}
        # An unreadable record under the site's key: the site's release is no longer shown.
        shown = sorted(query.server.view.current.scopes[NORTH].keys)
        assert len(shown) == len(message.release.cells) - 3  # all but the three refused
        await publish_raw(query.topics, NORTH, b"\xff not a protobuf")
        received = await subscriber.changes_until(
            lambda m: bool(m.releases)
        )  # chunked: 500 keys a message
        assert not [c for m in received for c in m.cells]
        assert [k for m in received for k in m.withdrawn_keys] == shown
        assert [(s.scope, s.number) for s in received[-1].releases] == [(NORTH, 0)]
    finally:
        await subscriber.close()
    assert (
        hidden.key not in query.server.view.current.cells
        and NORTH not in query.server.view.current.statuses
    )
    assert (
        _sample("jedi_query_refused_cells_total", {"reason": "below_min_cell_size"})
        == cells_before["below_min_cell_size"] + 3
    )  # hidden and shrunk, then shrunk again
    assert (
        _sample("jedi_query_refused_cells_total", {"reason": "key_mismatch"})
        == cells_before["key_mismatch"] + 1
    )
    assert (
        _sample("jedi_query_refused_cells_total", {"reason": "outside_scope"})
        == cells_before["outside_scope"] + 1
    )
    assert (
        _sample("jedi_query_refused_records_total", {"reason": "unreadable"}) == records_before + 1
    )


async def test_an_older_release_arriving_late_is_ignored(query):
    total = _north_total()
    newer = dataclasses.replace(total, n=total.n + 5)
    await publish_records(query.topics, [release_of(NORTH, _with(_north_cells(), newer), number=3)])
    await view_reaches(query, lambda s: s.statuses[NORTH].number == 3)
    subscriber = Subscriber(query, query_pb2.WatchRequest(site_id="site-north"), "coordinator")
    stale_before = _sample("jedi_query_stale_releases_total")
    try:
        await subscriber.snapshot()
        late = dataclasses.replace(total, n=total.n + 1)
        marker = dataclasses.replace(total, composite=Composite.INCLUSION, wave=Wave.MIDPOINT)
        await publish_records(
            query.topics,
            [
                release_of(NORTH, _with(_north_cells(), late), number=2),
                release_of(
                    NORTH, _with(_north_cells(), newer, marker), number=4
                ),  # same key: read after it
            ],
        )
        received = await subscriber.changes_until(lambda m: any(s.number == 4 for s in m.releases))
    finally:
        await subscriber.close()
    assert [cell_from_proto(c) for m in received for c in m.cells] == [marker]
    assert all(s.number == 4 for m in received for s in m.releases)
    assert query.server.view.current.cells[total.key].cell == newer
    assert _sample("jedi_query_stale_releases_total") == stale_before + 1


async def test_watch_streams_end_with_unavailable_when_the_server_stops(tmp_path):
    async with running_query(tmp_path) as query:
        subscriber = Subscriber(
            query, query_pb2.WatchRequest(kinds=[query_pb2.CELL_KIND_RANK]), "coordinator"
        )
        await subscriber.snapshot()
        await query.server.stop(grace=2.0)
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await subscriber.task
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_answer_is_reused_only_for_the_same_caller_request_and_version(query):
    """A repeated call is answered again from the view version it was computed on: never for
    another caller (a site asking what the coordinator was just shown is still refused), and
    never once a newer release is in the view."""
    request = query_pb2.GetSiteScorecardRequest(site_id="site-north", wave=1)

    async def scorecard(who: str = "coordinator") -> query_pb2.GetSiteScorecardResponse:
        return await query.stub.GetSiteScorecard(request, metadata=query.as_(who))

    reused = _sample("jedi_query_replies_reused_total")
    first = await scorecard()
    assert await scorecard() == first
    assert _sample("jedi_query_replies_reused_total") == reused + 1
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await scorecard("site-south")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    changed = [
        dataclasses.replace(c, mean=round(c.mean + 0.01, 6))
        for c in _north_cells()
        if isinstance(c, CompositeCell)
    ]
    await publish_records(
        query.topics, [release_of(NORTH, _with(_north_cells(), *changed), number=2)]
    )
    await view_reaches(query, lambda snapshot: snapshot.scopes[NORTH].number == 2)
    after = await scorecard()
    means = {
        cell_from_proto(m).key: cell_from_proto(m).mean
        for entry in after.composites
        for m in [entry.total, *entry.breakdowns]
    }
    assert means == {c.key: c.mean for c in changed if c.wave == Wave.BASELINE}
    assert after != first
