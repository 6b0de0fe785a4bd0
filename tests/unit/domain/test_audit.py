"""The auditor's checks one by one, on small hand-made releases: a finding, and a safe sequence."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.audit import AttackKind, Finding, audit
from shared.domain.benchmark_set import Cell, DistributionCell, Measure, RankCell, ReachCell
from shared.domain.benchmarks import fold_site_states
from shared.domain.cells import CompositeCell, DisparityCell, Experience, ExperienceCell
from shared.domain.model import Composite, Role, SurveyResponse, Wave
from shared.domain.reader_counts import Counts
from shared.domain.reader_counts import counts_of as _counts_of
from shared.domain.releases import Release, cross_site_scope, site_scope
from shared.domain.statistics import mean_with_interval

from .factories import AS_OF, INSTRUMENT, T0, response, responses, site
from .old_publication import old_rule_releases

K = 10
BELONGING = Composite.BELONGING
TOTAL_KEY = "composite/s1/baseline/belonging/all/all"
RESIDENTS_KEY = "composite/s1/baseline/belonging/role/resident"


def composite(
    dimension: str, group: str, scores: list[int], *, site_id: str = "s1"
) -> CompositeCell:
    estimate = mean_with_interval(
        len(scores), Fraction(sum(scores)), Fraction(sum(score * score for score in scores))
    )
    low, high = (
        (estimate.interval.low, estimate.interval.high) if estimate.interval else (None, None)
    )
    return CompositeCell(
        site_id,
        Wave.BASELINE,
        BELONGING,
        dimension,
        group,
        len(scores),
        estimate.mean,
        low,
        high,
        percent_positive=50.0,
        response_rate=None,
    )


def experience(dimension: str, group: str, n: int, yes: int) -> ExperienceCell:
    percent = float(Fraction(yes, n)) * 100.0
    return ExperienceCell(
        "s1", Wave.BASELINE, Experience.EXPERIENCED, dimension, group, n, percent, 0.0, 100.0
    )


def completion(topic: str, invited: int, completed: int) -> ReachCell:
    return ReachCell(
        "s1",
        "training_completion_rate",
        (topic,),
        completed / invited,
        invited,
        describes_people=True,
    )


def release(
    number: int, *cells: Cell, scope: str = site_scope("s1"), minute: int | None = None
) -> Release:
    cut_at = T0 + timedelta(minutes=number if minute is None else minute)
    return Release(scope, number, cut_at, AS_OF, tuple(sorted(cells, key=lambda cell: cell.key)))


def of_kind(
    findings: list[Finding], kind: AttackKind
) -> list[tuple[tuple[str, ...], tuple[int, ...], int]]:
    return [(f.keys, f.releases, f.size) for f in findings if f.kind == kind]


def mixed(n: int) -> list[int]:
    return [1 + i % 5 for i in range(n)]


# --- shown cells -------------------------------------------------------------------------


def test_a_shown_cell_about_too_few_people_is_a_small_cell():
    findings = audit([release(1, composite("all", "all", mixed(4)))], K)
    assert of_kind(findings, AttackKind.SMALL_CELL) == [((TOTAL_KEY,), (1,), 4)]
    assert audit([release(1, composite("all", "all", mixed(10)))], K) == []


def test_a_shown_experience_cell_with_one_yes_breaks_the_numerator_rule():
    findings = audit([release(1, experience("all", "all", 12, 1))], K)
    assert [(f.kind, f.size) for f in findings] == [(AttackKind.NUMERATOR, 1)]
    assert of_kind(
        audit([release(1, experience("all", "all", 12, 5))], K), AttackKind.NUMERATOR
    ) == [
        (
            ("experience/s1/baseline/experienced_discrimination/all/all",),
            (1,),
            5,
        )  # with 7 no: 5 is 1..k-1 too
    ]
    assert audit([release(1, experience("all", "all", 25, 12))], K) == []


def test_a_disparity_shown_beside_a_hidden_cell():
    disparity = DisparityCell(
        "s1",
        Wave.BASELINE,
        BELONGING,
        "urim",
        "yes",
        "no",
        12,
        30,
        40.0,
        50.0,
        -10.0,
        -30.0,
        10.0,
        False,
    )
    yes, no = composite("urim", "yes", mixed(12)), composite("urim", "no", mixed(30))
    total = composite("all", "all", mixed(60))
    findings = audit([release(1, total, no, disparity)], K)
    assert of_kind(findings, AttackKind.SHOWN_FROM_HIDDEN_CELL) == [
        ((disparity.key, yes.key), (1,), 12)
    ]
    assert (
        of_kind(
            audit([release(1, total, yes, no, disparity)], K), AttackKind.SHOWN_FROM_HIDDEN_CELL
        )
        == []
    )


# --- versions of one cell ----------------------------------------------------------------


def test_any_two_versions_of_a_cell_not_only_consecutive_ones():
    # Shown at 20, hidden in release 2, shown again at 25: releases 1 and 3 give five people.
    sequence = [
        release(1, composite("all", "all", mixed(20))),
        release(2),
        release(3, composite("all", "all", mixed(25))),
    ]
    assert of_kind(audit(sequence, K), AttackKind.VERSION_DIFFERENCE) == [((TOTAL_KEY,), (1, 3), 5)]


def test_versions_ten_apart_are_safe_and_the_small_step_is_found():
    sequence = [
        release(n, composite("all", "all", mixed(size))) for n, size in enumerate((20, 30, 40), 1)
    ]
    assert audit(sequence, K) == []
    sequence.append(release(4, composite("all", "all", mixed(42))))
    assert of_kind(audit(sequence, K), AttackKind.VERSION_DIFFERENCE) == [((TOTAL_KEY,), (3, 4), 2)]


def test_a_version_difference_of_a_reach_cell_about_people():
    sequence = [release(1, completion("all", 30, 20)), release(2, completion("all", 33, 21))]
    found = of_kind(audit(sequence, K), AttackKind.VERSION_DIFFERENCE)
    assert found == [(("reach/s1/training_completion_rate/all",), (1, 2), 3)]
    assert (
        audit([release(1, completion("all", 30, 20)), release(2, completion("all", 40, 25))], K)
        == []
    )


def test_the_yes_count_of_the_newcomers_between_two_versions():
    sequence = [
        release(1, experience("all", "all", 20, 10)),
        release(2, experience("all", "all", 35, 11)),
    ]
    assert [(f.kind, f.releases, f.size) for f in audit(sequence, K)] == [
        (AttackKind.NUMERATOR, (1, 2), 1)
    ]
    safe = [
        release(1, experience("all", "all", 20, 10)),
        release(2, experience("all", "all", 40, 20)),
    ]
    assert audit(safe, K) == []


# --- partitions within one release ------------------------------------------------------


def test_total_minus_the_shown_cells_of_a_dimension():
    findings = audit(
        [release(1, composite("all", "all", mixed(30)), composite("role", "resident", mixed(25)))],
        K,
    )
    assert of_kind(findings, AttackKind.PARTITION_COMPLEMENT) == [
        ((TOTAL_KEY, RESIDENTS_KEY), (1,), 5)
    ]
    safe = [
        release(1, composite("all", "all", mixed(40)), composite("role", "resident", mixed(25)))
    ]
    assert audit(safe, K) == []


def test_the_yes_count_of_a_remainder():
    findings = audit(
        [release(1, experience("all", "all", 40, 13), experience("role", "resident", 25, 12))], K
    )
    assert [(f.kind, f.size) for f in findings] == [(AttackKind.NUMERATOR, 1)]
    assert (
        audit(
            [release(1, experience("all", "all", 45, 22), experience("role", "resident", 25, 12))],
            K,
        )
        == []
    )


def test_a_hidden_remainder_that_all_answered_yes():
    findings = audit(
        [release(1, experience("all", "all", 40, 27), experience("role", "resident", 25, 12))], K
    )
    assert [(f.kind, f.size) for f in findings] == [(AttackKind.HOMOGENEOUS_HIDDEN_GROUP, 15)]


def test_a_shown_total_that_all_answered_yes_while_a_part_is_hidden():
    findings = audit(
        [release(1, experience("all", "all", 30, 30), experience("role", "resident", 20, 20))], K
    )
    assert [(f.kind, f.size) for f in findings] == [(AttackKind.HOMOGENEOUS_HIDDEN_GROUP, 10)]


def test_a_hidden_remainder_whose_scores_have_no_spread():
    residents = mixed(25)
    homogeneous = [
        release(
            1,
            composite("all", "all", residents + [5] * 12),
            composite("role", "resident", residents),
        )
    ]
    found = of_kind(audit(homogeneous, K), AttackKind.HOMOGENEOUS_HIDDEN_GROUP)
    assert found == [((TOTAL_KEY, RESIDENTS_KEY), (1,), 12)]
    spread = [
        release(
            1,
            composite("all", "all", residents + [5] * 6 + [4] * 6),
            composite("role", "resident", residents),
        )
    ]
    assert audit(spread, K) == []


def test_reach_all_topics_minus_the_shown_topics():
    cells = (
        completion("all", 50, 34),
        completion("health_equity", 30, 20),
        completion("implicit_bias", 15, 10),
    )
    keys = tuple(sorted(cell.key for cell in cells))
    assert of_kind(audit([release(1, *cells)], K), AttackKind.REACH_COMPLEMENT) == [(keys, (1,), 5)]
    safe = (  # every count of people, and what the shown topics leave, is 0 or at least k
        completion("all", 70, 40),
        completion("health_equity", 30, 20),
        completion("implicit_bias", 20, 10),
    )
    assert audit([release(1, *safe)], K) == []


# --- partitions across releases ----------------------------------------------------------


def _total_and_residents(number: int, total: int, residents: int) -> Release:
    return release(
        number,
        composite("all", "all", mixed(total)),
        composite("role", "resident", mixed(residents)),
    )


def test_the_newcomers_outside_the_cells_shown_in_both_releases():
    sequence = [_total_and_residents(1, 40, 20), _total_and_residents(2, 52, 30)]
    found = of_kind(audit(sequence, K), AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES)
    assert found == [((TOTAL_KEY, RESIDENTS_KEY), (1, 2), 2)]
    assert audit([_total_and_residents(1, 40, 20), _total_and_residents(2, 60, 30)], K) == []


def test_the_newcomers_between_releases_that_are_not_neighbours():
    sequence = [
        _total_and_residents(1, 40, 20),
        _total_and_residents(2, 50, 20),
        _total_and_residents(3, 72, 40),
    ]
    found = of_kind(audit(sequence, K), AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES)
    assert found == [
        ((TOTAL_KEY, RESIDENTS_KEY), (2, 3), 2)
    ]  # 1 -> 3 gives 12, 1 -> 2 gives 10: safe


def test_a_withdrawn_cell_s_last_value_isolates_the_newcomer():
    no = "composite/s1/baseline/belonging/urim/no"
    before = release(
        1,
        composite("all", "all", mixed(50)),
        composite("urim", "yes", mixed(20)),
        composite("urim", "no", mixed(30)),
    )
    after = release(2, composite("all", "all", mixed(51)), composite("urim", "no", mixed(30)))
    findings = audit([before, after], K)
    assert of_kind(findings, AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES) == [
        ((TOTAL_KEY, no), (1, 2), 1)
    ]
    later = release(2, composite("all", "all", mixed(62)), composite("urim", "no", mixed(30)))
    assert audit([before, later], K) == []


def test_a_cell_newly_shown_after_one_newcomer_reveals_what_it_held_while_hidden():
    nurses = "composite/s1/baseline/belonging/role/nurse"
    before = _total_and_residents(1, 44, 20)
    after = release(
        2,
        composite("all", "all", mixed(45)),
        composite("role", "resident", mixed(20)),
        composite("role", "faculty", mixed(15)),
        composite("role", "nurse", mixed(10)),
    )
    findings = audit([before, after], K)
    # Without knowing the newcomer: the newcomer alone (total growth minus the residents').
    assert of_kind(findings, AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES) == [
        ((TOTAL_KEY, RESIDENTS_KEY), (1, 2), 1)
    ]
    assert not [f for f in findings if nurses in f.keys and f.size == 9]
    # Told that the newcomer was a nurse (their own submission): the nine nurses of release 1.
    newcomer = composite("role", "nurse", [1])
    known = {
        site_scope("s1"): {
            2: {TOTAL_KEY: counts_of_cell(newcomer), nurses: counts_of_cell(newcomer)}
        }
    }
    told = audit([before, after], K, known_newcomers=known)
    assert (AttackKind.SMALL_CELL, (nurses,), 9) in {(f.kind, f.keys, f.size) for f in told}


# --- cross-site ------------------------------------------------------------------------


def _site_release(site_id: str, number: int, minute: int, *, total_shown: bool) -> Release:
    cells = [composite("all", "all", mixed(12), site_id=site_id)] if total_shown else []
    return release(number, *cells, scope=site_scope(site_id), minute=minute)


def _distribution(sites: int) -> DistributionCell:
    return DistributionCell(Wave.BASELINE, BELONGING, Measure.MEAN, sites, 2.0, 2.5, 3.0, 3.5, 4.0)


def test_a_distribution_counting_a_site_whose_total_is_hidden_at_the_time():
    sites = [
        _site_release("s1", 1, 0, total_shown=True),
        _site_release("s2", 1, 0, total_shown=True),
        _site_release("s3", 1, 0, total_shown=False),
        _site_release("s3", 2, 9, total_shown=True),
    ]
    cross = release(1, _distribution(3), scope=cross_site_scope(Wave.BASELINE), minute=5)
    findings = audit([cross, *sites], K)  # s3's total is shown only after the distribution was cut
    assert of_kind(findings, AttackKind.HIDDEN_SITE_IN_DISTRIBUTION) == [
        ((_distribution(3).key,), (1,), 1)
    ]
    on_time = release(1, _distribution(3), scope=cross_site_scope(Wave.BASELINE), minute=9)
    assert audit([on_time, *sites], K) == []


def test_a_rank_of_a_site_whose_total_is_hidden():
    rank = RankCell("s3", Wave.BASELINE, BELONGING, Measure.MEAN, 3.1, 0.5, 2)
    cross = release(1, _distribution(2), rank, scope=cross_site_scope(Wave.BASELINE), minute=5)
    sites = [
        _site_release("s1", 1, 0, total_shown=True),
        _site_release("s3", 1, 0, total_shown=False),
    ]
    total = "composite/s3/baseline/belonging/all/all"
    assert of_kind(audit([cross, *sites], K), AttackKind.HIDDEN_SITE_IN_DISTRIBUTION) == [
        ((total, rank.key), (1,), 1),
        ((_distribution(2).key,), (1,), 1),  # it counts s3 too
    ]


def test_a_distribution_over_too_few_sites():
    sites = [_site_release(f"s{i}", 1, 0, total_shown=True) for i in range(3)]
    cross = release(1, _distribution(3), scope=cross_site_scope(Wave.BASELINE), minute=5)
    findings = audit([cross, *sites], K, min_sites=5)
    assert of_kind(findings, AttackKind.FEW_SITES_IN_DISTRIBUTION) == [
        ((_distribution(3).key,), (1,), 3)
    ]
    assert audit([cross, *sites], K, min_sites=3) == []


# --- the input as a reader holds it ----------------------------------------------------------


def test_order_of_the_input_and_releases_read_twice_do_not_matter():
    sequence = [
        _total_and_residents(1, 40, 20),
        _total_and_residents(2, 52, 30),
        _total_and_residents(3, 53, 30),
    ]
    expected = audit(sequence, K)
    shuffled = sequence * 2
    random.Random(7).shuffle(shuffled)
    assert audit(shuffled, K) == expected
    assert {f.kind for f in expected} >= {
        AttackKind.VERSION_DIFFERENCE,
        AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES,
    }


def test_two_different_releases_with_one_number_are_both_kept_and_compared():
    """A processor crash can rewrite a release number with other content: a reader keeps both."""
    findings = audit([_total_and_residents(1, 40, 20), _total_and_residents(1, 43, 20)], K)
    assert any(f.kind is AttackKind.VERSION_DIFFERENCE and f.size == 3 for f in findings)


def _safe_release(scope_site: str, number: int) -> Release:
    """Every cell grows by k or more per release; the remainder (nurses) keeps a spread."""
    size = 10 * (number + 2)
    residents, nurses = mixed(size), [1 + (i * 3) % 5 for i in range(size)]
    cells = [
        composite("all", "all", residents + nurses, site_id=scope_site),
        composite("role", "resident", residents, site_id=scope_site),
    ]
    return release(number, *cells, scope=site_scope(scope_site))


def test_a_few_thousand_releases_are_audited_in_seconds():
    sequence = [_safe_release(f"s{site}", number) for site in range(10) for number in range(1, 301)]
    started = time.process_time()
    assert audit(sequence, K) == []
    assert time.process_time() - started < 20.0


# --- against the truth: one publication of random responses ---------------------------------


def _alike(role: Role) -> SurveyResponse:
    """Roles the random responses never have: two small groups that may be hidden together."""
    return response({"B1": 5, "B2": 4, "B3": 2, "S1": 3, "S2": 3}, role=role, experienced=True)


def _two_roles_one_wave(event: SurveyResponse) -> SurveyResponse:
    """Random responses in two roles of one wave, so that those cells are often shown."""
    role = Role.RESIDENT if event.role in (Role.RESIDENT, Role.FACULTY) else Role.NURSE
    return replace(event, wave=Wave.BASELINE, role=role)


_events = st.tuples(
    st.lists(responses().map(_two_roles_one_wave), min_size=20, max_size=60),
    st.integers(2, 9),
    st.integers(2, 9),
).map(
    lambda drawn: [
        *drawn[0],
        *(_alike(Role.STAFF) for _ in range(drawn[1])),
        *(_alike(Role.STUDENT) for _ in range(drawn[2])),
    ]
)


def _true_spread_free_remainders(
    events: list[SurveyResponse], release_cells: dict[str, Cell]
) -> set[tuple[str, ...]]:
    """Keys (total and shown cells) of composite partitions whose remainder of >= K people truly has one score."""
    state = fold_site_states([site("s1")], [INSTRUMENT], events, [])["s1"]
    shown = [cell for cell in release_cells.values() if isinstance(cell, CompositeCell)]
    result = set()
    for total in (cell for cell in shown if cell.dimension == "all"):
        for dimension in sorted(
            {cell.dimension for cell in shown if cell.family == total.family} - {"all"}
        ):
            members = [c for c in shown if c.family == total.family and c.dimension == dimension]
            tallies = [
                state.survey.composites[(c.wave, c.composite, c.dimension, c.group)]
                for c in [total, *members]
            ]
            sign = [1] + [-1] * len(members)
            n = sum(s * t.respondents for s, t in zip(sign, tallies, strict=True))
            score_sum = sum(
                (s * t.score_sum for s, t in zip(sign, tallies, strict=True)), Fraction(0)
            )
            squares = sum(
                (s * t.score_square_sum for s, t in zip(sign, tallies, strict=True)), Fraction(0)
            )
            if n >= K and squares - score_sum * score_sum / n == 0:
                result.add(tuple(sorted(c.key for c in [total, *members])))
    return result


@settings(max_examples=80, deadline=None)
@given(_events)
def test_one_publication_of_the_current_rule_against_the_truth(events):
    releases = old_rule_releases([site("s1")], events, first_batch=len(events))
    findings = audit(releases, K)
    # The single-publication rule stops small cells and small complements; what it lets through is
    # the numerator rule and homogeneity, and the auditor's homogeneity is the exact one.
    assert {f.kind for f in findings} <= {AttackKind.NUMERATOR, AttackKind.HOMOGENEOUS_HIDDEN_GROUP}
    spread_free = {
        f.keys
        for f in findings
        if f.kind == AttackKind.HOMOGENEOUS_HIDDEN_GROUP and f.keys[0].startswith("composite/")
    }
    assert spread_free == _true_spread_free_remainders(events, releases[-1].by_key())


def counts_of_cell(cell: Cell) -> Counts:
    found = _counts_of(cell)
    assert found is not None
    return found
