"""Timers: the leader's day change (below), and every worker's stall watchdog (watchdog.py).

When the UTC day changes, every site is published again for the new as_of.

Reach cells count training sessions in the twelve months ending at `as_of`, the start of the
current UTC day. When the day changes, the leader forwards every site's registry record again;
each reaches the worker owning the site, which publishes its cells for the new day (and its
summary, so the cross-site cells follow). After a start the first check always refreshes.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Awaitable, Callable

import structlog
from aiokafka import ConsumerRecord
from faust.types import TP

from shared.kafka import replay_topics

from services.processor import clock
from services.processor.inputs import InputRecord
from services.processor.settings import ProcessorSettings
from services.processor.watchdog import StallWatchdog

if TYPE_CHECKING:
    from services.processor.wiring import Wiring

log = structlog.get_logger(__name__)


async def registered_sites(bootstrap_servers: str, topic: str) -> list[InputRecord]:
    """The latest record of every site in the (compacted) sites topic."""
    latest: dict[bytes, ConsumerRecord] = {}
    await replay_topics(bootstrap_servers, [topic], lambda record: latest.__setitem__(record.key, record))
    return [
        InputRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
        for r in latest.values()
        if r.key
    ]


def lagging_inputs(wiring: Wiring) -> dict[tuple[str, int], int]:
    """Input partitions of this worker whose watermark is behind the end of the log."""
    consumer = wiring.app.consumer
    changelogs = wiring.app.tables.changelog_topics
    inputs = [(tp.topic, tp.partition) for tp in consumer.assignment() if tp.topic not in changelogs]
    lagging = {}
    for (topic, partition), offset in wiring.app.applied_offsets(inputs, default=0).items():
        end = consumer.highwater(TP(topic, partition))
        if end is not None and offset < end:
            lagging[(topic, partition)] = offset
    return lagging


class AsOfRefresher:
    def __init__(
        self, *, read_sites: Callable[[], Awaitable[list[InputRecord]]],
        forward: Callable[[list[InputRecord]], Awaitable[None]], today: Callable[[], datetime] = clock.current_as_of,
    ) -> None:
        self._read_sites = read_sites
        self._forward = forward
        self._today = today
        self.refreshed_for: datetime | None = None

    async def check(self) -> bool:
        """Forward every site again if the day changed since the last refresh (or none happened)."""
        as_of = self._today()
        if as_of == self.refreshed_for:
            return False
        sites = await self._read_sites()
        await self._forward(sites)
        self.refreshed_for = as_of
        log.info("as_of_refreshed", as_of=as_of.isoformat(), sites=len(sites))
        return True


def register_timers(wiring: Wiring, settings: ProcessorSettings) -> AsOfRefresher:
    refresher = AsOfRefresher(
        read_sites=partial(registered_sites, settings.kafka_bootstrap_servers, wiring.topics.platform.sites.name),
        forward=wiring.forward_sites,
    )

    @wiring.app.timer(settings.as_of_check_interval_s, on_leader=True, name="as-of-refresh")
    async def refresh_as_of() -> None:
        await refresher.check()

    watchdog = StallWatchdog(
        lagging=partial(lagging_inputs, wiring), rewind=wiring.rewind, patience_s=settings.stall_patience_s,
        last_batch_at=lambda: max(wiring.site_driver.last_batch_at, wiring.cross_driver.last_batch_at),
    )

    @wiring.app.timer(max(settings.stall_patience_s / 4, 1.0), name="stall-watchdog")
    async def unstick_partitions() -> None:
        await watchdog.check()

    return refresher
