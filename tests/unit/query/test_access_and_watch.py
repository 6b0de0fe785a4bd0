from __future__ import annotations

import asyncio

import pytest

from jedi.v1 import query_pb2
from services.query.access import may_see, may_see_scope, one_site, site_filter
from services.query.answers_releases import releases
from services.query.apply import apply_updates
from services.query.ask import Ask
from services.query.errors import QueryError
from services.query.snapshot import Snapshot
from services.query.view import View
from services.query.watch import changes, watch, watch_filter
from shared.auth import Principal, PrincipalRole
from shared.domain.model import Composite, Wave
from tests.unit.query.cells import (
    composite,
    distribution,
    progress,
    rank,
    reach,
    release,
    stored,
    tombstone,
)

COORDINATOR = Principal("coordinator", PrincipalRole.COORDINATOR)
SITE_A = Principal("site-a", PrincipalRole.SITE, "site-a")


def test_a_site_sees_its_own_cells_and_distributions_only():
    own, peer, anonymous = (
        stored(composite()),
        stored(composite(site_id="site-b")),
        stored(distribution()),
    )
    assert may_see(SITE_A, own) and may_see(SITE_A, anonymous) and not may_see(SITE_A, peer)
    assert may_see(COORDINATOR, peer)


def test_a_site_sees_its_own_release_and_the_cross_site_ones_only():
    assert may_see_scope(SITE_A, "site/site-a") and may_see_scope(SITE_A, "cross-site/baseline")
    assert not may_see_scope(SITE_A, "site/site-b") and not may_see_scope(
        SITE_A, "composite/site-a"
    )
    assert may_see_scope(COORDINATOR, "site/site-b")


def test_list_releases_by_scope_as_each_role_may_see_them():
    snapshot = apply_updates(
        Snapshot(),
        [
            release(composite(site_id="site-b"), number=3),
            release(composite(), number=2),
            release(distribution()),
            progress("site/site-c", 0, baseline=4),
        ],
        [],
    ).snapshot

    def scopes(principal: Principal, site_id: str = "") -> list[str]:
        reply = releases(Ask(snapshot, principal), query_pb2.ListReleasesRequest(site_id=site_id))
        return [status.scope for status in reply.releases]

    assert scopes(COORDINATOR) == [
        "cross-site/baseline",
        "site/site-a",
        "site/site-b",
        "site/site-c",
    ]
    assert scopes(COORDINATOR, "site-b") == ["cross-site/baseline", "site/site-b"]
    assert scopes(SITE_A) == scopes(SITE_A, "site-a") == ["cross-site/baseline", "site/site-a"]
    for peer in ("site-b", "site-z"):
        with pytest.raises(QueryError) as refused:
            scopes(SITE_A, peer)
        assert refused.value.code.name == "PERMISSION_DENIED"


def test_site_scope():
    snapshot = apply_updates(Snapshot(), [release(composite(site_id="site-b"))], []).snapshot
    assert (
        one_site(SITE_A, "", snapshot) == "site-a"
        and one_site(COORDINATOR, "site-b", snapshot) == "site-b"
    )
    for principal, asked, code in [
        (SITE_A, "site-b", "PERMISSION_DENIED"),
        (SITE_A, "site-z", "PERMISSION_DENIED"),
        (COORDINATOR, "site-z", "NOT_FOUND"),
        (COORDINATOR, "", "INVALID_ARGUMENT"),
    ]:
        with pytest.raises(QueryError) as refused:
            one_site(principal, asked, snapshot)
        assert refused.value.code.name == code
    assert site_filter(COORDINATOR, "") is None and site_filter(SITE_A, "") == "site-a"


