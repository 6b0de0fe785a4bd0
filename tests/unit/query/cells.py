"""Small cells and records for the query unit tests."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from shared.convert_benchmarks import cell_to_proto
from shared.domain.benchmark_set import DistributionCell, Measure, RankCell, ReachCell
from shared.domain.cells import CompositeCell
from shared.domain.model import Composite, Wave

from services.query.records import CellUpdate, decode_cell_record

AS_OF = datetime(2026, 11, 20, tzinfo=timezone.utc)


def composite(site_id: str = "site-a", n: int = 40, **changes) -> CompositeCell:
    cell = CompositeCell(site_id, Wave.BASELINE, Composite.BELONGING, "all", "all", n, 3.5, 3.3, 3.7, 55.0, 0.4)
    return dataclasses.replace(cell, **changes)


def distribution(sites: int = 12) -> DistributionCell:
    return DistributionCell(Wave.BASELINE, Composite.BELONGING, Measure.PERCENT_POSITIVE, sites, 1, 2, 3, 4, 5)


def rank(site_id: str = "site-a", sites: int = 12) -> RankCell:
    return RankCell(site_id, Wave.BASELINE, Composite.BELONGING, Measure.PERCENT_POSITIVE, 55.0, 0.5, sites)


def reach(site_id: str = "site-a", n: int = 3, describes_people: bool = True) -> ReachCell:
    return ReachCell(site_id, "training_completion_rate", ("all",), 0.5, n, describes_people)


def update(cell, revision: int = 1, *, k: int = 10, min_sites: int = 10) -> CellUpdate:
    value = cell_to_proto(cell, as_of=AS_OF, revision=revision).SerializeToString()
    return decode_cell_record(cell.key.encode(), value, min_cell_size=k, min_sites=min_sites)


def tombstone(key: str) -> CellUpdate:
    return decode_cell_record(key.encode(), None, min_cell_size=10, min_sites=10)
