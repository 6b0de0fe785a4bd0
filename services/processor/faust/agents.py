"""The Faust agents: translators from a batch of Kafka events to a driver call.

- `site-stage` reads the event topics and the site changes (all keyed by site id, same
  partitions), in batches, and runs the `SiteDriver`.
- `cross-site-stage` reads the site summaries (one partition) and runs the `CrossDriver`.

The sites registry reaches the site stage through the leader's timer (timers.py).

A batch is acknowledged (and its offsets become committable) only when the agent asks for the
next one. A failure is retried in place; if it persists, the process exits without unwinding
(Faust would acknowledge the batch on the way out) and a restart replays the batch.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import structlog
from faust.types import StreamT

from services.processor.faust.adapters import input_record
from services.processor.inputs import InputRecord
from services.processor.settings import ProcessorSettings

if TYPE_CHECKING:
    from services.processor.faust.wiring import Wiring

log = structlog.get_logger(__name__)
RETRIES = 5
EXIT_CODE = 70  # EX_SOFTWARE


async def process_or_exit(
    name: str,
    process: Callable[[Sequence[InputRecord]], Awaitable[object]],
    batch: Sequence[InputRecord],
) -> None:
    for attempt in range(1, RETRIES + 1):
        try:
            await process(batch)
            return
        except Exception:
            log.exception("batch_failed", stage=name, attempt=attempt, records=len(batch))
            if attempt == RETRIES:
                log.critical("stage_failed_exiting", stage=name, exit_code=EXIT_CODE)
                os._exit(EXIT_CODE)  # crash-only: the uncommitted batch is replayed after a restart
            await asyncio.sleep(min(2.0**attempt, 20.0))


def register_agents(wiring: Wiring, settings: ProcessorSettings) -> None:
    app = wiring.app

    @app.agent(wiring.faust_topics.site_inputs, name="site-stage")
    async def site_stage(stream: StreamT[bytes]) -> None:
        await wiring.instruments.refresh()  # the registry as it is now, before the first batch
        # take_events is faust.Stream's (the stream given here), which StreamT does not declare
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.batch_size, within=settings.batch_window_s
        ):
            await process_or_exit(
                "site", wiring.site_driver.process, [input_record(e) for e in events]
            )

    @app.agent(wiring.faust_topics.site_summaries, name="cross-site-stage")
    async def cross_site_stage(stream: StreamT[bytes]) -> None:
        async for events in stream.take_events(  # type: ignore[attr-defined]  # as above
            settings.batch_size, within=settings.batch_window_s
        ):
            await process_or_exit(
                "cross-site", wiring.cross_driver.process, [input_record(e) for e in events]
            )
