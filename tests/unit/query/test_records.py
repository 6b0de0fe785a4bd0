from __future__ import annotations

import dataclasses

import pytest

from shared.convert_benchmarks import cell_to_proto
from shared.domain.cells import ChangeCell, ChangeDirection, DisparityCell
from shared.domain.model import Composite, Wave

from services.query.records import below_floor, decode_cell_record, decode_site_record

from tests.unit.query.cells import AS_OF, composite, distribution, rank, reach, tombstone, update


@pytest.mark.parametrize("cell, reason", [
    (composite(n=10), None),
    (composite(n=9), "below_min_cell_size"),
    (reach(n=3, describes_people=False), None),
    (reach(n=9), "below_min_cell_size"),
    (reach(n=10), None),
    (distribution(sites=10), None),
    (distribution(sites=9), "below_min_sites"),
    (rank(sites=9), "below_min_sites"),
])
def test_floor(cell, reason):
    assert below_floor(cell, 10, 10) == reason


def test_floor_of_derived_cells_checks_both_sides():
    disparity = DisparityCell("s", Wave.BASELINE, Composite.BELONGING, "urim", "yes", "no", 12, 30,
                              40.0, 50.0, -10.0, -20.0, 1.0, False)
    assert below_floor(disparity, 10, 10) is None
    assert below_floor(dataclasses.replace(disparity, reference_n=9), 10, 10) == "below_min_cell_size"
    change = ChangeCell("s", Composite.BELONGING, "all", "all", Wave.BASELINE, Wave.FOLLOW_UP, 9, 40,
                        40.0, 50.0, 10.0, -1.0, 20.0, ChangeDirection.NO_CLEAR_CHANGE)
    assert below_floor(change, 10, 10) == "below_min_cell_size"


def test_a_readable_cell_is_stored_with_its_revision():
    cell = composite()
    result = update(cell, revision=7)
    assert result.key == cell.key and result.stored.cell == cell and result.stored.revision == 7
    assert result.stored.kind == "composite" and result.stored.site_id == "site-a" and result.refused is None


def test_refused_records_withdraw_their_key():
    assert update(composite(n=3)).stored is None and update(composite(n=3)).refused == "below_min_cell_size"
    assert tombstone("composite/x").stored is None and tombstone("composite/x").refused is None
    garbage = decode_cell_record(b"composite/x", b"\xff\xff", min_cell_size=10, min_sites=10)
    assert garbage.stored is None and garbage.refused == "unreadable"
    value = cell_to_proto(composite(site_id="site-b"), as_of=AS_OF).SerializeToString()
    wrong_key = decode_cell_record(composite().key.encode(), value, min_cell_size=10, min_sites=10)
    assert wrong_key.key == composite().key and wrong_key.refused == "key_mismatch"
    assert decode_cell_record(None, value, min_cell_size=10, min_sites=10) is None


def test_site_records():
    assert decode_site_record(b"site-a", None).site is None
    assert decode_site_record(b"site-a", b"\xff\xff") is None
