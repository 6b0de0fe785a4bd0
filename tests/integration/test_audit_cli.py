"""`jedi audit` as a process over the real broker: a namespaced benchmarks topic holding a safe
sequence of releases passes (exit 0), an unsafe one is reported finding by finding (exit 1), an
unreadable record is a finding, and a broker or topic it cannot reach is exit 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

from shared.domain.cells import CompositeCell, ResponseCell
from shared.domain.model import Composite, Wave
from shared.domain.releases import Release, ReleaseProgress, site_scope
from shared.domain.statistics import mean_with_interval
from shared.kafka import ensure_topics
from shared.topics import Topics
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.query import publish_raw, publish_records

ROOT = Path(__file__).resolve().parents[2]
SITE = "site-audit"
SCOPE = site_scope(SITE)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
TOTAL_KEY = f"composite/{SITE}/baseline/belonging/all/all"
RESIDENTS_KEY = f"composite/{SITE}/baseline/belonging/role/resident"
RESPONSES_KEY = f"response/{SITE}/baseline/all/all"


def composite(dimension: str, group: str, n: int) -> CompositeCell:
    scores = [1 + i % 5 for i in range(n)]
    estimate = mean_with_interval(n, Fraction(sum(scores)), Fraction(sum(s * s for s in scores)))
    return CompositeCell(
        SITE,
        Wave.BASELINE,
        Composite.BELONGING,
        dimension,
        group,
        n,
        estimate.mean,
        estimate.interval.low,
        estimate.interval.high,
        percent_positive=40.0,
        response_rate=None,
    )


def release(number: int, total: int, residents: int, *, held_back: int = 0) -> Release:
    cells = (
        composite("all", "all", total),
        composite("role", "resident", residents),
        ResponseCell(SITE, Wave.BASELINE, "all", "all", total, None),
    )
    assert {cell.key for cell in cells} == {TOTAL_KEY, RESIDENTS_KEY, RESPONSES_KEY}
    return Release(
        SCOPE,
        number,
        T0 + timedelta(minutes=number),
        T0,
        tuple(sorted(cells, key=lambda c: c.key)),
        covered={"baseline": total},
        held_back={"baseline": held_back},
    )


async def topic_with(records) -> str:
    namespace = new_namespace()
    topics = Topics(namespace)
    await ensure_topics(bootstrap_servers(), [topics.benchmarks])
    await publish_records(topics, records)
    return namespace


def jedi_audit(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "audit",
            "--bootstrap-servers",
            bootstrap_servers(),
            *arguments,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_safe_sequence_of_releases_passes_with_its_summary():
    namespace = await topic_with(
        [
            release(1, 40, 20),
            ReleaseProgress(SCOPE, 1, {"baseline": 3}),
            release(
                2, 60, 30
            ),  # every shown cell grew by 0 or at least k, and so did the rest of the total
            ReleaseProgress(SCOPE, 2, {"baseline": 0}),
        ]
    )
    result = jedi_audit("--topic-namespace", namespace)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"audit of {namespace}jedi.benchmarks.v1 at {bootstrap_servers()} (k=10, min sites=10)"
    )
    assert lines[1].startswith("records: 4 read from 3 partitions, offset 0 to the end at start")
    assert (
        lines[2]
        == "releases: 2 (1 besides the latest of each scope), progress records: 2, tombstones: 0, unreadable: 0"
    )
    assert lines[3] == "scopes: 1 (1 sites, 0 cross-site)"
    assert lines[4] == "findings: 0"
    assert len(lines) == 5
    print("\n" + result.stdout)


async def test_a_site_total_growing_by_one_respondent_is_reported_and_exits_1():
    namespace = await topic_with([release(1, 40, 20), release(2, 41, 20)])
    result = jedi_audit("--topic-namespace", namespace)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("records: 2 read from 3 partitions")
    assert lines[4].startswith("findings: ")
    findings = lines[5:]
    assert len(findings) == int(lines[4].split()[1])
    # The two versions of the total (and of the response count) isolate the newcomer ...
    assert any(
        line.startswith(f"version_difference {SCOPE} releases=1,2 size=1 keys={TOTAL_KEY}: ")
        for line in findings
    ), findings
    assert any(
        line.startswith(f"version_difference {SCOPE} releases=1,2 size=1 keys={RESPONSES_KEY}: ")
        for line in findings
    ), findings
    # ... and so does the total's growth minus the residents' (who did not grow).
    assert any(
        line.startswith(
            f"partition_difference_across_releases {SCOPE} releases=1,2 size=1 "
            f"keys={TOTAL_KEY},{RESIDENTS_KEY}: "
        )
        for line in findings
    ), findings
    assert "version_difference 2" in lines[4] and "partition_difference_across_releases" in lines[4]
    print("\n" + result.stdout)


async def test_with_k_lower_than_the_step_the_same_topic_passes():
    namespace = await topic_with([release(1, 40, 20), release(2, 41, 20)])
    result = jedi_audit("--topic-namespace", namespace, "--min-cell-size", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(k=1, min sites=10)" in result.stdout.splitlines()[0]


async def test_an_unreadable_record_is_a_finding():
    namespace = await topic_with([release(1, 40, 20)])
    await publish_raw(Topics(namespace), "site/site-garbage", b"\xffnot a record")
    result = jedi_audit("--topic-namespace", namespace)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].endswith("unreadable: 1")
    assert lines[4] == "findings: 1 (unreadable_record 1)"
    assert (
        lines[5].startswith("unreadable_record partition=")
        and "key=site/site-garbage: not a BenchmarkRecord" in lines[5]
    )


def test_a_missing_topic_or_an_unreachable_broker_or_a_bad_argument_is_exit_2():
    namespace = new_namespace()  # no topic made in it
    missing = jedi_audit("--topic-namespace", namespace)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == (
        f"jedi audit: no topic {namespace}jedi.benchmarks.v1 at {bootstrap_servers()} "
        f"(is --topic-namespace right?)\n"
    )
    assert jedi_audit("--topic-namespace", namespace).returncode == 2  # asking did not create it
    unreachable = subprocess.run(
        [sys.executable, "-m", "services.cli", "audit", "--bootstrap-servers", "127.0.0.1:1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 2 and unreachable.stdout == ""
    assert unreachable.stderr.startswith(
        "jedi audit: cannot read jedi.benchmarks.v1 from the broker at 127.0.0.1:1"
    )
    usage = jedi_audit("--min-cell-size", "0")
    assert usage.returncode == 2 and "--min-cell-size: 0 is less than 1" in usage.stderr
