"""Watch: the cells matching a filter as of one snapshot, then every change to them, with the
release statuses of the scopes they come from.

A subscriber never holds a queue of changes. It remembers the last snapshot it was sent and,
each time the view moves on, sends the newest value of every matching key that changed
since (and the matching keys withdrawn), and the statuses that changed (a new release, new
counts of events held back: these go even when no cell changed). A slow subscriber therefore
skips intermediate versions instead of piling them up, and every message is one snapshot's
state. When a change takes several messages, the statuses come with the last one, so a
dashboard has every cell of a release once it reads the release's status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from jedi.v1 import benchmarks_pb2, query_pb2
from services.query import enums
from services.query.access import may_see, may_see_scope, site_filter
from services.query.records import StoredCell
from services.query.scopes import parse_scope
from services.query.snapshot import Snapshot, same_value
from services.query.view import View
from shared.auth import Principal
from shared.domain.benchmark_set import Cell
from shared.domain.model import Composite, Wave


@dataclass(frozen=True)
class WatchFilter:
    principal: Principal
    site_id: str | None
    kinds: frozenset[str]
    wave: Wave | None
    composite: Composite | None

    def matches(self, stored: StoredCell[Cell]) -> bool:
        if not may_see(self.principal, stored):
            return False
        if self.kinds and stored.kind not in self.kinds:
            return False
        if self.site_id is not None and stored.site_id not in (None, self.site_id):
            return False
        cell = stored.cell
        if self.wave is not None:
            waves = (
                getattr(cell, "wave", None),
                getattr(cell, "from_wave", None),
                getattr(cell, "to_wave", None),
            )
            if self.wave not in waves:
                return False
        return self.composite is None or getattr(cell, "composite", None) == self.composite

    def matches_scope(self, scope: str) -> bool:
        """The statuses sent: scopes the caller may see, of the requested site and cross-site."""
        parsed = parse_scope(scope)
        if parsed is None or not may_see_scope(self.principal, scope):
            return False
        return self.site_id is None or parsed.site_id in (None, self.site_id)


def watch_filter(principal: Principal, request: query_pb2.WatchRequest) -> WatchFilter:
    """The filter of a Watch request; INVALID_ARGUMENT or PERMISSION_DENIED as any query."""
    return WatchFilter(
        principal=principal,
        site_id=site_filter(principal, request.site_id),
        kinds=enums.cell_kinds(request.kinds),
        wave=enums.from_proto(Wave, request.wave, "wave"),
        composite=enums.from_proto(Composite, request.composite, "composite"),
    )


async def watch(
    view: View, matcher: WatchFilter, *, chunk: int, closing: asyncio.Event
) -> AsyncIterator[query_pb2.WatchResponse]:
    """The stream's messages; ends when `closing` is set (the server shuts down)."""
    snapshot = view.current
    matching = [s.message for s in snapshot.ordered if matcher.matches(s)]
    for start in range(0, len(matching), chunk):
        yield query_pb2.WatchResponse(
            phase=query_pb2.WATCH_PHASE_SNAPSHOT,
            view_version=snapshot.version,
            cells=matching[start : start + chunk],
        )
    yield query_pb2.WatchResponse(
        phase=query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE,
        view_version=snapshot.version,
        releases=[
            status for scope, status in snapshot.statuses.items() if matcher.matches_scope(scope)
        ],
    )
    sent = snapshot
    while True:
        current = await _next_or_closing(view, sent.version, closing)
        if current is None:
            return
        change = changes(view, sent, current, matcher)
        count = max(
            -(-len(change.cells) // chunk),
            -(-len(change.withdrawn) // chunk),
            1 if change.releases else 0,
        )
        for index in range(count):
            part = slice(index * chunk, (index + 1) * chunk)
            yield query_pb2.WatchResponse(
                phase=query_pb2.WATCH_PHASE_CHANGE,
                view_version=current.version,
                cells=change.cells[part],
                withdrawn_keys=change.withdrawn[part],
                releases=change.releases if index == count - 1 else [],
            )
        sent = current


@dataclass(frozen=True)
class Change:
    cells: list[benchmarks_pb2.BenchmarkCell]  # by key
    withdrawn: list[str]  # by key
    releases: list[benchmarks_pb2.ReleaseStatus]  # by scope


def changes(view: View, old: Snapshot, new: Snapshot, matcher: WatchFilter) -> Change:
    """The matching cells published anew, the matching keys withdrawn and the matching release
    statuses changed between two snapshots. A scope the view no longer holds is sent as its
    status with number 0 and nothing else."""
    between = view.changes(old, new)
    cells, withdrawn = [], []
    for key in sorted(between.keys):
        before, after = old.cells.get(key), new.cells.get(key)
        if after is not None and not same_value(before, after) and matcher.matches(after):
            cells.append(after.message)
        elif before is not None and after is None and matcher.matches(before):
            withdrawn.append(key)
    releases = []
    for scope in sorted(between.scopes):
        if not matcher.matches_scope(scope):
            continue
        status = new.statuses.get(scope)
        parsed = parse_scope(scope)
        if status is None and parsed is not None:
            status = parsed.empty_status()
        if status is not None:
            releases.append(status)
    return Change(cells, withdrawn, releases)


async def _next_or_closing(view: View, version: int, closing: asyncio.Event) -> Snapshot | None:
    newer = asyncio.ensure_future(view.newer_than(version))
    closed = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({newer, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (newer, closed):
            task.cancel()
    return newer.result() if newer.done() and not newer.cancelled() else None