def test_watch_filter_matches_kind_site_wave_and_composite():
    matcher = watch_filter(
        COORDINATOR,
        query_pb2.WatchRequest(
            site_id="site-a",
            kinds=[query_pb2.CELL_KIND_COMPOSITE, query_pb2.CELL_KIND_DISTRIBUTION],
            wave=1,
            composite=1,
        ),
    )
    assert matcher.matches(stored(composite())) and matcher.matches(stored(distribution()))
    assert not matcher.matches(stored(composite(site_id="site-b")))
    assert not matcher.matches(stored(composite(wave=Wave.FOLLOW_UP)))
    assert not matcher.matches(stored(rank()))
    assert not watch_filter(COORDINATOR, query_pb2.WatchRequest(wave=1)).matches(
        stored(reach(n=20))
    )
    assert matcher.matches_scope("site/site-a") and matcher.matches_scope("cross-site/follow_up")
    assert not matcher.matches_scope("site/site-b")


def test_changes_between_snapshots_send_new_values_withdrawals_and_statuses_of_what_matches():
    view = View()
    view.apply(
        [release(composite()), release(composite(site_id="site-b")), release(distribution())], []
    )
    old = view.current
    view.apply(
        [
            release(composite(n=41), number=2),
            release(scope="site/site-b", number=2),
            tombstone("cross-site/baseline"),
        ],
        [],
    )
    change = changes(view, old, view.current, watch_filter(SITE_A, query_pb2.WatchRequest()))
    assert [m.key for m in change.cells] == [composite().key] and change.withdrawn == [
        distribution().key
    ]
    # The withdrawn cross-site scope is sent as its status with number 0; the peer's not at all.
    assert [(s.scope, s.number) for s in change.releases] == [
        ("cross-site/baseline", 0),
        ("site/site-a", 2),
    ]
    change = changes(view, old, view.current, watch_filter(COORDINATOR, query_pb2.WatchRequest()))
    assert change.withdrawn == sorted([composite(site_id="site-b").key, distribution().key])
    assert [s.scope for s in change.releases] == [
        "cross-site/baseline",
        "site/site-a",
        "site/site-b",
    ]


def test_a_progress_alone_is_a_change_of_status_only():
    view = View()
    view.apply([release(composite()), release(composite(site_id="site-b"))], [])
    old = view.current
    view.apply([progress("site/site-a", 1, baseline=3), progress("site/site-b", 1, baseline=5)], [])
    change = changes(view, old, view.current, watch_filter(SITE_A, query_pb2.WatchRequest()))
    assert not change.cells and not change.withdrawn
    assert [(s.scope, dict(s.held_back)) for s in change.releases] == [
        ("site/site-a", {"baseline": 3})
    ]


async def test_the_stream_sends_statuses_on_completion_and_with_the_last_message_of_a_change():
    view = View()
    view.apply([release(composite(), composite(site_id="site-b")), release(distribution())], [])
    view.apply([release(composite(site_id="site-b"), scope="site/site-b")], [])
    closing = asyncio.Event()
    stream = watch(view, watch_filter(SITE_A, query_pb2.WatchRequest()), chunk=1, closing=closing)
    first = await anext(stream)
    assert first.phase == query_pb2.WATCH_PHASE_SNAPSHOT and not first.releases
    complete = await anext(stream)
    while complete.phase != query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
        complete = await anext(stream)
    assert [s.scope for s in complete.releases] == ["cross-site/baseline", "site/site-a"]
    view.apply([release(composite(n=41), composite(composite=Composite.INCLUSION), number=2)], [])
    messages = [await anext(stream), await anext(stream)]
    assert [len(m.cells) for m in messages] == [1, 1] and {m.view_version for m in messages} == {3}
    assert not messages[0].releases and [s.number for s in messages[1].releases] == [2]
    view.apply([progress("site/site-b", 1, baseline=9)], [])  # a peer's: nothing to send
    view.apply([progress("site/site-a", 2, baseline=2)], [])
    alone = await anext(stream)
    assert alone.view_version == 5 and not alone.cells and not alone.withdrawn_keys
    assert [(s.scope, dict(s.held_back)) for s in alone.releases] == [
        ("site/site-a", {"baseline": 2})
    ]
    closing.set()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
