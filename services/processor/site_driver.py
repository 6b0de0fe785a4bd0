"""Stage one's batch loop: records in, cells and summaries out, then the site values stored.

For a batch (any mix of partitions, sites and input topics) it groups the records by site and
folds each site's inputs into its stored record (`shared.domain.publication.site_step`). Then, in order:
stores (durably) what each release about to be cut covers; writes the releases, progress
counts, summaries and dead letters to the outbox and waits for Kafka to acknowledge them all;
only then stores the new records, and waits for their changelog records before the batch is
acknowledged (and its offsets may be committed).
Traces, logs and metrics: observe.py.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from services.processor import metrics
from services.processor.input_tracker import InputTracker
from services.processor.inputs import InputRecord, SiteTopics, site_input
from services.processor.observe import event_span, publish_span, site_batch_done
from services.processor.outbox import Outbox
from services.processor.ports import InputPartition, Instruments, RecordStore, Rewind
from services.processor.site_record import decode_record, encode_record
from services.processor.stage_activity import StageActivity
from shared.convert import site_to_proto
from shared.domain.model import SurveyResponse
from shared.domain.publication.calendar import ReleaseCalendar
from shared.domain.publication.release_gate import Evaluations, advancing
from shared.domain.publication.site_record import SiteRecord, new_record, released_state
from shared.domain.publication.site_step import SiteInput, SiteStep, coverage_of, site_step
from shared.telemetry import inject_trace_headers

log = structlog.get_logger(__name__)
Planned = tuple[list[SiteInput[InputRecord]], str, SiteRecord, SiteStep[InputRecord]]
# Decoded records kept in memory (about the site's state twice and its cells once, each: over
# 1 MiB for a site of 160 responses). A site not kept is decoded again from its table value.
RECORD_CACHE_SITES = 256


def _due(record: SiteRecord, slot: datetime) -> bool:
    """Whether a step of the site may cut a release at `slot` (`site_step.publication`: a
    scheduled time it has not looked at yet)."""
    return record.considered_slot is not None and slot > record.considered_slot


class DecodedRecords:
    """The last record stored of the most recently busy sites, decoded, with the cells of its
    last release (`Evaluations`): a site's next batch finds them again when the table still holds
    exactly those bytes, and decodes the table's value otherwise (after a crash, a rebalance,
    another worker's write)."""

    def __init__(self, capacity: int = RECORD_CACHE_SITES) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[bytes, SiteRecord, Evaluations]] = OrderedDict()

    def get(self, site_id: str, stored: bytes | None) -> tuple[SiteRecord, Evaluations]:
        entry = self._entries.get(site_id)
        if entry is not None and entry[0] == stored:
            return entry[1], entry[2]
        record = decode_record(stored) if stored is not None else new_record(site_id)
        evaluations = Evaluations()
        self._entries[site_id] = (b"", record, evaluations)  # found again only once stored
        return record, evaluations

    def put(self, site_id: str, stored: bytes, record: SiteRecord) -> None:
        """After `stored` (the encoding of `record`) is saved; keeps the site's evaluations."""
        entry = self._entries.pop(site_id, None)
        evaluations = entry[2] if entry is not None else Evaluations()
        self._entries[site_id] = (stored, record, evaluations)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


@dataclass
class SiteStageSettings:
    min_cell_size: int
    as_of: Callable[[], datetime]
    now: Callable[[], datetime]  # read against the calendar: is a scheduled release due?
    calendar: ReleaseCalendar = field(default_factory=ReleaseCalendar)


