"""One immutable version of the view: every cell it serves, the release of each scope and the
sites registry.

A reply is computed from one `Snapshot` only, so it never mixes two versions of a cell, nor two
releases of a scope. Applying a batch of updates makes one new snapshot (copy on write) and
leaves the old one untouched for the readers that still hold it. Indexes are built once per
snapshot, lazily.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from google.protobuf.message import Message

from jedi.v1 import benchmarks_pb2, flags_pb2, registry_pb2
from services.query.records import StoredCell
from services.query.scopes import Scope
from shared.auth import Principal
from shared.domain.benchmark_set import Cell


@dataclass(frozen=True)
class ScopeState:
    """What the view holds of one scope: its latest release and the progress reported after it."""

    scope: Scope
    release: benchmarks_pb2.ReleaseStatus | None = None  # as published; None: no release yet
    keys: frozenset[str] = frozenset()  # the cells of that release the view shows
    held_back: Mapping[str, int] | None = (
        None  # the newest progress about that release (or about none)
    )
    # A progress about a newer release than the one held (releases and progress are on different
    # keys, so possibly on different partitions): (release number, counts), shown once it arrives.
    pending: tuple[int, Mapping[str, int]] | None = None

    @property
    def number(self) -> int:
        return self.release.number if self.release is not None else 0

    @property
    def progress_number(self) -> int:
        """The release the newest progress seen is about; -1 when none was seen."""
        if self.pending is not None:
            return self.pending[0]
        return self.number if self.held_back is not None else -1

    @cached_property
    def status(self) -> benchmarks_pb2.ReleaseStatus | None:
        """The status served: the release's, with the held-back counts of a later progress; the
        scope's empty status (number 0) when there is only a progress from before any release."""
        if self.held_back is None:
            return self.release
        shown = benchmarks_pb2.ReleaseStatus()
        shown.CopyFrom(self.release if self.release is not None else self.scope.empty_status())
        shown.held_back.clear()
        shown.held_back.update(self.held_back)
        return shown


@dataclass(frozen=True)
class Changes:
    """What one version changed: keys whose cell (value) changed or went, scopes whose status did."""

    keys: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.keys | other.keys, self.scopes | other.scopes)


@dataclass(frozen=True, eq=False)
class Snapshot:
    version: int = 0
    cells: Mapping[str, StoredCell[Cell]] = field(default_factory=lambda: MappingProxyType({}))
    sites: Mapping[str, registry_pb2.Site] = field(default_factory=lambda: MappingProxyType({}))
    scopes: Mapping[str, ScopeState] = field(default_factory=lambda: MappingProxyType({}))
    # Sites flagged by ingest for an implausible upload, by "<site id>/<wave>" (never mutated).
    flags: Mapping[str, flags_pb2.SiteFlag] = field(default_factory=lambda: MappingProxyType({}))
    # Answers computed from this snapshot, by (answer, caller, request): a snapshot never changes,
    # so neither does an answer from it. Not copied by `replace`; it goes with the snapshot.
    replies: dict[tuple[object, Principal, bytes], Message] = field(
        init=False, default_factory=dict, repr=False
    )

    @cached_property
    def ordered(self) -> tuple[StoredCell[Cell], ...]:
        """Every cell, by key."""
        return tuple(self.cells[key] for key in sorted(self.cells))

    @cached_property
    def statuses(self) -> Mapping[str, benchmarks_pb2.ReleaseStatus]:
        """The release status of every scope that has one, by scope."""
        shown = ((name, self.scopes[name].status) for name in sorted(self.scopes))
        return MappingProxyType({name: status for name, status in shown if status is not None})

    @cached_property
    def by_site(self) -> Mapping[str, tuple[StoredCell[Cell], ...]]:
        """Each site's cells, by key (distributions, which have no site, are left out)."""
        grouped: dict[str, list[StoredCell[Cell]]] = defaultdict(list)
        for stored in self.ordered:
            if stored.site_id is not None:
                grouped[stored.site_id].append(stored)
        return {site_id: tuple(cells) for site_id, cells in grouped.items()}

    @cached_property
    def by_kind(self) -> Mapping[str, tuple[StoredCell[Cell], ...]]:
        grouped: dict[str, list[StoredCell[Cell]]] = defaultdict(list)
        for stored in self.ordered:
            grouped[stored.kind].append(stored)
        return {kind: tuple(cells) for kind, cells in grouped.items()}

    @cached_property
    def site_ids(self) -> tuple[str, ...]:
        """Every site known from the registry or from a cell, sorted."""
        return tuple(sorted(set(self.sites) | set(self.by_site)))

    def of_site(self, site_id: str, kind: str | None = None) -> tuple[StoredCell[Cell], ...]:
        cells = self.by_site.get(site_id, ())
        return cells if kind is None else tuple(s for s in cells if s.kind == kind)

    def of_kind(self, kind: str) -> tuple[StoredCell[Cell], ...]:
        return self.by_kind.get(kind, ())

    def site_message(self, site_id: str) -> registry_pb2.Site:
        """The registry entry, or one with just the id for a site the registry does not know."""
        return self.sites.get(site_id) or registry_pb2.Site(site_id=site_id)

    def knows_site(self, site_id: str) -> bool:
        return site_id in self.sites or site_id in self.by_site


def same_value(before: StoredCell[Cell] | None, after: StoredCell[Cell] | None) -> bool:
    """Whether a key shows the same value in two snapshots (a release repeating a cell's value
    gives it a new revision, not a new value)."""
    if before is None or after is None:
        return before is after
    return before is after or before.cell == after.cell


def changes_between(old: Snapshot, new: Snapshot) -> Changes:
    """Every change from one snapshot to another, found by comparing them whole."""
    keys = frozenset(
        k
        for k in set(old.cells) | set(new.cells)
        if not same_value(old.cells.get(k), new.cells.get(k))
    )
    scopes = frozenset(
        s
        for s in set(old.statuses) | set(new.statuses)
        if old.statuses.get(s) != new.statuses.get(s)
    )
    return Changes(keys, scopes)
