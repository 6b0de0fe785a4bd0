"""Stage one, pure: fold a batch of one site's inputs into its record and say what to publish.

The Faust agent translates Kafka records into `SiteInput`s, calls `site_step`, stores the
step's `intent` (the coverage of a release about to be cut), publishes what the step says (the
site's release, its progress, the summary for stage two, dead letters), waits until Kafka has
all of it, and only then stores `step.record`. A crash in between replays the batch: the events
are found in `record.applied` (or not, if the record was not stored) and the release is gated
against the stored intent, so nothing is lost, nothing counted twice, and no two different
releases carry the same number.

What a release shows is a function of what it covers and `as_of` only, computed by the same
domain functions as the batch reference (`site_cells`, `shown_site_cells`); what it covers is
the release gate's decision (`release_gate.next_release`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from shared.domain.aggregates import SiteFold, SiteState
from shared.domain.audit import Finding, new_release_findings
from shared.domain.benchmark_set import Cell
from shared.domain.cross_site import site_scores
from shared.domain.model import (
    Composite,
    Instrument,
    InterventionEvent,
    Site,
    SurveyResponse,
    Wave,
)
from shared.domain.pinned_scores import items_per_composite
from shared.domain.publication.release_gate import (
    Coverage,
    Evaluations,
    held_back,
    next_release,
    open_waves_at,
    responses_in,
)
from shared.domain.publication.site_record import SiteRecord, released_state
from shared.domain.publication.site_summary import SiteSummary
from shared.domain.published import published_form
from shared.domain.releases import INTERVENTIONS, Release, ReleaseProgress, site_scope

Ref = TypeVar("Ref")  # whatever the caller needs to find the input again (a Faust event)
InstrumentKey = tuple[str, int]


@dataclass(frozen=True)
class SiteChange(Generic[Ref]):
    """The registry's record of the site (None: removed), at `version` in the sites topic."""

    ref: Ref
    version: int
    site: Site | None


@dataclass(frozen=True)
class SiteEvent(Generic[Ref]):
    """An event for the site; `error` when it could not be read (it is dead-lettered)."""

    ref: Ref
    event_id: str
    payload: SurveyResponse | InterventionEvent | None
    error: str | None = None


SiteInput = SiteChange[Ref] | SiteEvent[Ref]


@dataclass(frozen=True)
class Rejection(Generic[Ref]):
    ref: Ref
    reason: str
    event_id: str = ""


@dataclass(frozen=True)
class SiteStep(Generic[Ref]):
    record: SiteRecord  # store it once everything below is on Kafka
    intent: SiteRecord | None  # store this first, before publishing: the release about to be cut
    release: Release | None  # a new release of the site, or None when nothing may change
    progress: ReleaseProgress | None  # new counts of events held back, or None when unchanged
    summary: SiteSummary | None  # the site's shown scores for stage two, with each release
    rejected: tuple[Rejection[Ref], ...]
    applied: int
    duplicates: int
    withheld: tuple[Finding, ...] = ()  # what the auditor found in a release it then kept back


Outcome = Literal["applied", "duplicate", "site", "rejected"]


class _BatchFold:
    """A site record that a batch of inputs is folded into in place, then frozen once (`record`)."""

    def __init__(self, record: SiteRecord, instruments: Mapping[InstrumentKey, Instrument]) -> None:
        self._record = record
        self._instruments = instruments
        self._state = SiteFold(record.state)
        self._applied = set(record.applied)
        self._interventions = record.interventions
        self._site, self._site_version = record.site, record.site_version

    def _apply(self, event: SiteEvent[Ref]) -> None:
        """Fold the event in; ValueError (and nothing changed) when the core refuses it."""
        payload = event.payload
        if isinstance(payload, SurveyResponse):
            instrument = self._instruments.get((payload.instrument_id, payload.instrument_version))
            if instrument is None:
                raise ValueError(
                    f"unknown instrument {payload.instrument_id} version {payload.instrument_version}"
                )
            self._state.add_response(payload, instrument)
        elif isinstance(payload, InterventionEvent):
            self._state.add_intervention(payload)
            self._interventions += 1
        else:
            raise ValueError(f"not an event: {type(payload).__name__}")

    def add(self, item: SiteInput[Ref]) -> tuple[Outcome, Rejection[Ref] | None]:
        """Fold one event or registry change in."""
        if isinstance(item, SiteChange):
            if item.version >= self._site_version:
                self._site, self._site_version = item.site, item.version
            return "site", None
        if item.event_id and item.event_id in self._applied:
            return "duplicate", None
        try:
            if item.error is not None:
                raise ValueError(item.error)
            self._apply(item)
        except ValueError as error:
            if item.event_id:  # a replay of a dead-lettered event is not dead-lettered again
                self._applied.add(item.event_id)
            return "rejected", Rejection(item.ref, str(error), item.event_id)
        self._applied.add(item.event_id)
        return "applied", None

    def record(self) -> SiteRecord:
        return replace(
            self._record,
            state=self._state.freeze(),
            applied=frozenset(self._applied),
            interventions=self._interventions,
            site=self._site,
            site_version=self._site_version,
        )


def fold_input(
    record: SiteRecord, item: SiteInput[Ref], instruments: Mapping[InstrumentKey, Instrument]
) -> tuple[SiteRecord, Outcome, Rejection[Ref] | None]:
    """Fold one event or registry change into the record."""
    fold = _BatchFold(record, instruments)
    outcome, rejection = fold.add(item)
    return fold.record(), outcome, rejection


