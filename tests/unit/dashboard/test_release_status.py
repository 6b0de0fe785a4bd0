"""Live status from the releases: ListReleases with the user's key, then the Watch stream's
statuses (new releases and progress), and which stream messages rebuild which page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from jedi.v1 import benchmarks_pb2, common_pb2, query_pb2, registry_pb2
from services.dashboard.live import cell_messages, status_messages, watch_request
from services.dashboard.release_status import (
    CROSS_SITE_NAME,
    ReleaseBoard,
    latest_releases,
    rows_of,
)

CUT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def site_status(
    site_id: str, number: int, *, covered=None, held_back=None, cut=CUT, closed=()
) -> benchmarks_pb2.ReleaseStatus:
    status = benchmarks_pb2.ReleaseStatus(
        scope=f"site/{site_id}",
        site_id=site_id,
        number=number,
        covered=covered or {},
        held_back=held_back or {},
        closed_waves=list(closed),
    )
    if cut is not None:
        stamp = Timestamp()
        stamp.FromDatetime(cut)
        status.cut_at.CopyFrom(stamp)
    return status


def cross_status(wave: int, number: int, closed=()) -> benchmarks_pb2.ReleaseStatus:
    name = common_pb2.Wave.Name(wave).removeprefix("WAVE_").lower()
    status = benchmarks_pb2.ReleaseStatus(
        scope=f"cross-site/{name}", wave=wave, number=number, closed_waves=list(closed)
    )
    status.cut_at.FromDatetime(CUT)
    return status


class FakeClient:
    """ListReleases and ListSites as the query service answers one user; counts the calls."""

    def __init__(self, statuses, names) -> None:
        self.statuses = list(statuses)
        self.names = dict(names)
        self.calls: list[str] = []
        self.during_releases = None  # called while ListReleases is "in flight"

    async def releases(self):
        self.calls.append("ListReleases")
        answer = list(self.statuses)
        if self.during_releases:
            self.during_releases()
        await asyncio.sleep(0)  # one loop turn, no time: others run while the call is "in flight"
        return answer

    async def sites(self):
        self.calls.append("ListSites")
        return [
            query_pb2.SiteListing(site=registry_pb2.Site(site_id=s, name=n))
            for s, n in self.names.items()
        ]


def test_rows_per_site_and_wave_then_the_cross_site_releases():
    north = site_status(
        "site-north",
        3,
        covered={"baseline": 40, "follow_up": 12, "interventions": 9},
        held_back={"baseline": 3},
    )
    rows = rows_of(
        [cross_status(common_pb2.WAVE_BASELINE, 2), north], {"site-north": "Northern General"}
    )
    assert [(r.site_name, r.wave, r.release, r.covered, r.held_back) for r in rows] == [
        ("Northern General", "baseline", 3, 40, 3),
        ("Northern General", "follow_up", 3, 12, 0),
        ("Northern General", "interventions", 3, 9, 0),
        (CROSS_SITE_NAME, "baseline", 2, None, None),
    ]
    assert rows[0].cut_at == CUT and rows[0].to_json()["cut_at"] == CUT.isoformat()
    assert rows[-1].site_id is None and rows[-1].to_json()["covered"] is None


def test_the_wave_s_result_is_what_the_release_names_in_closed_waves():
    """A wave's row is its result when the release's closed_waves names the wave (the processor
    names the waves closed at the cut that the release covers); earlier releases are interim.
    Intervention events have no wave: no result, not applicable. A cross-site row reads its own
    release's closed_waves for its wave."""
    north = site_status(
        "site-north",
        4,
        covered={"baseline": 40, "follow_up": 12, "interventions": 9},
        held_back={"follow_up": 2},
        closed=("baseline",),
    )
    rows = rows_of(
        [
            north,
            cross_status(common_pb2.WAVE_BASELINE, 3, closed=("baseline",)),
            cross_status(common_pb2.WAVE_FOLLOW_UP, 1),
        ],
        {"site-north": "Northern General"},
    )
    assert [(r.site_id, r.wave, r.result) for r in rows] == [
        ("site-north", "baseline", True),
        ("site-north", "follow_up", False),
        ("site-north", "interventions", None),
        (None, "baseline", True),
        (None, "follow_up", False),
    ]
    assert [r.to_json()["result"] for r in rows] == [True, False, None, True, False]
    # A release cut before the close names no wave: every wave's row is interim.
    early = site_status("site-north", 2, covered={"baseline": 30, "interventions": 4})
    assert [r.result for r in rows_of([early], {})] == [False, None]


