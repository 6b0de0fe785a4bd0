"""Benchmark cells by hand, and the streaming path (incremental, serialised state) equal to batch."""

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from shared.domain.aggregates import (
    apply_intervention,
    apply_survey_response,
    empty_site_state,
    state_from_dict,
    state_to_dict,
)
from shared.domain.benchmark_set import BenchmarkSet, Measure, RankCell
from shared.domain.benchmarks import (
    benchmark_cells,
    compute_benchmarks,
    cross_site_cells,
    fold_site_states,
    site_cells,
)
from shared.domain.cells import ChangeCell, ChangeDirection, DisparityCell
from shared.domain.model import PREFER_NOT_TO_SAY, Composite, GroupDimension, Role, Wave
from shared.domain.statistics import proportion_difference
from shared.domain.suppression import publishable

from .factories import AS_OF, INSTRUMENT, interventions, response, responses, site

URIM = GroupDimension.URIM


def unsuppressed(sites, events):
    answers = [e for e in events if hasattr(e, "answers")]
    others = [e for e in events if not hasattr(e, "answers")]
    return benchmark_cells(
        fold_site_states(sites, [INSTRUMENT], answers, others), sites, as_of=AS_OF
    )


def composite(
    benchmarks, composite, dimension="all", group="all", wave=Wave.BASELINE, site_id="s1"
):
    return benchmarks.by_key()[f"composite/{site_id}/{wave}/{composite}/{dimension}/{group}"]


def test_composite_cell_by_hand():
    events = [
        response({"B1": 5, "B2": 4, "B3": 2, "S1": 3}),
        response({"B1": 2, "B3": 5}),
        response({"B1": 4, "B2": 3, "B3": 4, "S1": 5, "S2": 1}, role=Role.FACULTY),
    ]
    benchmarks = unsuppressed([site(resident=10, faculty=5)], events)
    belonging = composite(benchmarks, Composite.BELONGING)
    # Items' percent positive 2/3, 1/2, 1/3 (B3 reverse-worded): their average is 50%.
    assert (belonging.n, belonging.percent_positive) == (3, 50.0)
    scores = [13 / 3, 3 / 2, 3.0]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(scores), scale=stats.sem(scores))
    assert belonging.mean == float(Fraction(53, 18))
    assert (belonging.mean_low, belonging.mean_high) == pytest.approx((low, high), abs=1e-12)
    assert belonging.response_rate == 3 / 15
    # Safety: S1 1 of 2 positive, S2 1 of 1: the average 75%, not the pooled 2 of 3.
    assert composite(benchmarks, Composite.PSYCHOLOGICAL_SAFETY).percent_positive == 75.0
    assert composite(benchmarks, Composite.BELONGING, "role", "resident").response_rate == 2 / 10
    assert (
        composite(benchmarks, Composite.BELONGING, "department", "medicine").response_rate is None
    )


def group_answers(group, positive, total, **kwargs):
    """`total` respondents of `group` answering only S1, `positive` of them agreeing."""
    groups = {URIM: group} if group else {}
    return [
        response({"S1": 4 if i < positive else 2}, groups=groups, **kwargs) for i in range(total)
    ]


def test_disparity_against_the_reference_group():
    events = (
        group_answers("yes", 8, 20)
        + group_answers("no", 21, 30)
        + group_answers(PREFER_NOT_TO_SAY, 5, 5)
    )
    disparities = unsuppressed([site()], events).of_type(DisparityCell)
    assert [(d.dimension, d.group, d.reference_group) for d in disparities] == [
        ("urim", "yes", "no")
    ]
    gap = disparities[0]
    expected = proportion_difference(0.4, 20, 0.7, 30)
    assert (gap.n, gap.reference_n, gap.percent_positive, gap.reference_percent_positive) == (
        20,
        30,
        40.0,
        70.0,
    )
    assert gap.difference == pytest.approx(-30.0)
    assert (gap.difference_low, gap.difference_high) == pytest.approx(
        (expected.interval.low * 100, expected.interval.high * 100)
    )
    assert gap.significant and gap.difference_high < 0


