"""The materialised view: the current snapshot, what changed between versions, and readiness."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Iterable

import structlog

from services.query import metrics
from services.query.records import CellUpdate, SiteUpdate
from services.query.snapshot import Snapshot, apply_updates

log = structlog.get_logger(__name__)


class View:
    """Swaps in a new immutable snapshot per applied batch and wakes whoever waits for one.

    `ready` is set once the view has caught up with the end offsets its topics had when
    following began. A short log of the keys changed by each version lets a Watch stream
    send only what changed; a subscriber further behind than the log diffs whole snapshots.
    """

    def __init__(self, *, change_log_versions: int = 1024) -> None:
        self.current = Snapshot()
        self.ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._log: deque[tuple[int, frozenset[str]]] = deque(maxlen=change_log_versions)

    def apply(self, cell_updates: Iterable[CellUpdate], site_updates: Iterable[SiteUpdate]) -> None:
        cell_updates = list(cell_updates)
        for update in cell_updates:
            if update.refused:
                metrics.REFUSED_RECORDS.labels(update.refused).inc()
                log.warning("benchmark_record_refused", key=update.key, reason=update.refused)
        snapshot, changed = apply_updates(self.current, cell_updates, site_updates)
        if snapshot is self.current:
            return
        self._log.append((snapshot.version, changed))
        self.current = snapshot
        metrics.VIEW_CELLS.set(len(snapshot.cells))
        metrics.VIEW_VERSION.set(snapshot.version)
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    def mark_caught_up(self) -> None:
        if not self.ready.is_set():
            log.info("view_caught_up", cells=len(self.current.cells), sites=len(self.current.sites),
                     version=self.current.version)
            self.ready.set()

    async def newer_than(self, version: int) -> Snapshot:
        """The current snapshot once its version is above `version`."""
        while self.current.version <= version:
            await self._changed.wait()
        return self.current

    def changed_keys(self, old: Snapshot, new: Snapshot) -> frozenset[str]:
        """Every key whose cell differs between two snapshots of this view (old before new)."""
        if old.version == new.version:
            return frozenset()
        logged = [keys for version, keys in self._log if old.version < version <= new.version]
        if len(logged) == new.version - old.version:
            return frozenset().union(*logged)
        # Further behind than the log reaches: compare the two snapshots.
        return frozenset(
            key for key in set(old.cells) | set(new.cells) if old.cells.get(key) is not new.cells.get(key)
        )
