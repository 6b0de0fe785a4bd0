"""The audit trail's pure domain: filters, newest-first order, and the isolation flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.trail import (
    AuditEntry,
    FlagKind,
    IsolationRule,
    QueryCall,
    RegistryChange,
    Submission,
    TrailFilter,
    isolation_flags,
    select,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def upload(
    n: int, responses: int, *, hours: float = 0, key: str = "site-a", wave: str = "baseline"
):
    return AuditEntry(
        f"s{n}",
        T0 + timedelta(hours=hours),
        key,
        "site",
        "ingest",
        Submission("site-a", (wave,), accepted=responses, accepted_responses=responses),
    )


def test_five_small_uploads_within_a_day_are_flagged_once():
    entries = [upload(i, 3, hours=i) for i in range(6)]
    (flag,) = isolation_flags(entries, IsolationRule(k=10, many=5))
    assert flag.kind is FlagKind.MANY_SMALL_UPLOADS
    assert flag.audit_ids == tuple(f"s{i}" for i in range(6))
    assert "6 uploads of fewer than k=10 responses each (18 in all)" in flag.reason


def test_small_uploads_spread_over_days_or_too_few_are_not_flagged():
    spread = [upload(i, 3, hours=30 * i) for i in range(6)]
    few = [upload(i, 3, hours=i) for i in range(4)]
    assert isolation_flags(spread) == []
    assert isolation_flags(few) == []


def test_a_burst_of_about_k_minus_one_followed_by_more_is_flagged():
    for size in (8, 9, 10):
        flags = isolation_flags([upload(0, size), upload(1, 1, hours=2)], IsolationRule(k=10))
        assert [f.kind for f in flags] == [FlagKind.NEAR_K_BURST], size
        assert flags[0].audit_ids == ("s0", "s1")


def test_a_large_upload_or_a_lone_burst_is_not_flagged():
    assert isolation_flags([upload(0, 200), upload(1, 1, hours=1)]) == []
    assert isolation_flags([upload(0, 9)]) == []
    assert isolation_flags([upload(0, 9), upload(1, 1, hours=48)]) == []


def test_keys_waves_and_refused_submissions_are_apart():
    mixed = [upload(0, 9, key="site-a"), upload(1, 1, key="other-key", hours=1)]
    waves = [upload(0, 9, wave="baseline"), upload(1, 1, wave="follow_up", hours=1)]
    refused = AuditEntry(
        "r",
        T0 + timedelta(hours=1),
        "site-a",
        "site",
        "ingest",
        Submission("site-a", ("baseline",), refusal="refused: not your site"),
    )
    assert isolation_flags(mixed) == []
    assert isolation_flags(waves) == []
    assert isolation_flags([upload(0, 9), refused]) == []


def test_select_filters_by_site_principal_and_time_newest_first():
    entries = [
        upload(0, 5),
        AuditEntry(
            "q",
            T0 + timedelta(hours=1),
            "coordinator",
            "coordinator",
            "query",
            QueryCall("GetSiteScorecard", ("site-a",)),
        ),
        AuditEntry(
            "r",
            T0 + timedelta(hours=2),
            "coordinator",
            "coordinator",
            "ingest",
            RegistryChange("site", "site-b"),
        ),
    ]
    assert [e.audit_id for e in select(entries, TrailFilter())] == ["r", "q", "s0"]
    assert [e.audit_id for e in select(entries, TrailFilter(site_id="site-a"))] == ["q", "s0"]
    assert [e.audit_id for e in select(entries, TrailFilter(site_id="site-b"))] == ["r"]
    assert [e.audit_id for e in select(entries, TrailFilter(principal="coordinator"))] == ["r", "q"]
    window = TrailFilter(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2))
    assert [e.audit_id for e in select(entries, window)] == ["q"]
