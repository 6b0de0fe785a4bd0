"""The attacks of issue 10 on the old rule, replayed as releases, and the auditor finding each.

The old rule is the single-publication rule from before releases (`old_rule`), published again
after every event (`old_publication`). Some attacks need several releases; the tests marked
"one release" get through the old single-publication rule on their own. Each test then replays
the same events through the release path (`tests/support/release_path.py`): the auditor finds
nothing there.
"""

from __future__ import annotations

from shared.domain.audit import AttackKind, Finding, audit
from shared.domain.model import (
    PREFER_NOT_TO_SAY,
    GroupDimension,
    Role,
    TrainingSession,
    TrainingTopic,
)
from tests.support.release_path import release_path_releases

from .factories import AS_OF, INSTRUMENT, intervention, response, site
from .old_publication import old_rule_releases

K = 10
BELONGING = "composite/s1/baseline/belonging"
URIM = GroupDimension.URIM


def found(
    findings: list[Finding], kind: AttackKind
) -> set[tuple[tuple[str, ...], tuple[int, ...], int]]:
    return {(f.keys, f.releases, f.size) for f in findings if f.kind == kind}


def assert_the_release_path_leaves_nothing(sites, events, *, k: int = K, **replay) -> None:
    releases = release_path_releases(sites, [INSTRUMENT], events, as_of=AS_OF, k=k, **replay)
    assert releases and audit(releases, k) == []


def varied(index: int) -> dict[str, int | None]:
    return {"B1": 1 + index % 5, "B2": 1 + (index * 2) % 5, "S1": 1 + (index * 3) % 5}


def test_one_new_response_is_the_difference_of_the_site_total():
    events = [response(varied(i), experienced=i % 2 == 0) for i in range(24)]
    newcomer = response({"B1": 5, "B2": 5, "S1": 1}, role=Role.NURSE, experienced=True)
    releases = old_rule_releases([site("s1")], [*events, newcomer], first_batch=24)
    assert_the_release_path_leaves_nothing([site("s1")], [*events, newcomer], first_batch=24)
    assert [r.number for r in releases] == [1, 2]
    differences = found(audit(releases, K), AttackKind.VERSION_DIFFERENCE)
    assert ((f"{BELONGING}/all/all",), (1, 2), 1) in differences
    assert (
        ("experience/s1/baseline/experienced_discrimination/all/all",),
        (1, 2),
        1,
    ) in differences
    assert (
        ("response/s1/baseline/department/medicine",),
        (1, 2),
        1,
    ) in differences  # their department
    newcomer_total = next(
        f
        for f in audit(releases, K)
        if f.kind == AttackKind.VERSION_DIFFERENCE and f.keys == (f"{BELONGING}/all/all",)
    )
    assert "mean score=5.000" in newcomer_total.description  # their exact score


def test_a_hidden_cell_becomes_shown_after_one_more_response():
    events = (
        [response(varied(i), role=Role.RESIDENT) for i in range(20)]
        + [response(varied(i), role=Role.FACULTY) for i in range(15)]
        + [response(varied(i), role=Role.NURSE) for i in range(9)]
    )
    events.append(response(varied(3), role=Role.NURSE))
    releases = old_rule_releases([site("s1")], events, first_batch=44)
    assert_the_release_path_leaves_nothing([site("s1")], events, first_batch=44)
    shown_before = releases[0].by_key()
    assert (
        f"{BELONGING}/role/nurse" not in shown_before
        and f"{BELONGING}/role/resident" in shown_before
    )
    findings = audit(releases, K)
    # The newcomer alone: the total's growth minus the growth of the residents (shown in both).
    assert ((f"{BELONGING}/all/all", f"{BELONGING}/role/resident"), (1, 2), 1) in found(
        findings, AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES
    )


def test_a_stale_complement_isolates_the_newcomer():
    events = [response(varied(i), groups={URIM: "yes"}) for i in range(20)] + [
        response(varied(i), groups={URIM: "no"}) for i in range(30)
    ]
    skipped = response({"B1": 2, "B2": 2, "S1": 2}, groups={URIM: PREFER_NOT_TO_SAY})
    releases = old_rule_releases([site("s1")], [*events, skipped], first_batch=50)
    assert_the_release_path_leaves_nothing([site("s1")], [*events, skipped], first_batch=50)
    assert (
        f"{BELONGING}/urim/yes" in releases[0].by_key()
        and f"{BELONGING}/urim/yes" not in releases[1].by_key()
    )
    # The total's growth minus the "no" cell's (shown in both): the one who skipped the question.
    stale = found(audit(releases, K), AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES)
    assert ((f"{BELONGING}/all/all", f"{BELONGING}/urim/no"), (1, 2), 1) in stale


