"""Stage two's batch loop: site summaries in, one cross-site release per changed wave out.

One partition, so one worker at a time sees every site's latest summary. A batch updates the
wave records whose scores changed; each changed wave's release goes to the outbox, and once
Kafka has them all the wave records are stored. The last record stored of each wave is kept
decoded between batches, found again while the table holds exactly its bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import structlog
from opentelemetry import trace

from services.processor import metrics
from services.processor.input_tracker import InputTracker
from services.processor.inputs import InputRecord
from services.processor.outbox import Outbox
from services.processor.ports import InputPartition, RecordStore, Rewind
from services.processor.stage_activity import StageActivity
from shared.domain.model import Wave
from shared.domain.publication.cross_site_step import (
    WaveRecord,
    WaveStep,
    decode_wave,
    encode_wave,
    wave_key,
    wave_step,
)
from shared.domain.publication.site_summary import SiteSummary, decode_summary
from shared.telemetry import context_from_headers, inject_trace_headers

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


class CrossDriver:
    def __init__(
        self,
        *,
        topic: str,
        store: RecordStore,
        outbox: Outbox,
        min_sites: int,
        now: Callable[[], datetime],
        rewind: Rewind,
    ) -> None:
        self._store = store
        self._rewind = rewind
        self._tracker = InputTracker(store, compacted=[topic])  # the summaries topic is compacted
        self._outbox = outbox
        self._min_sites = min_sites
        self._now = now
        self._decoded: dict[Wave, tuple[bytes, WaveRecord]] = {}  # the last stored, by wave
        self.last_batch_at = time.monotonic()  # when a batch was last done (for the stall watchdog)
        self.activity = StageActivity()  # what the stall watchdog reads of this stage

    def resume_offsets(
        self, inputs: Iterable[InputPartition], *, default: int | None = None
    ) -> dict[InputPartition, int]:
        return self._tracker.resume_offsets(inputs, default=default)

    def _stored_wave(self, anchor: InputRecord, wave: Wave) -> WaveRecord:
        stored = self._store.load(anchor, wave_key(wave))
        if stored is None:
            return WaveRecord(wave)
        kept = self._decoded.get(wave)
        if kept is not None and kept[0] == stored:
            return kept[1]
        record = decode_wave(stored)
        self._decoded[wave] = (stored, record)
        return record

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

    async def process(self, records: Sequence[InputRecord]) -> list[WaveStep]:
        with self.activity.batch(records), metrics.BATCH_SECONDS.labels("cross_site").time():
            return await self._process(records)

    async def _process(self, records: Sequence[InputRecord]) -> list[WaveStep]:
        if not records:
            return []
        admitted = self._tracker.admit(records)
        summaries = await self._summaries(admitted.records)
        anchor = records[-1]
        steps: list[WaveStep] = []
        cut_at = self._now()
        for wave in Wave:
            before = self._stored_wave(anchor, wave)
            step = wave_step(before, summaries.values(), min_sites=self._min_sites, cut_at=cut_at)
            if step is not None:
                steps.append(step)
        releases = [step.release for step in steps if step.release is not None]
        # Before a wave's release goes out, forget the stored digest: a replay after a crash in
        # between then publishes the wave again, replacing whatever the lost batch showed.
        for step in steps:
            if step.release is not None:
                forgetting = replace(step.record, digest="")
                self._store.save(anchor, wave_key(step.record.wave), encode_wave(forgetting))
        if releases:
            await self._store.flush()
        with tracer.start_as_current_span(
            "processor.publish_cross_site",
            context=context_from_headers(anchor.headers),
            kind=trace.SpanKind.PRODUCER,
            attributes={"jedi.summaries": len(records), "jedi.releases": len(releases)},
        ):
            headers = inject_trace_headers()
            for release in releases:
                await self._outbox.release(release, headers=headers)
        await self._outbox.flush()
        for step in steps:
            value = encode_wave(step.record)
            self._store.save(anchor, wave_key(step.record.wave), value)
            self._decoded[step.record.wave] = (value, step.record)
        await self._tracker.close_batch(admitted, self._rewind)
        self.last_batch_at = time.monotonic()
        metrics.PUBLISHED.labels("cross_site", "release").inc(len(releases))
        log.info(
            "cross_site_batch",
            summaries=len(records),
            sites=len(summaries),
            releases=len(releases),
            cells=sum(len(release.cells) for release in releases),
        )
        return steps
