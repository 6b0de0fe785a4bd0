"""Applying a batch of updates to a snapshot: one new snapshot per batch, releases whole.

A release replaces its scope's cells: the new and changed cells go in, the keys of the scope's
previous release that the new one lacks go out. Everything in one batch lands in one new
snapshot, so a reader sees a release entirely or not at all. An older release arriving late is
ignored, as is a progress older than the release (or progress) the view holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import MappingProxyType

from jedi.v1 import flags_pb2, registry_pb2
from services.query.records import (
    BenchmarkUpdate,
    FlagUpdate,
    ProgressUpdate,
    ReleaseUpdate,
    SiteUpdate,
    StoredCell,
    Withdrawal,
)
from services.query.scopes import parse_scope
from services.query.snapshot import Changes, ScopeState, Snapshot, same_value
from shared.convert_releases import PROGRESS_PREFIX
from shared.domain.benchmark_set import Cell


@dataclass(frozen=True)
class Applied:
    snapshot: Snapshot  # the same snapshot when nothing was accepted
    changes: Changes
    stale: tuple[tuple[str, int, int], ...] = ()  # (scope, number ignored, number held)


def apply_updates(
    snapshot: Snapshot,
    updates: Iterable[BenchmarkUpdate],
    site_updates: Iterable[SiteUpdate],
    flag_updates: Iterable[FlagUpdate] = (),
) -> Applied:
    cells: dict[str, StoredCell[Cell]] = dict(snapshot.cells)
    scopes: dict[str, ScopeState] = dict(snapshot.scopes)
    touched = False
    candidates: set[str] = set()  # keys whose cell may have changed
    stale: list[tuple[str, int, int]] = []
    for update in updates:
        if isinstance(update, ReleaseUpdate):
            held = scopes.get(update.scope.name) or ScopeState(update.scope)
            if held.release is not None and update.number < held.number:
                stale.append((update.scope.name, update.number, held.number))
                continue
            scopes[update.scope.name] = _release(cells, held, update, candidates)
        elif isinstance(update, ProgressUpdate):
            held = scopes.get(update.scope.name) or ScopeState(update.scope)
            if update.release_number < max(held.number, held.progress_number):
                continue
            scopes[update.scope.name] = _progress(held, update)
        elif not _withdraw(cells, scopes, update, candidates):
            continue
        touched = True
    sites: dict[str, registry_pb2.Site] | None = None
    for site_update in site_updates:
        sites = dict(snapshot.sites) if sites is None else sites
        if site_update.site is None:
            sites.pop(site_update.site_id, None)
        else:
            sites[site_update.site_id] = site_update.site
    flags: dict[str, flags_pb2.SiteFlag] | None = None
    for flag_update in flag_updates:
        flags = dict(snapshot.flags) if flags is None else flags
        if flag_update.flag is None:
            flags.pop(flag_update.key, None)
        else:
            flags[flag_update.key] = flag_update.flag
    if not touched and sites is None and flags is None:
        return Applied(snapshot, Changes(), tuple(stale))
    next_snapshot = Snapshot(
        snapshot.version + 1,
        MappingProxyType(cells) if touched else snapshot.cells,
        MappingProxyType(sites) if sites is not None else snapshot.sites,
        MappingProxyType(scopes) if touched else snapshot.scopes,
        MappingProxyType(flags) if flags is not None else snapshot.flags,
    )
    changed_keys = frozenset(
        k for k in candidates if not same_value(snapshot.cells.get(k), cells.get(k))
    )
    changed_scopes = frozenset(
        name
        for name in set(snapshot.statuses) | set(next_snapshot.statuses)
        if snapshot.statuses.get(name) != next_snapshot.statuses.get(name)
    )
    return Applied(next_snapshot, Changes(changed_keys, changed_scopes), tuple(stale))


def _release(
    cells: dict[str, StoredCell[Cell]],
    held: ScopeState,
    update: ReleaseUpdate,
    candidates: set[str],
) -> ScopeState:
    keys = frozenset(stored.key for stored in update.cells)
    candidates |= held.keys | keys
    for key in held.keys - keys:
        cells.pop(key, None)
    for stored in update.cells:
        cells[stored.key] = stored
    held_back = held.held_back if update.number == held.number else None
    pending = held.pending
    if pending is not None and pending[0] <= update.number:
        held_back = pending[1] if pending[0] == update.number else held_back
        pending = None
    return replace(held, release=update.status, keys=keys, held_back=held_back, pending=pending)


def _progress(held: ScopeState, update: ProgressUpdate) -> ScopeState:
    counts = dict(update.held_back)
    if update.release_number == held.number:
        return replace(held, held_back=counts, pending=None)
    return replace(held, pending=(update.release_number, counts))


def _withdraw(
    cells: dict[str, StoredCell[Cell]],
    scopes: dict[str, ScopeState],
    update: Withdrawal,
    candidates: set[str],
) -> bool:
    """Drops what the view held under the key; False when it held nothing."""
    scope = parse_scope(update.key.removeprefix(PROGRESS_PREFIX))
    held = scopes.get(scope.name) if scope is not None else None
    if held is None:
        return False
    if update.key.startswith(PROGRESS_PREFIX):
        scopes[held.scope.name] = replace(held, held_back=None, pending=None)
        return True
    candidates |= held.keys
    for key in held.keys:
        cells.pop(key, None)
    del scopes[held.scope.name]
    return True