def test_the_distribution_counts_a_site_whose_total_is_hidden_one_release():
    sites = [site("s1"), site("s2"), site("s3")]
    events = (
        [response(varied(i), site_id=s) for s in ("s1", "s2") for i in range(12)]
        + [response(varied(i), site_id="s3") for i in range(9)]
        + [response({"S1": 4}, site_id="s3")]  # the tenth response of s3 answers no belonging item
    )
    releases = old_rule_releases(sites, events, first_batch=len(events), min_sites=2)
    assert_the_release_path_leaves_nothing(sites, events, first_batch=len(events), min_sites=2)
    cross = next(r for r in releases if r.scope == "cross-site/baseline")
    assert (
        "composite/s3/baseline/belonging/all/all"
        not in next(r for r in releases if r.scope == "site/s3").by_key()
    )
    hidden = found(audit(releases, K), AttackKind.HIDDEN_SITE_IN_DISTRIBUTION)
    assert hidden == {
        (("distribution/baseline/belonging/mean",), (cross.number,), 1),
        (("distribution/baseline/belonging/percent_positive",), (cross.number,), 1),
    }


def test_eligibility_is_ten_responses_not_k():
    sites = [site("s1"), site("s2"), site("s3")]
    events = [response(varied(i), site_id=s) for s in ("s1", "s2") for i in range(12)]
    events += [
        response(varied(i), site_id="s3") for i in range(10)
    ]  # 10 responses: eligible, but n < k = 11
    releases = old_rule_releases(sites, events, first_batch=len(events), k=11, min_sites=2)
    assert_the_release_path_leaves_nothing(
        sites, events, first_batch=len(events), k=11, min_sites=2
    )
    hidden = found(audit(releases, 11), AttackKind.HIDDEN_SITE_IN_DISTRIBUTION)
    assert {keys for keys, _, size in hidden if size == 1} == {
        (f"distribution/baseline/{composite}/{measure}",)
        for composite in ("belonging", "psychological_safety")
        for measure in ("mean", "percent_positive")
    }


def test_hidden_but_homogeneous_one_release():
    # Residents vary; the 6 nurses and 5 fellows (11 together: enough for the old rule) all answered
    # "experienced discrimination: yes" and gave belonging the same score.
    events = [response(varied(i), role=Role.RESIDENT, experienced=i < 12) for i in range(30)] + [
        response({"B1": 1, "B2": 1, "S1": 3}, role=role, experienced=True)
        for role, count in ((Role.NURSE, 6), (Role.FELLOW, 5))
        for _ in range(count)
    ]
    releases = old_rule_releases([site("s1")], events, first_batch=len(events))
    assert_the_release_path_leaves_nothing([site("s1")], events, first_batch=len(events))
    assert len(releases) == 1
    shown = releases[0].by_key()
    assert f"{BELONGING}/role/nurse" not in shown and f"{BELONGING}/role/resident" in shown
    homogeneous = found(audit(releases, K), AttackKind.HOMOGENEOUS_HIDDEN_GROUP)
    experience = "experience/s1/baseline/experienced_discrimination"
    assert homogeneous >= {
        ((f"{experience}/all/all", f"{experience}/role/resident"), (1,), 11),
        ((f"{BELONGING}/all/all", f"{BELONGING}/role/resident"), (1,), 11),
    }


def test_reach_all_topics_minus_health_equity_gives_a_hidden_topic_one_release():
    sessions = [
        TrainingSession("t1", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, 30, 25, 20),
        TrainingSession("t2", TrainingTopic.STRUCTURAL_RACISM, Role.RESIDENT, 6, 6, 5),
    ]
    events = [intervention(s) for s in sessions]
    releases = old_rule_releases([site("s1", resident=40)], events, first_batch=2)
    assert_the_release_path_leaves_nothing([site("s1", resident=40)], events, first_batch=2)
    reach = "reach/s1/training_completion_rate"
    findings = [f for f in audit(releases, K) if f.kind == AttackKind.REACH_COMPLEMENT]
    assert [(f.keys, f.releases, f.size) for f in findings] == [
        ((f"{reach}/all", f"{reach}/health_equity"), (1,), 6)
    ]
    assert "completed=5" in findings[0].description


def test_an_experience_cell_with_one_yes_one_release():
    events = [response(varied(i), experienced=i == 0) for i in range(12)]
    releases = old_rule_releases([site("s1")], events, first_batch=12)
    assert_the_release_path_leaves_nothing([site("s1")], events, first_batch=12)
    numerator = found(audit(releases, K), AttackKind.NUMERATOR)
    assert (("experience/s1/baseline/experienced_discrimination/all/all",), (1,), 1) in numerator


def test_responses_arriving_one_at_a_time_give_a_finding_at_every_step():
    events = [response(varied(i), role=Role.RESIDENT) for i in range(15)]
    releases = old_rule_releases([site("s1")], events)
    assert_the_release_path_leaves_nothing([site("s1")], events)
    steps = found(audit(releases, K), AttackKind.VERSION_DIFFERENCE)
    total = (f"{BELONGING}/all/all",)
    assert (
        total[0] not in releases[0].by_key() and total[0] in releases[1].by_key()
    )  # shown from n = 10
    # Release 2 shows n = 10, release 7 n = 15: each step isolates one person, any two versions up to nine.
    assert {pair for keys, pair, size in steps if keys == total and size == 1} == {
        (n, n + 1) for n in range(2, 7)
    }
    assert (total, (2, 7), 5) in steps
