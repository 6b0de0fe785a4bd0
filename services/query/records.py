"""Kafka records of the benchmarks and sites topics → updates of the view.

The benchmarks topic holds only publishable cells. Defence in depth: a cell that describes
fewer than k people, or a distribution or rank over fewer than `min_sites` sites, is refused
here, as is a record whose key is not its cell's key. A refused record withdraws whatever
the view held under its key: the newest value of a key is the only one that may be shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from jedi.v1 import benchmarks_pb2, registry_pb2

from shared.convert_benchmarks import cell_from_proto
from shared.domain.benchmark_set import Cell, DistributionCell, RankCell, ReachCell
from shared.domain.cells import ChangeCell, CompositeCell, DisparityCell, ExperienceCell, ResponseCell


@dataclass(frozen=True, eq=False)
class StoredCell:
    """A published cell as the view keeps it: the domain cell and the message it came in."""

    key: str
    cell: Cell
    message: benchmarks_pb2.BenchmarkCell  # never mutated: copied into replies
    revision: int

    @property
    def kind(self) -> str:
        """The `cell` oneof field name: composite, response, ..., reach."""
        return self.message.WhichOneof("cell")

    @property
    def site_id(self) -> str | None:
        """The site the cell describes; None for a cross-site distribution."""
        return getattr(self.cell, "site_id", None)


@dataclass(frozen=True)
class CellUpdate:
    key: str
    stored: StoredCell | None  # None: withdrawn (a tombstone, or a refused record)
    refused: str | None = None  # why the record was refused, for logs and metrics


@dataclass(frozen=True)
class SiteUpdate:
    site_id: str
    site: registry_pb2.Site | None  # None: removed from the registry


def below_floor(cell: Cell, min_cell_size: int, min_sites: int) -> str | None:
    """Why a cell must not be shown whatever the topic says, or None when it may be."""
    k = min_cell_size
    if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)) and cell.n < k:
        return "below_min_cell_size"
    if isinstance(cell, DisparityCell) and min(cell.n, cell.reference_n) < k:
        return "below_min_cell_size"
    if isinstance(cell, ChangeCell) and min(cell.from_n, cell.to_n) < k:
        return "below_min_cell_size"
    if isinstance(cell, ReachCell) and cell.describes_people and cell.n < k:
        return "below_min_cell_size"
    if isinstance(cell, (DistributionCell, RankCell)) and cell.sites < min_sites:
        return "below_min_sites"
    return None


def decode_cell_record(
    key: bytes | None, value: bytes | None, *, min_cell_size: int, min_sites: int
) -> CellUpdate | None:
    """The update a benchmarks record makes; None for a record without a usable key."""
    if not key:
        return None
    try:
        text_key = key.decode()
    except UnicodeDecodeError:
        return None
    if value is None:
        return CellUpdate(text_key, None)
    try:
        message = benchmarks_pb2.BenchmarkCell.FromString(value)
        cell = cell_from_proto(message)
    except (DecodeError, ValueError, KeyError, TypeError):
        return CellUpdate(text_key, None, refused="unreadable")
    if message.key != text_key or cell.key != text_key:
        return CellUpdate(text_key, None, refused="key_mismatch")
    reason = below_floor(cell, min_cell_size, min_sites)
    if reason is not None:
        return CellUpdate(text_key, None, refused=reason)
    return CellUpdate(text_key, StoredCell(text_key, cell, message, message.revision))


def decode_site_record(key: bytes | None, value: bytes | None) -> SiteUpdate | None:
    if value is None:
        return SiteUpdate(key.decode(errors="replace"), None) if key else None
    try:
        site = registry_pb2.Site.FromString(value)
    except DecodeError:
        return None
    if not site.site_id:
        return None
    return SiteUpdate(site.site_id, site)
