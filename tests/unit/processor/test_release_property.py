"""Releases against a reader who keeps every one: the site stage's pure core, step by step.

Events arrive in random order and random batches, some twice, one at a time or all together;
"the process" crashes before or after a release reaches Kafka, and the batch is replayed from
the stored value (the intent, when one was stored). Every release ever published passes the
auditor; the last one equals the batch reference over the events it covers; what it holds back
the gate would still hold back; and a wave that arrives in one batch is released whole.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.processor.site_record import SiteRecord, new_record, released_state
from services.processor.site_stage import SiteChange, SiteEvent, coverage_of, site_step
from shared.domain.audit import audit
from shared.domain.benchmark_set import DistributionCell, RankCell
from shared.domain.model import InterventionEvent, Site, SurveyResponse
from shared.domain.release_gate import next_coverage
from shared.domain.releases import Release
from tests.support.published import Published, batch_reference, covered_by, latest_releases
from tests.unit.domain.factories import AS_OF, INSTRUMENT, interventions, responses, site

SITE = site("s1", resident=40, faculty=20, nurse=30)
INSTRUMENTS = {(INSTRUMENT.instrument_id, INSTRUMENT.version): INSTRUMENT}


@dataclass
class SiteStageRun:
    """One site's stage over a stream of batches; a crash loses what was not stored."""

    k: int
    record: SiteRecord = field(default_factory=lambda: new_record("s1"))
    published: list[Release] = field(default_factory=list)
    arrivals: list[SurveyResponse | InterventionEvent] = field(default_factory=list)
    clock: int = 0

    def step(
        self, batch: list[SurveyResponse | InterventionEvent | Site], crash: str | None
    ) -> None:
        self.clock += 1
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
            cut_at=AS_OF + timedelta(seconds=self.clock),
            min_cell_size=self.k,
        )
        if crash == "before_publishing":  # the intent is stored, the release never reaches Kafka
            self.record = step.intent or self.record
            return
        if step.release is not None:
            self.published.append(step.release)
        self.record = (step.intent or self.record) if crash == "after_publishing" else step.record


def run(events, draw: random.Random, k: int, *, crash_rate: float, max_batch: int) -> SiteStageRun:
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
    stage.step([], None)  # a last check, as the next batch (or a day's refresh) does
    return stage


def own_cells(benchmarks) -> dict:
    return {
        key: cell
        for key, cell in benchmarks.by_key().items()
        if not isinstance(cell, (DistributionCell, RankCell))
    }


def assert_held_back_only_as_the_gate_requires(record: SiteRecord, k: int) -> None:
    released = coverage_of(released_state(record), record.released_interventions)
    received = coverage_of(record.state, record.interventions)
    assert next_coverage(released, received, SITE, as_of=AS_OF, k=k) == released


site_events = st.lists(responses(("s1",)) | interventions(("s1",)), max_size=45)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site_events,
    st.randoms(use_true_random=False),
    st.sampled_from([3, 5, 10]),
    st.sampled_from([1, 4, 50]),
    st.sampled_from([0.0, 0.3]),
)
def test_every_release_ever_published_is_safe_and_the_last_equals_the_batch_reference(
    events, draw, k, max_batch, crash_rate
):
    stage = run(events, draw, k, crash_rate=crash_rate, max_batch=max_batch)
    assert audit(stage.published, k) == []
    last = latest_releases(Published("site/s1", release=r) for r in stage.published)["site/s1"]
    covered = covered_by({"site/s1": last}, stage.arrivals)
    expected = own_cells(
        batch_reference([SITE], [INSTRUMENT], covered, k=k, min_sites=1, as_of=AS_OF)
    )
    assert last.by_key() == expected
    assert_held_back_only_as_the_gate_requires(stage.record, k)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(site_events, st.sampled_from([3, 10]))
def test_a_wave_that_arrives_in_one_batch_is_released_whole(events, k):
    stage = SiteStageRun(k)
    stage.step([SITE, *events], None)
    release = stage.published[-1]
    assert release.held_back == {}
    expected = own_cells(
        batch_reference([SITE], [INSTRUMENT], events, k=k, min_sites=1, as_of=AS_OF)
    )
    assert release.by_key() == expected
