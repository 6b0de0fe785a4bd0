"""Timers: the leader's registry forwarder (below), and every worker's stall watchdog (watchdog.py).

The site stage needs each site's registry record in the site's own partition, so the leader
forwards the sites topic (one partition) into the site-changes topic (the event topics'
partitions), versioned by offset. When the UTC day changes (the end of the reach cells'
twelve-month windows), every site's record is forwarded again; each reaches the worker owning
the site, which publishes its cells for the new day at its next scheduled release time. At each
scheduled time, every worker forwards the sites it holds k or more new events of (`ReleaseClock`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import structlog
from aiokafka import ConsumerRecord
from faust.types import TP

from services.processor import clock
from services.processor.inputs import InputRecord
from services.processor.settings import ProcessorSettings
from services.processor.watchdog import StallWatchdog
from shared.domain.publication.calendar import ReleaseCalendar
from shared.kafka import Kafka, replay_topics

if TYPE_CHECKING:
    from services.processor.faust.wiring import Wiring

log = structlog.get_logger(__name__)


async def registered_sites(kafka: Kafka, topic: str) -> list[InputRecord]:
    """The latest record of every site in the (compacted) sites topic."""
    latest: dict[bytes, ConsumerRecord] = {}
    await replay_topics(kafka, [topic], lambda record: latest.__setitem__(record.key, record))
    return [
        InputRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
        for r in latest.values()
        if r.key
    ]


def lagging_inputs(wiring: Wiring) -> dict[tuple[str, int], int]:
    """Input partitions of this worker whose watermark is behind the end of the log."""
    consumer = wiring.app.consumer
    changelogs = wiring.app.tables.changelog_topics
    inputs = [
        (tp.topic, tp.partition) for tp in consumer.assignment() if tp.topic not in changelogs
    ]
    lagging: dict[tuple[str, int], int] = {}
    for (topic, partition), offset in wiring.applied_offsets(inputs, default=0).items():
        end = consumer.highwater(TP(topic, partition))
        if end is not None and offset < end:
            lagging[(topic, partition)] = offset
    return lagging


class RegistryForwarder:
    """Forwards the sites registry into the site stage's partitions: run by the leader.

    Each check forwards the site records added since the last one; after a start, and when
    the UTC day changes, every site's (so each site is published again, for the new as_of).
    It reads the registry with a consumer of its own, so no registry record depends on Faust
    delivering it.
    """

    def __init__(
        self,
        *,
        read_sites: Callable[[], Awaitable[list[InputRecord]]],
        forward: Callable[[list[InputRecord]], Awaitable[None]],
        today: Callable[[], datetime] = clock.current_as_of,
    ) -> None:
        self._read_sites = read_sites
        self._forward = forward
        self._today = today
        self.refreshed_for: datetime | None = None
        self._next_offset = 0

    async def check(self) -> int:
        """Forward what is new, or everything on a new day; how many records it forwarded."""
        as_of = self._today()
        sites = await self._read_sites()
        chosen = (
            sites
            if as_of != self.refreshed_for
            else [r for r in sites if r.offset >= self._next_offset]
        )
        if chosen:
            await self._forward(chosen)
        self._next_offset = max([self._next_offset, *(r.offset + 1 for r in sites)])
        if as_of != self.refreshed_for:
            log.info("as_of_refreshed", as_of=as_of.isoformat(), sites=len(sites))
            self.refreshed_for = as_of
        return len(chosen)


class ReleaseClock:
    """Every worker's: at each scheduled release time, the sites it holds k or more new events
    of are forwarded again (their registry records, to their own partitions), so their release
    is cut then even when no new event of theirs arrives. Which sites: a count, nothing else."""

    def __init__(
        self,
        *,
        slot: Callable[[], datetime],
        due: Callable[[datetime], list[InputRecord]],
        forward: Callable[[list[InputRecord]], Awaitable[None]],
    ) -> None:
        self._slot = slot
        self._due = due
        self._forward = forward
        self._last: datetime | None = None

    async def check(self) -> int:
        slot = self._slot()
        if slot == self._last:
            return 0
        self._last = slot
        sites = self._due(slot)
        if sites:
            await self._forward(sites)
        return len(sites)


def register_timers(wiring: Wiring, settings: ProcessorSettings) -> RegistryForwarder:
    calendar = ReleaseCalendar(settings.release_every)

    def slot() -> datetime:
        scheduled = calendar.for_instruments(wiring.instruments.instruments.values())
        return scheduled.slot(clock.utc_now())

    forwarder = RegistryForwarder(
        read_sites=partial(registered_sites, settings.kafka, wiring.topics.platform.sites.name),
        forward=wiring.forward_sites,
    )

    # faust's App.timer is annotated as returning a bare Callable
    @wiring.app.timer(settings.registry_check_interval_s, on_leader=True, name="site-registry")  # type: ignore[untyped-decorator]
    async def forward_registry() -> None:
        await forwarder.check()

    release_clock = ReleaseClock(
        slot=slot, due=wiring.site_driver.sites_due, forward=wiring.forward_sites
    )
    # Often enough to cut a release soon after each scheduled time.
    interval = min(settings.registry_check_interval_s, settings.release_every.total_seconds() / 4)

    @wiring.app.timer(max(interval, 0.25), name="release-clock")  # type: ignore[untyped-decorator]  # as above
    async def release_due_sites() -> None:
        await release_clock.check()

    watchdog = StallWatchdog(
        lagging=partial(lagging_inputs, wiring),
        rewind=wiring.rewind,
        patience_s=settings.stall_patience_s,
        seen_at=lambda tp: max(
            wiring.site_driver.activity.last_seen_at(tp),
            wiring.cross_driver.activity.last_seen_at(tp),
        ),
        busy=lambda: wiring.site_driver.activity.busy() or wiring.cross_driver.activity.busy(),
    )

    @wiring.app.timer(max(settings.stall_patience_s / 4, 1.0), name="stall-watchdog")  # type: ignore[untyped-decorator]  # as above
    async def unstick_partitions() -> None:
        await watchdog.check()

    return forwarder
