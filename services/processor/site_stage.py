"""Stage one, pure: fold a batch of one site's inputs into its record and say what to publish.

The Faust agent translates Kafka records into `SiteInput`s, calls `site_step`, publishes what
the step says (cells, tombstones, the summary for stage two, dead letters), waits until Kafka
has all of it, and only then stores `step.record`. A crash in between replays the batch: the
events are found in `record.applied` (or not, if the record was not stored) and the same cells
are published again, so nothing is lost and nothing counted twice.

What is published is a function of the record and `as_of` only, computed by the same domain
functions as the batch reference: `site_cells`, then `hidden_site_keys`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, ContextManager, Generic, Iterable, Mapping, TypeVar

from shared.domain.aggregates import apply_intervention, apply_survey_response
from shared.domain.benchmark_set import Cell
from shared.domain.benchmarks import site_cells
from shared.domain.cells import key_of
from shared.domain.cross_site import site_scores
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse
from shared.domain.suppression import hidden_site_keys
from shared.domain.survey_state import TOTAL

from services.processor.site_record import SiteRecord
from services.processor.summary import ShownScore, SiteSummary

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


@dataclass(frozen=True)
class SiteStep(Generic[Ref]):
    record: SiteRecord  # store it once everything below is on Kafka
    cells: tuple[Cell, ...]  # every publishable cell of the site, sorted by key
    withdrawn: tuple[str, ...]  # keys published before and not publishable now: tombstone them
    summary: SiteSummary
    rejected: tuple[Rejection[Ref], ...]
    applied: int
    duplicates: int


def _apply(record: SiteRecord, event: SiteEvent, instruments: Mapping[InstrumentKey, Instrument]) -> SiteRecord:
    """The record with the event folded in; ValueError when the core refuses it."""
    payload = event.payload
    if isinstance(payload, SurveyResponse):
        instrument = instruments.get((payload.instrument_id, payload.instrument_version))
        if instrument is None:
            raise ValueError(f"unknown instrument {payload.instrument_id} version {payload.instrument_version}")
        state = apply_survey_response(record.state, payload, instrument)
    elif isinstance(payload, InterventionEvent):
        state = apply_intervention(record.state, payload)
    else:
        raise ValueError(f"not an event: {type(payload).__name__}")
    return replace(record, state=state, applied=record.applied | {event.event_id})


Outcome = str  # "applied", "duplicate", "site" or "rejected"


def fold_input(
    record: SiteRecord, item: SiteInput[Ref], instruments: Mapping[InstrumentKey, Instrument]
) -> tuple[SiteRecord, Outcome, Rejection[Ref] | None]:
    """Fold one event or registry change into the record."""
    if isinstance(item, SiteChange):
        if item.version >= record.site_version:
            record = replace(record, site=item.site, site_version=item.version)
        return record, "site", None
    if item.event_id and item.event_id in record.applied:
        return record, "duplicate", None
    try:
        if item.error is not None:
            raise ValueError(item.error)
        return _apply(record, item, instruments), "applied", None
    except ValueError as error:
        if item.event_id:  # a replay of a dead-lettered event is not dead-lettered again
            record = replace(record, applied=record.applied | {item.event_id})
        return record, "rejected", Rejection(item.ref, str(error))


def publication(
    record: SiteRecord, *, as_of: datetime, min_cell_size: int
) -> tuple[tuple[Cell, ...], tuple[str, ...], SiteSummary]:
    """The site's publishable cells, the keys to withdraw, and its summary for stage two."""
    if record.site is None:
        return (), tuple(sorted(record.published)), SiteSummary(record.site_id, as_of)
    cells = site_cells(record.state, record.site, as_of=as_of)
    hidden = hidden_site_keys(cells, min_cell_size)
    shown = tuple(cell for cell in cells if cell.key not in hidden)
    shown_keys = {cell.key for cell in shown}
    scores = tuple(
        ShownScore(score, key_of("composite", score.site_id, score.wave, score.composite, TOTAL, TOTAL) in shown_keys)
        for score in site_scores(cells)
    )
    return shown, tuple(sorted(record.published - shown_keys)), SiteSummary(record.site_id, as_of, scores)


def site_step(
    record: SiteRecord,
    inputs: Iterable[SiteInput[Ref]],
    instruments: Mapping[InstrumentKey, Instrument],
    *,
    as_of: datetime,
    min_cell_size: int,
    next_revision: Callable[[int], int] = lambda last: last + 1,
    around: Callable[[SiteInput[Ref]], ContextManager[Any]] = lambda item: nullcontext(),
) -> SiteStep[Ref]:
    """One batch of one site. Publishes again even when every event was a duplicate.

    `around(item)` wraps the folding of each input (the service opens a tracing span there,
    and records the outcome on it); its value is given `outcome` if it has such a method.
    """
    rejected: list[Rejection[Ref]] = []
    counts = {"applied": 0, "duplicate": 0}
    for item in inputs:
        with around(item) as scope:
            record, outcome, rejection = fold_input(record, item, instruments)
            if hasattr(scope, "outcome"):
                scope.outcome(outcome, rejection.reason if rejection else None)
        if rejection is not None:
            rejected.append(rejection)
        counts[outcome] = counts.get(outcome, 0) + 1
    cells, withdrawn, summary = publication(record, as_of=as_of, min_cell_size=min_cell_size)
    record = replace(record, published=frozenset(cell.key for cell in cells), revision=next_revision(record.revision))
    return SiteStep(record, cells, withdrawn, summary, tuple(rejected), counts["applied"], counts["duplicate"])