class SiteDriver:
    def __init__(
        self,
        *,
        topics: SiteTopics,
        store: RecordStore,
        outbox: Outbox,
        instruments: Instruments,
        settings: SiteStageSettings,
        rewind: Rewind,
    ) -> None:
        self._topics = topics
        self._store = store
        self._outbox = outbox
        self._instruments = instruments
        self._settings = settings
        self._rewind = rewind
        self._tracker = InputTracker(store, compacted=[topics.site_changes])
        self._decoded = DecodedRecords()
        self.last_batch_at = time.monotonic()  # when a batch was last done (for the stall watchdog)
        self.activity = StageActivity()  # what the stall watchdog reads of this stage
        # Sites a scheduled time would release (k or more new events of a component, or never
        # released yet): their registry records, for the release clock to forward at the next
        # one (`timers.ReleaseClock`).
        # A site with an open wave is due at that wave's close (its closing release).
        self._due: dict[str, tuple[datetime | None, InputRecord]] = {}

    def sites_due(self, slot: datetime) -> list[InputRecord]:
        return [record for due_at, record in self._due.values() if due_at is None or due_at <= slot]

    def _open_windows(self) -> list[tuple[datetime, str]]:
        """(closes_at, wave) of the instruments' waves still open now: read once per batch."""
        now = self._settings.now()
        return [
            (window.closes_at, window.wave.value)
            for instrument in self._instruments.instruments.values()
            for window in instrument.waves
            if window.closes_at > now
        ]

    def _note_due(
        self, site_id: str, record: SiteRecord, open_windows: Sequence[tuple[datetime, str]]
    ) -> None:
        received = coverage_of(record.state, record.interventions)
        released = coverage_of(released_state(record), record.released_interventions)
        waiting = advancing(released, received, self._settings.min_cell_size)
        closes = [closes_at for closes_at, wave in open_windows if received.events.get(wave)]
        due_at = None if waiting or record.release_number == 0 else min(closes, default=None)
        if record.site is None or (due_at is None and not (waiting or record.release_number == 0)):
            self._due.pop(site_id, None)
            return
        self._due[site_id] = (
            due_at,
            InputRecord(
                "sites",
                0,
                record.site_version,
                site_id.encode(),
                site_to_proto(record.site).SerializeToString(),
                (),
            ),
        )

    async def process(self, records: Sequence[InputRecord]) -> list[SiteStep[InputRecord]]:
        with self.activity.batch(records), metrics.BATCH_SECONDS.labels("site").time():
            return await self._process(records)

    async def _process(self, records: Sequence[InputRecord]) -> list[SiteStep[InputRecord]]:
        admitted = self._tracker.admit(records)
        by_site: dict[tuple[int, str], list[SiteInput[InputRecord]]] = {}
        for record in admitted.records:
            if not record.key:
                await self._outbox.dead_letter(record, "the record has no key (a site id)")
                continue
            by_site.setdefault((record.partition, record.site_id), []).append(
                site_input(record, self._topics)
            )
        await self._refresh_instruments_if_needed(by_site.values())
        as_of = self._settings.as_of()
        calendar = self._settings.calendar.for_instruments(self._instruments.instruments.values())
        slot = calendar.slot(self._settings.now())
        # Sites without a scheduled time passed first: their steps cannot cut a release, so their
        # progress records (counts since a release the reader already has) and dead letters go
        # out at once, not after the releases of the others are chosen and audited.
        groups = [
            (site_id, inputs, *self._decoded.get(site_id, self._store.load(inputs[0].ref, site_id)))
            for (_, site_id), inputs in by_site.items()
        ]
        planned: list[Planned] = []
        headers: list[list[tuple[str, bytes]]] = []
        due = [group for group in groups if _due(group[2], slot)]
        for site_id, inputs, before, evaluations in [g for g in groups if not _due(g[2], slot)]:
            step = self._step(site_id, inputs, before, evaluations, as_of, slot)
            planned.append((inputs, site_id, before, step))
            headers.append(await self._publish(step, inputs, as_of))
        cutting: list[Planned] = []
        for site_id, inputs, before, evaluations in due:
            step = self._step(site_id, inputs, before, evaluations, as_of, slot)
            cutting.append((inputs, site_id, before, step))
        await self._declare_intent(cutting)
        headers += [await self._publish(step, inputs, as_of) for inputs, _, _, step in cutting]
        planned += cutting
        await self._outbox.flush()
        # Summaries only once the releases they come from are on Kafka: a cross-site release
        # never ranks a site whose total a reader cannot see yet.
        for (_, _, _, step), trace_headers in zip(planned, headers, strict=True):
            if step.summary is not None:
                await self._outbox.summary(step.summary, headers=trace_headers)
        await self._outbox.flush()  # everything is on Kafka: now the values may say so
        open_windows = self._open_windows()
        for inputs, site_id, _, step in planned:
            value = encode_record(step.record)
            self._store.save(inputs[0].ref, site_id, value)
            self._decoded.put(site_id, value, step.record)
            self._note_due(site_id, step.record, open_windows)
        await self._tracker.close_batch(admitted, self._rewind)
        self.last_batch_at = time.monotonic()
        done = [step for _, _, _, step in planned]
        site_batch_done(records, len(admitted.records), done)
        return done

    def _step(
        self,
        site_id: str,
        inputs: list[SiteInput[InputRecord]],
        before: SiteRecord,
        evaluations: Evaluations,
        as_of: datetime,
        slot: datetime,
    ) -> SiteStep[InputRecord]:
        step = site_step(
            before,
            inputs,
            self._instruments.instruments,
            as_of=as_of,
            slot=slot,
            min_cell_size=self._settings.min_cell_size,
            around=event_span,
            evaluations=evaluations,
        )
        if step.withheld:
            metrics.RELEASES_WITHHELD.labels("site").inc()
            log.error(
                "release_withheld",
                site_id=site_id,
                findings=[f"{f.kind}: {f.description}" for f in step.withheld[:5]],
            )
        return step

    async def _declare_intent(self, planned: list[Planned]) -> None:
        """Before a release is published, store what it covers (`SiteStep.intent`).

        If the process dies after publishing and before storing the new value, the batch is
        replayed, perhaps with more events; gated against the stored intent, the replay either
        publishes the same release again or a later one that is safe against it.
        """
        intents = [
            (inputs[0].ref, site_id, step.intent)
            for inputs, site_id, _, step in planned
            if step.intent
        ]
        for anchor, site_id, intent in intents:
            self._store.save(anchor, site_id, encode_record(intent))
        if intents:
            await self._store.flush()

    def resume_offsets(
        self, inputs: Iterable[InputPartition], *, default: int | None = None
    ) -> dict[InputPartition, int]:
        return self._tracker.resume_offsets(inputs, default=default)

    async def _refresh_instruments_if_needed(
        self, groups: Iterable[list[SiteInput[InputRecord]]]
    ) -> None:
        known = self._instruments.instruments
        for inputs in groups:
            for item in inputs:
                payload = getattr(item, "payload", None)
                if isinstance(payload, SurveyResponse) and (
                    (payload.instrument_id, payload.instrument_version) not in known
                ):
                    await (
                        self._instruments.refresh()
                    )  # registered a moment ago? read the registry to its end
                    return

    async def _publish(
        self, step: SiteStep[InputRecord], inputs: list[SiteInput[InputRecord]], as_of: datetime
    ) -> list[tuple[str, bytes]]:
        with publish_span(step, inputs):
            headers = inject_trace_headers()
            if step.release is not None:
                await self._outbox.release(step.release, headers=headers)
            if step.progress is not None:
                await self._outbox.progress(step.progress, headers=headers)
            for rejection in step.rejected:
                await self._outbox.dead_letter(rejection.ref, rejection.reason)
                log.warning(
                    "event_dead_lettered",
                    site_id=step.record.site_id,
                    reason=rejection.reason,
                    topic=rejection.ref.topic,
                    offset=rejection.ref.offset,
                )
        return headers