def test_a_scope_without_a_release_shows_number_0_and_what_it_holds_back():
    (row,) = rows_of([site_status("site-new", 0, held_back={"baseline": 4}, cut=None)], {})
    assert (row.site_name, row.release, row.cut_at, row.covered, row.held_back) == (
        "site-new",
        0,
        None,
        0,
        4,
    )


async def test_latest_releases_asks_list_releases():
    client = FakeClient(
        [site_status("site-north", 1, covered={"baseline": 20})], {"site-north": "Northern"}
    )
    (row,) = await latest_releases(client)
    assert "ListReleases" in client.calls and (row.site_name, row.covered) == ("Northern", 20)


async def test_the_board_follows_the_stream_after_list_releases():
    client = FakeClient(
        [site_status("site-north", 1, covered={"baseline": 20})], {"site-north": "Northern"}
    )
    board = ReleaseBoard()
    # Statuses received before the load are older than its answer: dropped.
    board.apply([site_status("site-north", 1, covered={"baseline": 17})])
    (row,) = await board.rows(client)
    assert row.covered == 20 and client.calls.count("ListReleases") == 1
    # Progress: same release, more held back; no further ListReleases.
    assert board.apply(
        [site_status("site-north", 1, covered={"baseline": 20}, held_back={"baseline": 3})]
    )
    (row,) = await board.rows(client)
    assert (row.release, row.covered, row.held_back) == (1, 20, 3)
    # The same status again changes nothing.
    assert not board.apply(
        [site_status("site-north", 1, covered={"baseline": 20}, held_back={"baseline": 3})]
    )
    # A new release covers them.
    board.apply([site_status("site-north", 2, covered={"baseline": 32})])
    (row,) = await board.rows(client)
    assert (row.release, row.covered, row.held_back) == (2, 32, 0)
    assert client.calls.count("ListReleases") == 1


async def test_statuses_received_while_loading_are_applied_on_top_of_the_answer():
    client = FakeClient(
        [site_status("site-north", 1, covered={"baseline": 20})], {"site-north": "Northern"}
    )
    board = ReleaseBoard()
    client.during_releases = lambda: board.apply(
        [site_status("site-north", 2, covered={"baseline": 30})]
    )
    (row,) = await board.rows(client)
    assert (row.release, row.covered) == (2, 30)


async def test_a_new_site_in_the_stream_gets_its_name():
    client = FakeClient([], {})
    board = ReleaseBoard()
    assert await board.rows(client) == []
    client.names["site-west"] = "Western"
    board.apply([site_status("site-west", 1, covered={"baseline": 11})])
    (row,) = await board.rows(client)
    assert row.site_name == "Western"


def test_which_messages_rebuild_which_page():
    change = query_pb2.WATCH_PHASE_CHANGE
    progress = query_pb2.WatchResponse(
        phase=change,
        view_version=7,
        releases=[site_status("site-north", 1, held_back={"baseline": 3})],
    )
    cells = query_pb2.WatchResponse(
        phase=change, view_version=8, cells=[benchmarks_pb2.BenchmarkCell(key="k")]
    )
    withdrawn = query_pb2.WatchResponse(phase=change, view_version=9, withdrawn_keys=["k"])
    snapshot = query_pb2.WatchResponse(
        phase=query_pb2.WATCH_PHASE_SNAPSHOT, cells=[benchmarks_pb2.BenchmarkCell(key="k")]
    )
    complete = query_pb2.WatchResponse(phase=query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE)
    assert [cell_messages(m) for m in (snapshot, complete, progress, cells, withdrawn)] == [
        False,
        True,
        False,
        True,
        True,
    ]
    board = ReleaseBoard()
    status = status_messages(board)
    assert [status(m) for m in (complete, progress, progress, cells)] == [True, True, False, False]


def test_the_status_stream_asks_for_statuses_and_no_cells():
    """As the query service's own Watch filter reads the request: no cell, every visible scope."""
    from services.query.watch import watch_filter
    from shared.auth import Principal, PrincipalRole
    from shared.domain.cells import ResponseCell
    from shared.domain.model import Wave
    from tests.unit.query.cells import composite, stored

    request = watch_request("status", site_id="", wave=common_pb2.WAVE_BASELINE)
    for principal in (
        Principal("coordinator", PrincipalRole.COORDINATOR),
        Principal("site-a", PrincipalRole.SITE, "site-a"),
    ):
        matcher = watch_filter(principal, request)
        assert not matcher.matches(
            stored(ResponseCell("site-a", Wave.BASELINE, "all", "all", 40, 0.5))
        )
        assert not matcher.matches(stored(composite()))
        assert matcher.matches_scope("site/site-a") and matcher.matches_scope("cross-site/baseline")
