"""Watch: the cells matching a filter as of one snapshot, then every change to them.

A subscriber never holds a queue of changes. It remembers the last snapshot it was sent and,
each time the view moves on, sends the newest value of every matching key that changed
since (and the matching keys withdrawn). A slow subscriber therefore skips intermediate
versions instead of piling them up, and every message is one snapshot's state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator

from jedi.v1 import query_pb2

from shared.auth import Principal
from shared.domain.model import Composite, Wave

from services.query import enums
from services.query.access import may_see, site_filter
from services.query.records import StoredCell
from services.query.snapshot import Snapshot
from services.query.view import View


@dataclass(frozen=True)
class WatchFilter:
    principal: Principal
    site_id: str | None
    kinds: frozenset[str]
    wave: Wave | None
    composite: Composite | None

    def matches(self, stored: StoredCell) -> bool:
        if not may_see(self.principal, stored):
            return False
        if self.kinds and stored.kind not in self.kinds:
            return False
        if self.site_id is not None and stored.site_id not in (None, self.site_id):
            return False
        cell = stored.cell
        if self.wave is not None:
            waves = (getattr(cell, "wave", None), getattr(cell, "from_wave", None), getattr(cell, "to_wave", None))
            if self.wave not in waves:
                return False
        return self.composite is None or getattr(cell, "composite", None) == self.composite


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
            phase=query_pb2.WATCH_PHASE_SNAPSHOT, view_version=snapshot.version, cells=matching[start:start + chunk],
        )
    yield query_pb2.WatchResponse(phase=query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE, view_version=snapshot.version)
    sent = snapshot
    while True:
        current = await _next_or_closing(view, sent.version, closing)
        if current is None:
            return
        cells, withdrawn = changes(view, sent, current, matcher)
        for start in range(0, max(len(cells), len(withdrawn)), chunk):
            yield query_pb2.WatchResponse(
                phase=query_pb2.WATCH_PHASE_CHANGE, view_version=current.version,
                cells=cells[start:start + chunk], withdrawn_keys=withdrawn[start:start + chunk],
            )
        sent = current


def changes(view: View, old: Snapshot, new: Snapshot, matcher: WatchFilter) -> tuple[list, list[str]]:
    """The matching cells published anew and the matching keys withdrawn between two snapshots."""
    cells, withdrawn = [], []
    for key in sorted(view.changed_keys(old, new)):
        before, after = old.cells.get(key), new.cells.get(key)
        if after is not None and after is not before and matcher.matches(after):
            cells.append(after.message)
        elif before is not None and after is None and matcher.matches(before):
            withdrawn.append(key)
    return cells, withdrawn


async def _next_or_closing(view: View, version: int, closing: asyncio.Event) -> Snapshot | None:
    newer = asyncio.ensure_future(view.newer_than(version))
    closed = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({newer, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (newer, closed):
            task.cancel()
    return newer.result() if newer.done() and not newer.cancelled() else None
