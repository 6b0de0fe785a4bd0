"""Small-cell suppression: primary, complementary (residual included), and derived cells."""

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.benchmark_set import BenchmarkSet, DistributionCell, RankCell, ReachCell
from shared.domain.benchmarks import benchmark_cells, fold_site_states
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.model import PREFER_NOT_TO_SAY, Department, GroupDimension, Role, Wave
from shared.domain.suppression import hidden_in_partition, publishable, publishable_keys

from .factories import AS_OF, INSTRUMENT, response, responses, site

BREAKDOWN = (CompositeCell, ResponseCell, ExperienceCell)
DERIVED = (DisparityCell, ChangeCell, RankCell)


@pytest.mark.parametrize(
    "total, cells, hidden",
    [
        (60, {"a": 20, "b": 25, "c": 15}, set()),  # nothing small, nothing left over
        (60, {"a": 4, "b": 25, "c": 31}, {"a", "b"}),  # one small cell needs a companion
        (
            45,
            {"a": 2, "b": 3, "c": 12, "d": 28},
            {"a", "b", "c"},
        ),  # two small cells of 5 people are not enough
        (
            48,
            {"a": 20, "b": 25},
            {"a"},
        ),  # 3 people preferred not to say: hide the smallest shown cell
        (60, {"a": 4, "b": 25, "c": 19}, {"a"}),  # 12 left over: the residual is the companion
        (60, {"a": 30, "b": 18}, set()),  # 12 left over, hidden alone: at least k, not a small cell
        (34, {"b": 15, "a": 15, "c": 4}, {"c", "a"}),  # equally small companions: the first by key
    ],
)
def test_hidden_in_partition(total, cells, hidden):
    assert hidden_in_partition(total, cells, 10) == hidden


def survey_benchmarks(events, sites=None):
    sites = sites or [site("s1", resident=60)]
    return benchmark_cells(fold_site_states(sites, [INSTRUMENT], events, []), sites, as_of=AS_OF)


def test_a_small_group_hides_its_companion_and_every_cell_derived_from_them():
    urim = GroupDimension.URIM
    events = (
        [response({"S1": 4}, groups={urim: "yes"}) for _ in range(4)]
        + [response({"S1": 2}, groups={urim: "no"}) for _ in range(30)]
        + [response({"S1": 5}) for _ in range(15)]  # no URiM answer: the residual, 15 people
    )
    shown = publishable_keys(survey_benchmarks(events), 10)
    assert "composite/s1/baseline/psychological_safety/urim/yes" not in shown
    assert (
        "composite/s1/baseline/psychological_safety/urim/no" in shown
    )  # the residual (15) is the companion
    assert not any(key.startswith("disparity/") for key in shown)


def test_a_total_below_k_hides_its_whole_family():
    benchmarks = survey_benchmarks([response({"B1": 4}) for _ in range(9)])
    shown = publishable_keys(benchmarks, 10)
    assert not any(key.startswith(("composite/", "response/", "experience/")) for key in shown)
    assert publishable_keys(benchmarks, 9) >= {"composite/s1/baseline/belonging/all/all"}


def test_distributions_need_enough_sites_and_ranks_follow_them():
    sites = [site(f"s{i}") for i in range(4)]
    events = [response({"B1": 4}, site_id=s.site_id) for s in sites for _ in range(10)]
    benchmarks = survey_benchmarks(events, sites)
    assert not any(
        isinstance(c, (DistributionCell, RankCell)) for c in publishable(benchmarks, 10).cells
    )
    assert len(publishable(benchmarks, 10, min_sites=4).of_type(RankCell)) == 8


def test_reach_values_about_people_need_k_people():
    people = ReachCell("s1", "m", ("x",), 0.5, 9, describes_people=True)
    count = ReachCell("s1", "c", (), 3.0, 3, describes_people=False)
    assert publishable_keys(BenchmarkSet.of(AS_OF, [people, count]), 10) == {count.key}


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        publishable_keys(survey_benchmarks([]), 0)


site_events = st.lists(responses(), max_size=70)


@settings(max_examples=60, deadline=None)
@given(site_events, st.integers(2, 12))
def test_no_small_cell_is_shown_or_recoverable(events, k):
    everything = survey_benchmarks(events)
    shown = publishable(everything, k)
    shown_keys = shown.keys()
    assert shown_keys == publishable_keys(everything, k) <= everything.keys()
    assert all(cell in everything.cells for cell in shown.cells)  # values untouched
    for cell in shown.cells:
        if isinstance(cell, BREAKDOWN):
            assert cell.n >= k
        if isinstance(cell, ReachCell) and cell.describes_people:
            assert cell.n >= k
        if isinstance(cell, DERIVED):
            assert set(cell.depends_on) <= shown_keys

    families = defaultdict(list)
    for cell in everything.cells:
        if isinstance(cell, BREAKDOWN):
            families[cell.family].append(cell)
    for members in families.values():
        total = next(cell for cell in members if cell.dimension == "all")
        if total.key not in shown_keys:
            assert not any(cell.key in shown_keys for cell in members)
            continue
        by_dimension = defaultdict(list)
        for cell in members:
            if cell.dimension != "all":
                by_dimension[cell.dimension].append(cell)
        for cells in by_dimension.values():
            residual = total.n - sum(cell.n for cell in cells)
            hidden_parts = [cell.n for cell in cells if cell.key not in shown_keys] + (
                [residual] if residual else []
            )
            uncovered = total.n - sum(cell.n for cell in cells if cell.key in shown_keys)
            assert uncovered == sum(hidden_parts)
            if uncovered:
                # What subtraction reveals covers at least k people, and one part alone is never small.
                assert uncovered >= k
                assert len(hidden_parts) >= 2 or hidden_parts[0] >= k


def test_residual_of_prefer_not_to_say_is_protected():
    urim = GroupDimension.URIM
    events = (
        [response({"B1": 4}, groups={urim: "yes"}) for _ in range(12)]
        + [response({"B1": 4}, groups={urim: "no"}) for _ in range(20)]
        + [response({"B1": 1}, groups={urim: PREFER_NOT_TO_SAY}, role=Role.NURSE) for _ in range(2)]
    )
    shown = publishable_keys(survey_benchmarks(events), 10)
    # Two people preferred not to say: showing both groups would give their answers away.
    assert "composite/s1/baseline/belonging/urim/yes" not in shown
    assert "composite/s1/baseline/belonging/urim/no" in shown
    assert f"composite/s1/{Wave.BASELINE}/belonging/all/all" in shown


def test_an_unanswered_department_enters_the_departments_residual():
    events = (
        [response({"B1": 4}, department=Department.MEDICINE) for _ in range(15)]
        + [response({"B1": 4}, department=Department.SURGERY) for _ in range(12)]
        + [response({"B1": 1}, department=None) for _ in range(3)]
    )
    benchmarks = survey_benchmarks(events)
    total = next(c for c in benchmarks.of_type(CompositeCell) if c.dimension == "all")
    departments = {
        c.group: c.n for c in benchmarks.of_type(CompositeCell) if c.dimension == "department"
    }
    assert total.n == 30 and departments == {
        "medicine": 15,
        "surgery": 12,
    }  # three in no department cell
    shown = publishable_keys(benchmarks, 10)
    # Three people did not say: showing both departments would give their answers away.
    assert "composite/s1/baseline/belonging/department/surgery" not in shown
    assert "composite/s1/baseline/belonging/department/medicine" in shown
