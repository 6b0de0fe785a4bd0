"""Releases on a calendar against a reader who keeps every one: the site stage's core, step by step.

Events arrive in random order and random batches, some twice; scheduled release times pass
between batches at random intervals; "the process" crashes before or after a release reaches
Kafka, and the batch is replayed from the stored value (the intent, when one was stored). Every
release ever published passes the exact auditor; each covers every event received when it was
cut but at most k-1 per wave (and of the interventions); each shows exactly the batch
reference's values, over the events it covers, on the cells it shows; and a wave that arrives
whole before a scheduled time is released whole at it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.audit import audit
from shared.domain.benchmark_set import BenchmarkSet, DistributionCell, RankCell
from shared.domain.benchmarks import benchmark_cells, fold_site_states
from shared.domain.model import InterventionEvent, Site, SurveyResponse
from shared.domain.pinned_scores import items_per_composite
from shared.domain.publication.site_record import SiteRecord, new_record
from shared.domain.publication.site_step import SiteChange, SiteEvent, coverage_of, site_step
from shared.domain.releases import Release
from tests.support.published import batch_reference, covered_by
from tests.unit.domain.factories import AS_OF, INSTRUMENT, interventions, responses, site

SITE = site("s1", resident=40, faculty=20, nurse=30)
ITEMS = items_per_composite([INSTRUMENT])  # the reader knows the instrument: its scores' grid
INSTRUMENTS = {(INSTRUMENT.instrument_id, INSTRUMENT.version): INSTRUMENT}


@dataclass
class SiteStageRun:
    """One site's stage over a stream of batches; a crash loses what was not stored."""

    k: int
    record: SiteRecord = field(default_factory=lambda: new_record("s1"))
    published: list[Release] = field(default_factory=list)
    arrivals: list[SurveyResponse | InterventionEvent] = field(default_factory=list)
    slot: int = 0  # scheduled release times passed so far
    received_at_cut: list[dict[str, int]] = field(default_factory=list)

    def tick(self) -> None:
        self.slot += 1

    def step(
        self, batch: list[SurveyResponse | InterventionEvent | Site], crash: str | None
    ) -> None:
        inputs = [
            SiteChange(None, 0, item)
            if isinstance(item, Site)
            else SiteEvent(None, item.event_id, item)
            for item in batch
        ]
        step = site_step(
            self.record,
            inputs,
            INSTRUMENTS,
            as_of=AS_OF,
            slot=AS_OF + timedelta(hours=self.slot),
            min_cell_size=self.k,
        )
        if crash == "before_publishing":  # the intent is stored, the release never reaches Kafka
            self.record = step.intent or self.record
            return
        assert step.withheld == ()
        if step.release is not None:
            self.published.append(step.release)
            self.received_at_cut.append(
                dict(coverage_of(step.record.state, step.record.interventions).events)
            )
        self.record = (step.intent or self.record) if crash == "after_publishing" else step.record


def run(
    events,
    draw: random.Random,
    k: int,
    *,
    crash_rate: float,
    max_batch: int,
    tick_rate: float = 0.5,
) -> SiteStageRun:
    stage = SiteStageRun(k)
    pending: list = [SITE, *events, *(e for e in events if draw.random() < 0.1)]  # some sent twice
    stage.arrivals = [e for e in pending if not isinstance(e, Site)]
    while pending:
        size = draw.randint(1, max_batch)
        batch, rest = pending[:size], pending[size:]
        crash = (
            draw.choice(["before_publishing", "after_publishing"])
            if draw.random() < crash_rate
            else None
        )
        stage.step(batch, crash)
        pending = rest if crash is None else batch + rest  # a crash replays the batch
        if draw.random() < tick_rate:
            stage.tick()
    stage.tick()
    stage.step([], None)  # the next scheduled time, with nothing new (the leader's refresh)
    return stage


def unsuppressed_cells(events) -> BenchmarkSet:
    """Every cell of the batch core over `events`, none hidden (even k=1 hides groups of one that
    a difference pins, so a suppressed reference would miss cells a k=3 release rightly shows)."""
    states = fold_site_states(
        [SITE],
        [INSTRUMENT],
        [e for e in events if isinstance(e, SurveyResponse)],
        [e for e in events if isinstance(e, InterventionEvent)],
    )
    return benchmark_cells(states, [SITE], as_of=AS_OF)


def own_cells(benchmarks) -> dict:
    return {
        key: cell
        for key, cell in benchmarks.by_key().items()
        if not isinstance(cell, (DistributionCell, RankCell))
    }


def assert_each_release_covers_all_but_fewer_than_k(stage: SiteStageRun, k: int) -> None:
    for release, received in zip(stage.published, stage.received_at_cut, strict=True):
        for component, count in received.items():
            assert 0 <= count - release.covered.get(component, 0) < k
        assert all(waiting < k for waiting in release.held_back.values())


def assert_each_release_shows_the_reference_values(stage: SiteStageRun, k: int) -> None:
    for release in stage.published:
        covered = covered_by({"site/s1": release}, stage.arrivals)
        reference = own_cells(unsuppressed_cells(covered))
        shown = release.by_key()
        assert {key: reference.get(key) for key in shown} == shown


site_events = st.lists(responses(("s1",)) | interventions(("s1",)), max_size=45)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site_events,
    st.randoms(use_true_random=False),
    st.sampled_from([3, 5, 10]),
    st.sampled_from([1, 4, 50]),
    st.sampled_from([0.0, 0.3]),
    st.sampled_from([0.1, 0.5, 1.0]),
)
def test_every_release_ever_published_is_safe_covers_all_but_k_and_shows_reference_values(
    events, draw, k, max_batch, crash_rate, tick_rate
):
    stage = run(events, draw, k, crash_rate=crash_rate, max_batch=max_batch, tick_rate=tick_rate)
    assert audit(stage.published, k, items_per_composite=ITEMS) == []
    assert_each_release_covers_all_but_fewer_than_k(stage, k)
    assert_each_release_shows_the_reference_values(stage, k)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(site_events, st.sampled_from([3, 10]))
def test_a_wave_that_arrives_whole_before_a_scheduled_time_is_released_whole_at_it(events, k):
    stage = SiteStageRun(k)
    stage.step([SITE, *events], None)
    stage.tick()
    stage.step([], None)
    if not stage.published:
        assert all(
            count < k
            for count in coverage_of(stage.record.state, stage.record.interventions).events.values()
        )
        return
    release = stage.published[-1]
    assert all(waiting < k for waiting in release.held_back.values())
    expected = own_cells(
        batch_reference([SITE], [INSTRUMENT], events, k=k, min_sites=1, as_of=AS_OF)
    )
    if not release.held_back:
        assert release.by_key() == expected
