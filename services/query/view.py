"""The materialised view: the current snapshot, what changed between versions, and readiness."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

import structlog

from services.query import metrics
from services.query.apply import apply_updates
from services.query.records import (
    BenchmarkUpdate,
    FlagUpdate,
    ReleaseUpdate,
    SiteUpdate,
    Withdrawal,
)
from services.query.snapshot import Changes, Snapshot, changes_between

log = structlog.get_logger(__name__)


class View:
    """Swaps in a new immutable snapshot per applied batch and wakes whoever waits for one.

    `ready` is set once the view has caught up with the end offsets its topics had when
    following began. A short log of what each version changed (cell keys, release scopes)
    lets a Watch stream send only that; a subscriber further behind than the log diffs whole
    snapshots.
    """

    def __init__(self, *, change_log_versions: int = 1024) -> None:
        self.current = Snapshot()
        self.ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._log: deque[tuple[int, Changes]] = deque(maxlen=change_log_versions)

    def apply(
        self,
        updates: Iterable[BenchmarkUpdate],
        site_updates: Iterable[SiteUpdate],
        flag_updates: Iterable[FlagUpdate] = (),
    ) -> None:
        updates = list(updates)
        _report_refusals(updates)
        applied = apply_updates(self.current, updates, site_updates, flag_updates)
        for scope, number, held in applied.stale:
            metrics.STALE_RELEASES.inc()
            log.info("release_ignored_as_older", scope=scope, number=number, held=held)
        snapshot = applied.snapshot
        if snapshot is self.current:
            return
        self._log.append((snapshot.version, applied.changes))
        self.current = snapshot
        metrics.VIEW_CELLS.set(len(snapshot.cells))
        metrics.VIEW_RELEASES.set(len(snapshot.statuses))
        metrics.VIEW_VERSION.set(snapshot.version)
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    def mark_caught_up(self) -> None:
        if not self.ready.is_set():
            log.info(
                "view_caught_up",
                cells=len(self.current.cells),
                sites=len(self.current.sites),
                releases=len(self.current.statuses),
                version=self.current.version,
            )
            self.ready.set()

    async def newer_than(self, version: int) -> Snapshot:
        """The current snapshot once its version is above `version`."""
        while self.current.version <= version:
            await self._changed.wait()
        return self.current

    def changes(self, old: Snapshot, new: Snapshot) -> Changes:
        """Every cell key and release scope that differs between two snapshots (old before new)."""
        if old.version == new.version:
            return Changes()
        logged = [changes for version, changes in self._log if old.version < version <= new.version]
        if len(logged) == new.version - old.version:
            total = Changes()
            for changes in logged:
                total = total | changes
            return total
        return changes_between(old, new)  # further behind than the log reaches

    def changed_keys(self, old: Snapshot, new: Snapshot) -> frozenset[str]:
        return self.changes(old, new).keys


def _report_refusals(updates: list[BenchmarkUpdate]) -> None:
    for update in updates:
        if isinstance(update, Withdrawal) and update.refused:
            metrics.REFUSED_RECORDS.labels(update.refused).inc()
            log.warning("benchmark_record_refused", key=update.key, reason=update.refused)
        elif isinstance(update, ReleaseUpdate):
            for key, reason in update.refused:
                metrics.REFUSED_CELLS.labels(reason).inc()
                log.warning(
                    "benchmark_cell_refused",
                    scope=update.scope.name,
                    release=update.number,
                    key=key,
                    reason=reason,
                )