@pytest.mark.parametrize(
    "before, after, direction",
    [
        (10, 24, ChangeDirection.IMPROVED),
        (15, 15, ChangeDirection.NO_CLEAR_CHANGE),
        (24, 10, ChangeDirection.DECLINED),
    ],
)
def test_change_between_waves(before, after, direction):
    events = group_answers(None, before, 30, wave=Wave.BASELINE) + group_answers(
        None, after, 30, wave=Wave.FOLLOW_UP
    )
    changes = [
        c for c in unsuppressed([site()], events).of_type(ChangeCell) if c.dimension == "all"
    ]
    assert len(changes) == 1
    change = changes[0]
    assert (change.from_wave, change.to_wave, change.direction) == (
        Wave.BASELINE,
        Wave.FOLLOW_UP,
        direction,
    )
    assert change.difference == pytest.approx((after - before) / 30 * 100)


def test_distribution_and_rank_over_eligible_sites():
    sizes_and_positives = {"a": (10, 2), "b": (12, 6), "c": (20, 15), "d": (10, 9), "e": (9, 9)}
    sites = [site(site_id) for site_id in sizes_and_positives]
    events = [
        event
        for site_id, (n, positive) in sizes_and_positives.items()
        for event in group_answers(None, positive, n, site_id=site_id)
    ]
    benchmarks = unsuppressed(sites, events)
    distribution = benchmarks.by_key()[
        "distribution/baseline/psychological_safety/percent_positive"
    ]
    scores = [20.0, 50.0, 75.0, 90.0]  # site e has 9 responses: not eligible, as in SOPS
    expected = np.percentile(scores, [10, 25, 50, 75, 90])
    assert distribution.sites == 4
    shown = [
        distribution.p10,
        distribution.p25,
        distribution.p50,
        distribution.p75,
        distribution.p90,
    ]
    assert shown == pytest.approx(expected)
    ranks = {
        r.site_id: r.percentile_rank
        for r in benchmarks.of_type(RankCell)
        if r.measure == Measure.PERCENT_POSITIVE and r.composite == Composite.PSYCHOLOGICAL_SAFETY
    }
    assert ranks == {"a": 0.25, "b": 0.5, "c": 0.75, "d": 1.0}


datasets = st.lists(responses(("s1", "s2")) | interventions(("s1", "s2")), max_size=120)


@settings(max_examples=25, deadline=None)
@given(datasets, st.randoms(use_true_random=False))
def test_streaming_reproduces_the_batch_reference_exactly(events, random):
    sites = [site("s1", resident=40, faculty=20, nurse=30), site("s2", resident=15)]
    batch = compute_benchmarks(
        sites,
        [INSTRUMENT],
        [e for e in events if hasattr(e, "answers")],
        [e for e in events if not hasattr(e, "answers")],
        min_cell_size=5,
        min_sites=2,
        as_of=AS_OF,
    )
    # The processor: events in arrival order, state kept as JSON in a table, cells re-emitted per update.
    arrival = list(events)
    random.shuffle(arrival)
    table = {s.site_id: json.dumps(state_to_dict(empty_site_state(s.site_id))) for s in sites}
    latest = {s.site_id: site_cells(empty_site_state(s.site_id), s, as_of=AS_OF) for s in sites}
    by_id = {s.site_id: s for s in sites}
    for event in arrival:
        state = state_from_dict(json.loads(table[event.site_id]))
        if hasattr(event, "answers"):
            state = apply_survey_response(state, event, INSTRUMENT)
        else:
            state = apply_intervention(state, event)
        table[event.site_id] = json.dumps(state_to_dict(state))
        latest[event.site_id] = site_cells(state, by_id[event.site_id], as_of=AS_OF)
    per_site = [cell for cells in latest.values() for cell in cells]
    streamed = publishable(
        BenchmarkSet.of(AS_OF, per_site + cross_site_cells(per_site, min_cell_size=5)),
        5,
        min_sites=2,
    )
    assert streamed == batch  # exact: same floats, same keys


def test_keys_are_stable_and_escape_slashes():
    benchmarks = unsuppressed([site("a/b")], [response({"B1": 4}, site_id="a/b")])
    assert "composite/a%2Fb/baseline/belonging/all/all" in benchmarks.keys()  # noqa: SIM118 - a BenchmarkSet, not a dict: keys() is its API
