from __future__ import annotations

import pytest
from jedi.v1 import query_pb2

from shared.auth import Principal, PrincipalRole
from shared.domain.model import Wave

from services.query.access import may_see, one_site, site_filter
from services.query.errors import QueryError
from services.query.snapshot import Snapshot, apply_updates
from services.query.view import View
from services.query.watch import changes, watch_filter

from tests.unit.query.cells import composite, distribution, rank, reach, tombstone, update

COORDINATOR = Principal("coordinator", PrincipalRole.COORDINATOR)
SITE_A = Principal("site-a", PrincipalRole.SITE, "site-a")


def test_a_site_sees_its_own_cells_and_distributions_only():
    own, peer, anonymous = update(composite()).stored, update(composite(site_id="site-b")).stored, \
        update(distribution()).stored
    assert may_see(SITE_A, own) and may_see(SITE_A, anonymous) and not may_see(SITE_A, peer)
    assert may_see(COORDINATOR, peer)


def test_site_scope():
    snapshot, _ = apply_updates(Snapshot(), [update(composite(site_id="site-b"))], [])
    assert one_site(SITE_A, "", snapshot) == "site-a" and one_site(COORDINATOR, "site-b", snapshot) == "site-b"
    for principal, asked, code in [(SITE_A, "site-b", "PERMISSION_DENIED"), (SITE_A, "site-z", "PERMISSION_DENIED"),
                                   (COORDINATOR, "site-z", "NOT_FOUND"), (COORDINATOR, "", "INVALID_ARGUMENT")]:
        with pytest.raises(QueryError) as refused:
            one_site(principal, asked, snapshot)
        assert refused.value.code.name == code
    assert site_filter(COORDINATOR, "") is None and site_filter(SITE_A, "") == "site-a"


def test_watch_filter_matches_kind_site_wave_and_composite():
    matcher = watch_filter(COORDINATOR, query_pb2.WatchRequest(
        site_id="site-a", kinds=[query_pb2.CELL_KIND_COMPOSITE, query_pb2.CELL_KIND_DISTRIBUTION],
        wave=1, composite=1))
    assert matcher.matches(update(composite()).stored) and matcher.matches(update(distribution()).stored)
    assert not matcher.matches(update(composite(site_id="site-b")).stored)
    assert not matcher.matches(update(composite(wave=Wave.FOLLOW_UP)).stored)
    assert not matcher.matches(update(rank()).stored)
    assert not watch_filter(COORDINATOR, query_pb2.WatchRequest(wave=1)).matches(update(reach(n=20)).stored)


def test_changes_between_snapshots_send_new_values_and_withdrawals_of_what_matches():
    view = View()
    view.apply([update(composite()), update(composite(site_id="site-b")), update(distribution())], [])
    old = view.current
    view.apply([update(composite(n=41), revision=2), tombstone(composite(site_id="site-b").key),
                tombstone(distribution().key)], [])
    cells, withdrawn = changes(view, old, view.current, watch_filter(SITE_A, query_pb2.WatchRequest()))
    assert [m.key for m in cells] == [composite().key] and withdrawn == [distribution().key]
    cells, withdrawn = changes(view, old, view.current, watch_filter(COORDINATOR, query_pb2.WatchRequest()))
    assert withdrawn == sorted([composite(site_id="site-b").key, distribution().key])
