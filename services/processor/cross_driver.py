"""Stage two's batch loop: site summaries in, distribution and rank cells out.

One partition, so one worker at a time sees every site's latest summary. A batch updates the
group records of the (wave, composite) groups whose scores changed; keys about to be published
for the first time are stored first, each changed group's cells and tombstones go to the outbox,
and once Kafka has them all the group records are stored.
"""

from __future__ import annotations

import time
from dataclasses import replace
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
from services.processor.input_tracker import InputTracker
from services.processor.ports import InputPartition, RecordStore, Rewind
from services.processor.summary import SiteSummary, decode_summary

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


class CrossDriver:
    def __init__(
        self, *, topic: str, store: RecordStore, outbox: Outbox, min_sites: int, next_revision: Callable[[int], int],
        rewind: Rewind,
    ) -> None:
        self._store = store
        self._rewind = rewind
        self._tracker = InputTracker(store, compacted=[topic])  # the summaries topic is compacted
        self._outbox = outbox
        self._min_sites = min_sites
        self._next_revision = next_revision
        self.last_batch_at = time.monotonic()  # when a batch was last done (for the stall watchdog)

    def resume_offsets(self, inputs, *, default: int | None = None) -> dict[InputPartition, int]:
        return self._tracker.resume_offsets(inputs, default=default)

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
        admitted = self._tracker.admit(records)
        summaries = await self._summaries(admitted.records)
        anchor = records[-1]
        planned: list[tuple[GroupRecord, GroupStep]] = []
        for group in ALL_GROUPS:
            stored = self._store.load(anchor, group_key(group))
            before = decode_group(stored) if stored is not None else GroupRecord(*group)
            step = group_step(before, summaries.values(), min_sites=self._min_sites, next_revision=self._next_revision)
            if step is not None:
                planned.append((before, step))
        # As in the site stage: a key about to be published for the first time is stored first.
        intents = [
            replace(before, published=before.published | step.record.published)
            for before, step in planned
            if not step.record.published <= before.published
        ]
        for intent in intents:
            self._store.save(anchor, group_key((intent.wave, intent.composite)), encode_group(intent))
        if intents:
            await self._store.flush()
        steps = [step for _, step in planned]
        with tracer.start_as_current_span(
            "processor.publish_cross_site", context=context_from_headers(anchor.headers),
            kind=trace.SpanKind.PRODUCER, attributes={"jedi.summaries": len(records), "jedi.groups": len(steps)},
        ):
            headers = inject_trace_headers()
            for step in steps:
                as_of, revision = step.record.as_of, step.record.revision
                for cell in step.cells:
                    await self._outbox.cell(cell, as_of=as_of, revision=revision, headers=headers)
                for key in step.withdrawn:
                    await self._outbox.withdraw(key, headers=headers)
        await self._outbox.flush()
        for step in steps:
            self._store.save(anchor, group_key((step.record.wave, step.record.composite)), encode_group(step.record))
        await self._tracker.close_batch(admitted, self._rewind)
        self.last_batch_at = time.monotonic()
        metrics.PUBLISHED.labels("cross_site", "cell").inc(sum(len(s.cells) for s in steps))
        metrics.PUBLISHED.labels("cross_site", "tombstone").inc(sum(len(s.withdrawn) for s in steps))
        log.info("cross_site_batch", summaries=len(records), sites=len(summaries), groups_changed=len(steps),
                 cells=sum(len(s.cells) for s in steps), withdrawn=sum(len(s.withdrawn) for s in steps))
        return steps
