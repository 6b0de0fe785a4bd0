"""One immutable version of the view: every cell it serves and the sites registry.

A reply is computed from one `Snapshot` only, so it never mixes two versions of a cell.
Applying a batch of updates makes a new snapshot (copy on write) and leaves the old one
untouched for the readers that still hold it. Indexes are built once per snapshot, lazily.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Iterable, Mapping

from jedi.v1 import registry_pb2

from services.query.records import CellUpdate, SiteUpdate, StoredCell



@dataclass(frozen=True, eq=False)
class Snapshot:
    version: int = 0
    cells: Mapping[str, StoredCell] = field(default_factory=lambda: MappingProxyType({}))
    sites: Mapping[str, registry_pb2.Site] = field(default_factory=lambda: MappingProxyType({}))

    @cached_property
    def ordered(self) -> tuple[StoredCell, ...]:
        """Every cell, by key."""
        return tuple(self.cells[key] for key in sorted(self.cells))

    @cached_property
    def by_site(self) -> Mapping[str, tuple[StoredCell, ...]]:
        """Each site's cells, by key (distributions, which have no site, are left out)."""
        grouped: dict[str, list[StoredCell]] = defaultdict(list)
        for stored in self.ordered:
            if stored.site_id is not None:
                grouped[stored.site_id].append(stored)
        return {site_id: tuple(cells) for site_id, cells in grouped.items()}

    @cached_property
    def by_kind(self) -> Mapping[str, tuple[StoredCell, ...]]:
        grouped: dict[str, list[StoredCell]] = defaultdict(list)
        for stored in self.ordered:
            grouped[stored.kind].append(stored)
        return {kind: tuple(cells) for kind, cells in grouped.items()}

    @cached_property
    def site_ids(self) -> tuple[str, ...]:
        """Every site known from the registry or from a cell, sorted."""
        return tuple(sorted(set(self.sites) | set(self.by_site)))

    def of_site(self, site_id: str, kind: str | None = None) -> tuple[StoredCell, ...]:
        cells = self.by_site.get(site_id, ())
        return cells if kind is None else tuple(s for s in cells if s.kind == kind)

    def of_kind(self, kind: str) -> tuple[StoredCell, ...]:
        return self.by_kind.get(kind, ())

    def site_message(self, site_id: str) -> registry_pb2.Site:
        """The registry entry, or one with just the id for a site the registry does not know."""
        return self.sites.get(site_id) or registry_pb2.Site(site_id=site_id)

    def knows_site(self, site_id: str) -> bool:
        return site_id in self.sites or site_id in self.by_site


def apply_updates(
    snapshot: Snapshot, cell_updates: Iterable[CellUpdate], site_updates: Iterable[SiteUpdate]
) -> tuple[Snapshot, frozenset[str]]:
    """The next snapshot and the keys whose cell changed; the same snapshot when nothing did.

    A reader keeps the highest revision of a cell: an older revision arriving late is ignored.
    """
    cells: dict[str, StoredCell] | None = None
    changed: set[str] = set()
    for update in cell_updates:
        held = (cells if cells is not None else snapshot.cells).get(update.key)
        if update.stored is None:
            if held is None:
                continue
        elif held is not None and update.stored.revision < held.revision:
            continue
        if cells is None:
            cells = dict(snapshot.cells)
        if update.stored is None:
            del cells[update.key]
        else:
            cells[update.key] = update.stored
        changed.add(update.key)
    sites: dict[str, registry_pb2.Site] | None = None
    for update in site_updates:
        if sites is None:
            sites = dict(snapshot.sites)
        if update.site is None:
            sites.pop(update.site_id, None)
        else:
            sites[update.site_id] = update.site
    if cells is None and sites is None:
        return snapshot, frozenset()
    next_snapshot = Snapshot(
        snapshot.version + 1,
        MappingProxyType(cells) if cells is not None else snapshot.cells,
        MappingProxyType(sites) if sites is not None else snapshot.sites,
    )
    return next_snapshot, frozenset(changed)
