from __future__ import annotations

import asyncio
import dataclasses

from jedi.v1 import registry_pb2

from services.query.records import SiteUpdate
from services.query.snapshot import Snapshot, apply_updates
from services.query.view import View

from tests.unit.query.cells import composite, distribution, rank, tombstone, update


def test_applying_makes_a_new_snapshot_and_leaves_the_old_one_alone():
    first, changed = apply_updates(Snapshot(), [update(composite()), update(distribution())], [])
    assert first.version == 1 and changed == {composite().key, distribution().key}
    second, changed = apply_updates(first, [update(composite(n=50), revision=2), tombstone(distribution().key)], [])
    assert second.version == 2 and changed == {composite().key, distribution().key}
    assert first.cells[composite().key].cell.n == 40 and distribution().key in first.cells
    assert second.cells[composite().key].cell.n == 50 and distribution().key not in second.cells


def test_a_lower_revision_is_ignored_and_an_unknown_tombstone_changes_nothing():
    snapshot, _ = apply_updates(Snapshot(), [update(composite(), revision=5)], [])
    same, changed = apply_updates(snapshot, [update(composite(n=99), revision=4), tombstone("composite/none")], [])
    assert same is snapshot and not changed
    newer, changed = apply_updates(snapshot, [update(composite(n=99), revision=5)], [])
    assert newer.cells[composite().key].cell.n == 99 and changed == {composite().key}


def test_indexes_and_sites():
    cells = [update(composite()), update(composite(site_id="site-b")), update(rank()), update(distribution())]
    site = registry_pb2.Site(site_id="site-c", name="C")
    snapshot, _ = apply_updates(Snapshot(), cells, [SiteUpdate("site-c", site)])
    assert snapshot.site_ids == ("site-a", "site-b", "site-c")
    assert [s.kind for s in snapshot.of_site("site-a")] == ["composite", "rank"]
    assert [s.key for s in snapshot.of_kind("distribution")] == [distribution().key]
    assert snapshot.site_message("site-c").name == "C" and snapshot.site_message("site-a").site_id == "site-a"
    removed, changed = apply_updates(snapshot, [], [SiteUpdate("site-c", None)])
    assert not changed and removed.version == snapshot.version + 1 and not removed.knows_site("site-c")


async def test_the_view_wakes_waiters_and_reports_changed_keys():
    view = View(change_log_versions=2)
    start = view.current
    waiter = asyncio.ensure_future(view.newer_than(0))
    await asyncio.sleep(0)
    view.apply([update(composite())], [])
    assert (await asyncio.wait_for(waiter, 1)).version == 1
    for n in (41, 42, 43):
        view.apply([update(dataclasses.replace(composite(), n=n), revision=n)], [])
    view.apply([update(distribution())], [])
    # The log holds the last two versions only: older subscribers are diffed whole.
    assert view.changed_keys(start, view.current) == {composite().key, distribution().key}
    assert view.current.version == 5
    view.apply([], [])
    assert view.current.version == 5
