from __future__ import annotations

import asyncio

from jedi.v1 import registry_pb2
from services.query.apply import apply_updates
from services.query.records import SiteUpdate, Withdrawal
from services.query.snapshot import Changes, Snapshot
from services.query.view import View
from shared.domain.model import Composite, Wave
from tests.unit.query.cells import (
    composite,
    decode,
    distribution,
    progress,
    rank,
    reach,
    release,
    tombstone,
)

SITE_A, CROSS = "site/site-a", "cross-site/baseline"


def test_applying_makes_a_new_snapshot_and_leaves_the_old_one_alone():
    first = apply_updates(Snapshot(), [release(composite()), release(distribution())], [])
    assert first.snapshot.version == 1 and first.changes.keys == {
        composite().key,
        distribution().key,
    }
    assert first.changes.scopes == {SITE_A, CROSS}
    second = apply_updates(
        first.snapshot, [release(composite(n=50), number=2), release(scope=CROSS, number=2)], []
    )
    assert second.snapshot.version == 2 and second.changes.keys == {
        composite().key,
        distribution().key,
    }
    assert (
        first.snapshot.cells[composite().key].cell.n == 40
        and distribution().key in first.snapshot.cells
    )
    assert (
        second.snapshot.cells[composite().key].cell.n == 50
        and distribution().key not in second.snapshot.cells
    )
    assert (
        first.snapshot.statuses[CROSS].number == 1 and second.snapshot.statuses[CROSS].number == 2
    )


def test_a_release_replaces_its_scope_whole_and_leaves_other_scopes_alone():
    inclusion = composite(composite=Composite.INCLUSION)
    start = apply_updates(
        Snapshot(),
        [release(composite(), inclusion, reach(n=20)), release(composite(site_id="site-b"))],
        [],
    ).snapshot
    midpoint = composite(wave=Wave.MIDPOINT)
    after = apply_updates(start, [release(composite(n=41), reach(n=20), midpoint, number=2)], [])
    cells = after.snapshot.cells
    assert after.snapshot.version == start.version + 1
    assert (
        cells[composite().key].cell.n == 41 and midpoint.key in cells and inclusion.key not in cells
    )
    assert cells[composite(site_id="site-b").key] is start.cells[composite(site_id="site-b").key]
    # The reach cell's value did not change: not a change to send, but it is the new release's now.
    assert after.changes.keys == {composite().key, inclusion.key, midpoint.key}
    assert cells[reach(n=20).key].revision == 2 and after.changes.scopes == {SITE_A}


def test_several_releases_of_a_scope_in_one_batch_make_one_version_of_the_last():
    start = apply_updates(Snapshot(), [release(composite())], []).snapshot
    batch = [release(composite(n=41), reach(n=20), number=2), release(composite(n=42), number=3)]
    after = apply_updates(start, batch, [])
    assert after.snapshot.version == 2 and after.snapshot.statuses[SITE_A].number == 3
    assert {k: s.cell for k, s in after.snapshot.cells.items()} == {
        composite().key: composite(n=42)
    }
    assert after.changes.keys == {composite().key}  # the reach cell came and went inside the batch


def test_an_older_release_arriving_late_is_ignored():
    snapshot = apply_updates(Snapshot(), [release(composite(), number=5)], []).snapshot
    late = apply_updates(snapshot, [release(composite(n=99), number=4)], [])
    assert late.snapshot is snapshot and not late.changes.keys and late.stale == ((SITE_A, 4, 5),)
    again = apply_updates(snapshot, [release(composite(n=99), number=5)], [])
    assert again.snapshot.cells[composite().key].cell.n == 99 and again.changes.keys == {
        composite().key
    }


