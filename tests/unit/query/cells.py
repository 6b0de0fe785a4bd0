"""Small cells, releases and records for the query unit tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.query.records import (
    BenchmarkUpdate,
    ReleaseUpdate,
    StoredCell,
    decode_benchmark_record,
)
from shared.convert_releases import progress_to_proto, record_key, release_to_proto
from shared.domain.benchmark_set import Cell, DistributionCell, Measure, RankCell, ReachCell
from shared.domain.cells import CompositeCell
from shared.domain.model import Composite, Wave
from shared.domain.releases import Release, ReleaseProgress, cross_site_scope, site_scope

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def composite(site_id: str = "site-a", n: int = 40, **changes: Any) -> CompositeCell:
    cell = CompositeCell(
        site_id, Wave.BASELINE, Composite.BELONGING, "all", "all", n, 3.5, 3.3, 3.7, 55.0, 0.4
    )
    return dataclasses.replace(cell, **changes)


def distribution(sites: int = 12, **changes: Any) -> DistributionCell:
    cell = DistributionCell(
        Wave.BASELINE, Composite.BELONGING, Measure.PERCENT_POSITIVE, sites, 1, 2, 3, 4, 5
    )
    return dataclasses.replace(cell, **changes)


def rank(site_id: str = "site-a", sites: int = 12) -> RankCell:
    return RankCell(
        site_id, Wave.BASELINE, Composite.BELONGING, Measure.PERCENT_POSITIVE, 55.0, 0.5, sites
    )


def reach(site_id: str = "site-a", n: int = 3, describes_people: bool = True) -> ReachCell:
    return ReachCell(site_id, "training_completion_rate", ("all",), 0.5, n, describes_people)


def scope_of(cell: Cell) -> str:
    """The scope a cell is published in: its wave's cross-site scope, or its site's."""
    if isinstance(cell, (DistributionCell, RankCell)):
        return cross_site_scope(cell.wave)
    return site_scope(cell.site_id)


def release_of(
    *cells: Cell,
    scope: str | None = None,
    number: int = 1,
    held_back: Mapping[str, int] | None = None,
) -> Release:
    chosen = scope or scope_of(cells[0])
    return Release(
        chosen,
        number,
        AS_OF,
        AS_OF,
        tuple(sorted(cells, key=lambda c: c.key)),
        {"baseline": 40},
        dict(held_back or {}),
    )


def decode(
    key: bytes | None, value: bytes | None, *, k: int = 10, min_sites: int = 10
) -> BenchmarkUpdate | None:
    return decode_benchmark_record(key, value, min_cell_size=k, min_sites=min_sites)


def release(
    *cells: Cell,
    scope: str | None = None,
    number: int = 1,
    held_back: Mapping[str, int] | None = None,
    k: int = 10,
    min_sites: int = 10,
) -> BenchmarkUpdate:
    """The update a release record of these cells makes, as the follower decodes it."""
    item = release_of(*cells, scope=scope, number=number, held_back=held_back)
    return decode(
        record_key(item), release_to_proto(item).SerializeToString(), k=k, min_sites=min_sites
    )


def progress(scope: str, release_number: int, **held_back: int) -> BenchmarkUpdate:
    item = ReleaseProgress(scope, release_number, held_back)
    return decode(record_key(item), progress_to_proto(item).SerializeToString())


def tombstone(key: str) -> BenchmarkUpdate | None:
    return decode(key.encode(), None)


def stored(cell: Cell, number: int = 1) -> StoredCell:
    """The cell as the view stores it from a release of it alone."""
    update = release(cell, number=number)
    assert isinstance(update, ReleaseUpdate)
    (kept,) = update.cells
    return kept
