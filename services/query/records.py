"""Kafka records of the benchmarks and sites topics → updates of the view.

The benchmarks topic holds `jedi.v1.BenchmarkRecord`s: a `Release` keyed by its scope (every
shown cell of the scope, replacing its previous release whole) or a `ReleaseProgress` keyed
"progress/<scope>". Defence in depth: a cell of a release that describes fewer than k people,
a distribution or rank over fewer than `min_sites` sites, a cell whose key is not its own, or
one outside the release's scope is left out of the release. A record that cannot be read, or
whose key does not name its scope, is refused whole and withdraws what the view held under
its key: only the newest release of a scope may be shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeGuard, TypeVar

from google.protobuf.message import DecodeError

from jedi.v1 import benchmarks_pb2, flags_pb2, registry_pb2
from services.query.scopes import Scope, parse_scope
from shared.convert_releases import PROGRESS_PREFIX, progress_from_proto, release_from_proto
from shared.domain.benchmark_set import Cell, DistributionCell, RankCell, ReachCell
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)

# The kind of cell a StoredCell holds (covariant: a StoredCell[CompositeCell] is a StoredCell[Cell]).
CellT = TypeVar("CellT", bound=Cell, covariant=True)
C = TypeVar("C", bound=Cell)


@dataclass(frozen=True, eq=False)
class StoredCell(Generic[CellT]):
    """A published cell as the view keeps it: the domain cell and the message it came in."""

    key: str
    cell: CellT
    message: benchmarks_pb2.BenchmarkCell  # never mutated: copied into replies
    revision: int

    @property
    def kind(self) -> str:
        """The `cell` oneof field name: composite, response, ..., reach."""
        kind: str = self.message.WhichOneof("cell")  # never None: a stored cell has its cell
        return kind

    @property
    def site_id(self) -> str | None:
        """The site the cell describes; None for a cross-site distribution."""
        return getattr(self.cell, "site_id", None)


def holding(stored: Iterable[StoredCell[Cell]], kind: type[C]) -> list[StoredCell[C]]:
    """The stored cells whose cell is a `kind`, typed as such."""
    return [s for s in stored if _holds(s, kind)]


def as_kind(stored: StoredCell[Cell] | None, kind: type[C]) -> StoredCell[C] | None:
    """The stored cell typed as a `kind`; None when there is none, or it holds another kind."""
    return stored if stored is not None and _holds(stored, kind) else None


def _holds(stored: StoredCell[Cell], kind: type[C]) -> TypeGuard[StoredCell[C]]:
    return isinstance(stored.cell, kind)


@dataclass(frozen=True)
class ReleaseUpdate:
    """A release of a scope: its status as published and the cells the view may show."""

    scope: Scope
    number: int
    status: benchmarks_pb2.ReleaseStatus  # never mutated
    cells: tuple[StoredCell[Cell], ...]  # by key, one per key
    refused: tuple[tuple[str, str], ...] = ()  # (cell key, reason) of the cells left out


@dataclass(frozen=True)
class ProgressUpdate:
    """Events received since the scope's release `release_number` (0: none yet)."""

    scope: Scope
    release_number: int
    held_back: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Withdrawal:
    """A tombstone, or a record refused whole: what the view held under `key` goes."""

    key: str  # "<scope>", "progress/<scope>", or an unknown key (then nothing is held under it)
    refused: str | None = None  # why the record was refused, for logs and metrics


BenchmarkUpdate = ReleaseUpdate | ProgressUpdate | Withdrawal


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


def decode_benchmark_record(
    key: bytes | None, value: bytes | None, *, min_cell_size: int, min_sites: int
) -> BenchmarkUpdate | None:
    """The update a benchmarks record makes; None for a record without a usable key."""
    if not key:
        return None
    try:
        text_key = key.decode()
    except UnicodeDecodeError:
        return None
    is_progress = text_key.startswith(PROGRESS_PREFIX)
    scope = parse_scope(text_key.removeprefix(PROGRESS_PREFIX))
    if value is None:
        return Withdrawal(text_key) if scope is not None else None
    if scope is None:
        return Withdrawal(text_key, refused="unknown_key")
    try:
        record = benchmarks_pb2.BenchmarkRecord.FromString(value)
    except DecodeError:
        return Withdrawal(text_key, refused="unreadable")
    kind = record.WhichOneof("record")
    if is_progress and kind == "progress":
        if record.progress.scope != scope.name:
            return Withdrawal(text_key, refused="key_mismatch")
        progress = progress_from_proto(record.progress)
        return ProgressUpdate(scope, progress.release_number, progress.held_back)
    if not is_progress and kind == "release":
        return _release(text_key, scope, record.release, min_cell_size, min_sites)
    return Withdrawal(text_key, refused="unreadable" if kind is None else "key_mismatch")


def _release(
    key: str, scope: Scope, message: benchmarks_pb2.Release, min_cell_size: int, min_sites: int
) -> ReleaseUpdate | Withdrawal:
    if not scope.matches(message.status):
        return Withdrawal(key, refused="key_mismatch")
    try:
        release = release_from_proto(message)
    except (ValueError, KeyError, TypeError, OverflowError):
        return Withdrawal(key, refused="unreadable")
    kept: dict[str, StoredCell[Cell]] = {}
    refused: list[tuple[str, str]] = []
    for cell_message, cell in zip(message.cells, release.cells, strict=True):
        if cell_message.key != cell.key:
            reason: str | None = "key_mismatch"
        elif not scope.holds(cell):
            reason = "outside_scope"
        else:
            reason = below_floor(cell, min_cell_size, min_sites)
        if reason is not None:
            refused.append((cell_message.key, reason))
        else:
            kept[cell.key] = StoredCell(cell.key, cell, cell_message, cell_message.revision)
    cells = tuple(kept[cell_key] for cell_key in sorted(kept))
    return ReleaseUpdate(scope, release.number, message.status, cells, tuple(refused))


@dataclass(frozen=True)
class FlagUpdate:
    """A record of jedi.site-flags.v1: a site and wave flagged, or (None) its flag removed."""

    key: str  # "<site id>/<wave>"
    flag: flags_pb2.SiteFlag | None


def decode_flag_record(key: bytes | None, value: bytes | None) -> FlagUpdate | None:
    if not key:
        return None
    if value is None:
        return FlagUpdate(key.decode(errors="replace"), None)
    try:
        flag = flags_pb2.SiteFlag.FromString(value)
    except DecodeError:
        return None
    return FlagUpdate(key.decode(errors="replace"), flag) if flag.site_id else None


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