def coverage_of(state: SiteState, interventions: int) -> Coverage:
    """The events a state holds, per wave and interventions."""
    events = {wave.value: responses_in(state, wave) for wave in Wave if responses_in(state, wave)}
    if interventions:
        events[INTERVENTIONS] = interventions
    return Coverage(state, events)


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def publication(
    record: SiteRecord,
    *,
    as_of: datetime,
    slot: datetime,
    min_cell_size: int,
    items: Mapping[Composite, int] | None = None,
    instruments: Sequence[Instrument] = (),
    evaluations: Evaluations | None = None,
) -> tuple[SiteRecord, Release | None, ReleaseProgress | None, SiteSummary | None, list[Finding]]:
    """The record after gating, the site's next release (if any), its progress and summary, and
    what the auditor found in a release it then withheld (normally nothing).

    A release is cut only at a scheduled time not looked at before (`slot`, from the calendar):
    the first time a site is seen it waits for the next one. `evaluations` may be kept from the
    site's last step: the cells of its last release's state are then not computed again.
    """
    received = coverage_of(record.state, record.interventions)
    scope = site_scope(record.site_id)
    due = record.considered_slot is not None and slot > record.considered_slot
    open_waves = open_waves_at(instruments, slot)
    open_before = open_waves_at(instruments, record.considered_slot or slot)
    if record.considered_slot is None or due:
        record = replace(record, considered_slot=slot)
    release = summary = None
    withheld: list[Finding] = []
    if due:
        last = coverage_of(released_state(record), record.released_interventions)
        number = record.release_number + 1
        covered = last  # a site removed from the registry: an empty release
        cells: tuple[Cell, ...] = ()
        if record.site is not None:
            covered, shown, _ = next_release(
                last,
                received,
                record.site,
                as_of=as_of,
                k=min_cell_size,
                earlier=record.history,
                scope=scope,
                number=number,
                items_per_composite=items,
                open_waves=open_waves,
                closed_since_last=bool(open_before - open_waves),
                evaluations=evaluations,
            )
            cells = tuple(shown)
        digest = _digest(as_of, cells, sorted(covered.events.items()))
        if digest != record.release_digest and (cells or record.release_number):
            closed = sorted(
                {window.wave for instrument in instruments for window in instrument.waves}
                - open_waves
            )
            candidate = Release(
                scope,
                number,
                slot,
                as_of,
                cells,
                dict(covered.events),
                held_back(covered, received),
                tuple(wave.value for wave in closed if covered.events.get(wave.value)),
            )
            withheld = new_release_findings(record.history, candidate, min_cell_size, items)
            if (
                not withheld
            ):  # fail closed: a release the auditor finds anything in stays unpublished
                release = candidate
                summary = SiteSummary(
                    record.site_id,
                    as_of,
                    tuple(site_scores(cells, min_cell_size=min_cell_size)),
                    tuple(Wave(wave) for wave in release.closed),
                )
                record = replace(
                    record,
                    released=covered.state,
                    released_interventions=covered.events.get(INTERVENTIONS, 0),
                    release_number=release.number,
                    release_cut_at=slot,
                    release_digest=digest,
                    history=(*record.history, published_form(release)),
                )
    if evaluations is not None:
        evaluations.keep_only(released_state(record))
    waiting = held_back(
        coverage_of(released_state(record), record.released_interventions), received
    )
    progress = None
    progress_digest = _digest(record.release_number, sorted(waiting.items()))
    if progress_digest != record.held_back_digest and (waiting or record.held_back_digest):
        progress = ReleaseProgress(scope, record.release_number, waiting)
        record = replace(record, held_back_digest=progress_digest)
    return record, release, progress, summary, withheld


def site_step(
    record: SiteRecord,
    inputs: Iterable[SiteInput[Ref]],
    instruments: Mapping[InstrumentKey, Instrument],
    *,
    as_of: datetime,
    slot: datetime,
    min_cell_size: int,
    around: Callable[[SiteInput[Ref]], AbstractContextManager[Any]] = lambda item: nullcontext(),
    evaluations: Evaluations | None = None,
) -> SiteStep[Ref]:
    """One batch of one site. Publishes again even when every event was a duplicate.

    `around(item)` wraps the folding of each input (the service opens a tracing span there,
    and records the outcome on it); its value is given `outcome` if it has such a method.
    """
    before = record
    rejected: list[Rejection[Ref]] = []
    counts: dict[Outcome, int] = {"applied": 0, "duplicate": 0}
    fold = _BatchFold(record, instruments)
    for item in inputs:
        with around(item) as scope:
            outcome, rejection = fold.add(item)
            if hasattr(scope, "outcome"):
                scope.outcome(outcome, rejection.reason if rejection else None)
        if rejection is not None:
            rejected.append(rejection)
        counts[outcome] = counts.get(outcome, 0) + 1
    folded = fold.record()
    record, release, progress, summary, withheld = publication(
        folded,
        as_of=as_of,
        slot=slot,
        min_cell_size=min_cell_size,
        items=items_per_composite(instruments.values()),
        instruments=list(instruments.values()),
        evaluations=evaluations,
    )
    intent = None
    if release is not None:
        # The record is stored before the release is published, so that a replay of this
        # batch is gated against what this release covers, never against the release before
        # (which may be all a reader has seen). Its digests stay those of the last release, so
        # a replay publishes again, under the next number: one number never names two different
        # releases. Dead-lettered events stay out of `applied`, so a replay dead-letters them again.
        intent = replace(
            record,
            applied=record.applied - {r.event_id for r in rejected},
            release_digest=before.release_digest,
            held_back_digest=before.held_back_digest,
            # A replay looks at this scheduled time again, so it publishes again (under the next
            # number), chosen safe with this release too: a reader may already hold it.
            considered_slot=before.considered_slot,
        )
    return SiteStep(
        record,
        intent,
        release,
        progress,
        summary,
        tuple(rejected),
        counts["applied"],
        counts["duplicate"],
        tuple(withheld),
    )
