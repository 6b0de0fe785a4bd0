from __future__ import annotations

import dataclasses

import pytest

from services.query.records import (
    ProgressUpdate,
    ReleaseUpdate,
    Withdrawal,
    below_floor,
    decode_site_record,
)
from services.query.scopes import parse_scope
from shared.convert_benchmarks import cell_to_proto
from shared.convert_releases import progress_to_proto, release_to_proto
from shared.domain.cells import ChangeCell, ChangeDirection, DisparityCell
from shared.domain.model import Composite, Wave
from shared.domain.releases import ReleaseProgress
from tests.unit.query.cells import (
    AS_OF,
    composite,
    decode,
    distribution,
    progress,
    rank,
    reach,
    release,
    release_of,
    tombstone,
)


@pytest.mark.parametrize(
    "cell, reason",
    [
        (composite(n=10), None),
        (composite(n=9), "below_min_cell_size"),
        (reach(n=3, describes_people=False), None),
        (reach(n=9), "below_min_cell_size"),
        (reach(n=10), None),
        (distribution(sites=10), None),
        (distribution(sites=9), "below_min_sites"),
        (rank(sites=9), "below_min_sites"),
    ],
)
def test_floor(cell, reason):
    assert below_floor(cell, 10, 10) == reason


def test_floor_of_derived_cells_checks_both_sides():
    disparity = DisparityCell(
        "s",
        Wave.BASELINE,
        Composite.BELONGING,
        "urim",
        "yes",
        "no",
        12,
        30,
        40.0,
        50.0,
        -10.0,
        -20.0,
        1.0,
        False,
    )
    assert below_floor(disparity, 10, 10) is None
    assert (
        below_floor(dataclasses.replace(disparity, reference_n=9), 10, 10) == "below_min_cell_size"
    )
    change = ChangeCell(
        "s",
        Composite.BELONGING,
        "all",
        "all",
        Wave.BASELINE,
        Wave.FOLLOW_UP,
        9,
        40,
        40.0,
        50.0,
        10.0,
        -1.0,
        20.0,
        ChangeDirection.NO_CLEAR_CHANGE,
    )
    assert below_floor(change, 10, 10) == "below_min_cell_size"


def test_a_release_is_decoded_with_its_status_and_its_cells_by_key():
    cells = [reach(n=20), composite(), composite(composite=Composite.INCLUSION)]
    result = release(*cells, number=7, held_back={"baseline": 3})
    assert isinstance(result, ReleaseUpdate) and not result.refused
    assert (
        result.scope.name == "site/site-a"
        and result.scope.site_id == "site-a"
        and result.number == 7
    )
    assert (
        result.status.number == 7
        and result.status.site_id == "site-a"
        and dict(result.status.held_back) == {"baseline": 3}
    )
    assert [s.cell for s in result.cells] == sorted(cells, key=lambda c: c.key)
    assert all(
        s.revision == 7 and s.key == s.cell.key and s.site_id == "site-a" for s in result.cells
    )
    assert [s.kind for s in result.cells] == ["composite", "composite", "reach"]
    cross = release(distribution(), rank(), rank(site_id="site-b"), number=2)
    assert (
        isinstance(cross, ReleaseUpdate)
        and cross.scope.wave == Wave.BASELINE
        and cross.scope.site_id is None
    )
    assert [s.kind for s in cross.cells] == ["distribution", "rank", "rank"]


def test_a_release_leaves_out_cells_below_the_floor_with_a_wrong_key_or_outside_its_scope():
    item = release_of(
        composite(),
        composite(n=3, composite=Composite.INCLUSION),
        reach(n=9),
        composite(site_id="site-b"),
        rank(),
        scope="site/site-a",
    )
    message = release_to_proto(item)
    mislabelled = message.release.cells.add()
    mislabelled.CopyFrom(cell_to_proto(composite(wave=Wave.MIDPOINT), as_of=AS_OF, revision=1))
    mislabelled.key = "composite/site-a/follow_up/belonging/all/all"
    result = decode(b"site/site-a", message.SerializeToString())
    assert isinstance(result, ReleaseUpdate)
    assert [s.cell for s in result.cells] == [composite()]
    assert sorted(result.refused) == sorted(
        [
            (composite(n=3, composite=Composite.INCLUSION).key, "below_min_cell_size"),
            (reach(n=9).key, "below_min_cell_size"),
            (composite(site_id="site-b").key, "outside_scope"),
            (rank().key, "outside_scope"),
            ("composite/site-a/follow_up/belonging/all/all", "key_mismatch"),
        ]
    )
    cross = release(
        distribution(), distribution(wave=Wave.FOLLOW_UP), composite(), scope="cross-site/baseline"
    )
    assert [s.cell for s in cross.cells] == [distribution()]
    assert {reason for _, reason in cross.refused} == {"outside_scope"}


def test_records_refused_whole_withdraw_their_key():
    garbage = decode(b"site/site-a", b"\xff\xff")
    assert garbage == Withdrawal("site/site-a", "unreadable")
    elsewhere = release_to_proto(release_of(composite(site_id="site-b"))).SerializeToString()
    assert decode(b"site/site-a", elsewhere) == Withdrawal("site/site-a", "key_mismatch")
    a_progress = progress_to_proto(ReleaseProgress("site/site-a", 1, {})).SerializeToString()
    assert decode(b"site/site-a", a_progress) == Withdrawal("site/site-a", "key_mismatch")
    assert decode(b"progress/site/site-b", a_progress) == Withdrawal(
        "progress/site/site-b", "key_mismatch"
    )
    # A record of the old format (one cell under its own key) is not a scope's.
    old = cell_to_proto(composite(), as_of=AS_OF).SerializeToString()
    assert decode(composite().key.encode(), old) == Withdrawal(composite().key, "unknown_key")
    assert decode(b"site/site-a", b"") == Withdrawal("site/site-a", "unreadable")  # an empty record
    assert (
        tombstone("site/site-a") == Withdrawal("site/site-a") and tombstone(composite().key) is None
    )
    assert decode(None, elsewhere) is None and decode(b"\xff", elsewhere) is None


def test_progress_records():
    assert progress("site/site-a", 3, baseline=4) == ProgressUpdate(
        parse_scope("site/site-a"), 3, {"baseline": 4}
    )
    assert progress("cross-site/midpoint", 0).scope.wave == Wave.MIDPOINT
    assert tombstone("progress/site/site-a") == Withdrawal("progress/site/site-a")


def test_scopes_round_trip_escaped_site_ids_and_refuse_anything_else():
    assert parse_scope("site/a%2Fb%25c").site_id == "a/b%c"
    for name in (
        "site/",
        "site/a/b",
        "cross-site/nope",
        "composite/site-a",
        "progress/site/site-a",
        "",
    ):
        assert parse_scope(name) is None, name


def test_site_records():
    assert decode_site_record(b"site-a", None).site is None
    assert decode_site_record(b"site-a", b"\xff\xff") is None