def test_progress_changes_only_the_held_back_counts():
    snapshot = apply_updates(
        Snapshot(), [release(composite(), number=2, held_back={"baseline": 1})], []
    ).snapshot
    counted = apply_updates(snapshot, [progress(SITE_A, 2, baseline=4)], [])
    status = counted.snapshot.statuses[SITE_A]
    assert (
        dict(status.held_back) == {"baseline": 4}
        and status.number == 2
        and status.covered == {"baseline": 40}
    )
    assert counted.changes.scopes == {SITE_A} and not counted.changes.keys
    assert counted.snapshot.cells == snapshot.cells and dict(
        snapshot.statuses[SITE_A].held_back
    ) == {"baseline": 1}
    older = apply_updates(counted.snapshot, [progress(SITE_A, 1, baseline=7)], [])
    assert older.snapshot is counted.snapshot
    # A progress about a release not read yet waits for it; the counts shown stay those of release 2.
    ahead = apply_updates(counted.snapshot, [progress(SITE_A, 3, baseline=2)], [])
    assert (
        dict(ahead.snapshot.statuses[SITE_A].held_back) == {"baseline": 4}
        and not ahead.changes.scopes
    )
    arrived = apply_updates(
        ahead.snapshot, [release(composite(n=50), number=3, held_back={"baseline": 0})], []
    )
    assert arrived.snapshot.statuses[SITE_A].number == 3
    assert dict(arrived.snapshot.statuses[SITE_A].held_back) == {"baseline": 2}
    # Before any release: a status with number 0 and the counts.
    fresh = apply_updates(Snapshot(), [progress("site/site-c", 0, baseline=3)], []).snapshot
    (only,) = fresh.statuses.values()
    assert only.scope == "site/site-c" and only.site_id == "site-c" and only.number == 0
    assert dict(only.held_back) == {"baseline": 3} and not only.HasField("cut_at")


def test_tombstones_and_refused_records_withdraw_what_their_key_held():
    snapshot = apply_updates(
        Snapshot(),
        [
            release(composite(), held_back={"baseline": 1}),
            progress(SITE_A, 1, baseline=5),
            release(distribution()),
        ],
        [],
    ).snapshot
    no_progress = apply_updates(snapshot, [tombstone("progress/" + SITE_A)], [])
    assert dict(no_progress.snapshot.statuses[SITE_A].held_back) == {"baseline": 1}
    gone = apply_updates(snapshot, [tombstone(SITE_A)], [])
    assert composite().key not in gone.snapshot.cells and SITE_A not in gone.snapshot.statuses
    assert gone.changes == Changes(frozenset({composite().key}), frozenset({SITE_A}))
    refused = apply_updates(snapshot, [decode(CROSS.encode(), b"\xff\xff")], [])
    assert (
        distribution().key not in refused.snapshot.cells and CROSS not in refused.snapshot.statuses
    )
    nothing = apply_updates(
        snapshot, [Withdrawal("composite/x", "unknown_key"), tombstone("site/site-z")], []
    )
    assert nothing.snapshot is snapshot


def test_indexes_and_sites():
    cells = [
        release(composite()),
        release(composite(site_id="site-b")),
        release(rank(), distribution()),
    ]
    site = registry_pb2.Site(site_id="site-c", name="C")
    snapshot = apply_updates(Snapshot(), cells, [SiteUpdate("site-c", site)]).snapshot
    assert snapshot.site_ids == ("site-a", "site-b", "site-c")
    assert [s.kind for s in snapshot.of_site("site-a")] == ["composite", "rank"]
    assert [s.key for s in snapshot.of_kind("distribution")] == [distribution().key]
    assert list(snapshot.statuses) == [CROSS, SITE_A, "site/site-b"]
    assert (
        snapshot.site_message("site-c").name == "C"
        and snapshot.site_message("site-a").site_id == "site-a"
    )
    removed = apply_updates(snapshot, [], [SiteUpdate("site-c", None)])
    assert not removed.changes.keys and removed.snapshot.version == snapshot.version + 1
    assert not removed.snapshot.knows_site("site-c")


async def test_the_view_wakes_waiters_and_reports_changes():
    view = View(change_log_versions=2)
    start = view.current
    waiter = asyncio.ensure_future(view.newer_than(0))
    await asyncio.sleep(0)  # one loop turn, no time: the waiter is waiting before the change
    view.apply([release(composite())], [])
    assert (await asyncio.wait_for(waiter, 1)).version == 1
    for n in (41, 42, 43):
        view.apply([release(composite(n=n), number=n)], [])
    view.apply([release(distribution())], [])
    # The log holds the last two versions only: older subscribers are diffed whole.
    changes = view.changes(start, view.current)
    assert changes.keys == {composite().key, distribution().key} and changes.scopes == {
        SITE_A,
        CROSS,
    }
    assert view.changes(view.current, view.current).keys == set()
    logged = view.changes(Snapshot(version=4), view.current)  # within the log
    assert logged.keys == {distribution().key} and logged.scopes == {CROSS}
    assert view.current.version == 5
    view.apply([], [])
    assert view.current.version == 5
