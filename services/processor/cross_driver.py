"""Stage two's batch loop: site summaries in, distribution and rank cells out.

One partition, so one worker at a time sees every site's latest summary. A batch updates the
group records of the (wave, composite) groups whose scores changed; each changed group's cells
and tombstones go to the outbox, and once Kafka has them all the group records are stored.
"""

from __future__ import annotations

from typing import Callable, Sequence

import structlog
from opentelemetry import trace

from shared.telemetry import context_from_headers, inject_trace_headers

from services.processor import metrics
from services.processor.cross_stage import (
    ALL_GROUPS, GroupRecord, GroupStep, decode_group, encode_group, group_key, group_step,
)
from services.processor.inputs import InputRecord
from services.processor.outbox import Outbox
from services.processor.site_driver import RecordStore
from services.processor.summary import SiteSummary, decode_summary

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


class CrossDriver:
    def __init__(
        self, *, store: RecordStore, outbox: Outbox, min_sites: int, next_revision: Callable[[int], int]
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._min_sites = min_sites
        self._next_revision = next_revision

    async def _summaries(self, records: Sequence[InputRecord]) -> dict[str, SiteSummary]:
        latest: dict[str, SiteSummary] = {}
        for record in records:
            try:
                summary = decode_summary(record.value or b"")
            except (ValueError, KeyError, TypeError) as error:
                await self._outbox.dead_letter(record, f"not a site summary: {error!r}")
                continue
            latest.pop(summary.site_id, None)
            latest[summary.site_id] = summary
        return latest

    async def process(self, records: Sequence[InputRecord]) -> list[GroupStep]:
        with metrics.BATCH_SECONDS.labels("cross_site").time():
            return await self._process(records)

    async def _process(self, records: Sequence[InputRecord]) -> list[GroupStep]:
        if not records:
            return []
        summaries = await self._summaries(records)
        anchor = records[-1]
        steps: list[GroupStep] = []
        with tracer.start_as_current_span(
            "processor.publish_cross_site", context=context_from_headers(anchor.headers),
            kind=trace.SpanKind.PRODUCER, attributes={"jedi.summaries": len(records)},
        ) as span:
            headers = inject_trace_headers()
            for group in ALL_GROUPS:
                stored = self._store.load(anchor, group_key(group))
                record = decode_group(stored) if stored is not None else GroupRecord(*group)
                step = group_step(
                    record, summaries.values(), min_sites=self._min_sites, next_revision=self._next_revision
                )
                if step is None:
                    continue
                as_of, revision = step.record.as_of, step.record.revision
                for cell in step.cells:
                    await self._outbox.cell(cell, as_of=as_of, revision=revision, headers=headers)
                for key in step.withdrawn:
                    await self._outbox.withdraw(key, headers=headers)
                steps.append(step)
            span.set_attribute("jedi.groups_changed", len(steps))
        await self._outbox.flush()
        for step in steps:
            self._store.save(anchor, group_key((step.record.wave, step.record.composite)), encode_group(step.record))
        metrics.PUBLISHED.labels("cross_site", "cell").inc(sum(len(s.cells) for s in steps))
        metrics.PUBLISHED.labels("cross_site", "tombstone").inc(sum(len(s.withdrawn) for s in steps))
        log.info("cross_site_batch", summaries=len(records), sites=len(summaries), groups_changed=len(steps),
                 cells=sum(len(s.cells) for s in steps), withdrawn=sum(len(s.withdrawn) for s in steps))
        return steps
