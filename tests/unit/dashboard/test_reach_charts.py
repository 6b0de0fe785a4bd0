"""The interventions page's figures: one chart per unit, axes that hold their values (all zeros
give 0 to 1 with whole ticks, never a degenerate domain), no "of n" for counts, and the
training sessions per quarter as a time series with its gaps counted 0."""

from __future__ import annotations

import pytest

from services.dashboard.reach_charts import (
    CHARTS,
    axis_for,
    quarters_between,
    reach_figures,
    sessions_series,
)


def metric(name, qualifier=(), value=0.0, n=None):
    return {
        "metric": name,
        "qualifier": list(qualifier),
        "n": round(value) if n is None else n,
        "value": value,
        "describes_people": False,
    }


def zero_site():
    """What the processor publishes for a site with survey responses and no intervention event."""
    return [
        metric("health_equity_trained_share", ("resident",), 0.0, n=40),
        metric("training_sessions_twelve_months"),
        metric("incident_open_backlog"),
        *(
            metric("lever_coverage", (lever,))
            for lever in ("awareness", "connection", "speaking_up")
        ),
        *(
            metric("principle_coverage", (p,))
            for p in (
                "acknowledge_and_learn",
                "visible_leadership_commitment",
                "confront_devaluing_practices",
                "empathy_and_intersectionality",
            )
        ),
        metric("policies", ("drafted",)),
        metric("community_partnerships"),
        metric("affinity_meetings"),
    ]


def busy_site():
    return [
        metric("health_equity_trained_share", ("resident",), 0.625, n=40),
        metric("training_completion_rate", ("all",), 0.8, n=120),
        metric("training_sessions_per_quarter", ("2025-Q3",), 2.0),
        metric("training_sessions_per_quarter", ("2026-Q1",), 5.0),
        metric("training_sessions_twelve_months", (), 7.0),
        metric("incident_hours_to_acknowledge", ("median",), 6.5, n=12),
        metric("incident_hours_to_acknowledge", ("p90",), 30.25, n=12),
        metric("incident_hours_to_resolve", ("median",), 70.0, n=11),
        metric("incident_hours_to_resolve", ("p90",), 212.0, n=11),
        metric("incident_open_backlog", (), 4.0),
        metric("lever_coverage", ("awareness",), 13.0),
        metric("lever_coverage", ("connection",), 2.0),
        metric("lever_coverage", ("speaking_up",), 0.0),
        metric("mentoring_pairings", ("resident",), 3.0),
        metric("recruitment_count", ("2026", "matched"), 12.0),
        metric("recruitment_urim_share", ("2026", "matched"), 0.25, n=12),
    ]


def by_id(figures):
    return {figure["id"]: figure for figure in figures}


@pytest.mark.parametrize(
    ("values", "whole", "top", "ticks", "decimals"),
    [
        ([], True, 1, (0, 1), 0),
        ([0, 0, 0], True, 1, (0, 1), 0),
        ([0.0], False, 1, (0, 0.2, 0.4, 0.6, 0.8, 1.0), 1),
        ([3], True, 3, (0, 1, 2, 3), 0),
        ([13, 2, 0], True, 15, (0, 5, 10, 15), 0),
        ([9], True, 10, (0, 2, 4, 6, 8, 10), 0),
        ([212.0, 6.5], False, 250, (0, 50, 100, 150, 200, 250), 0),
        ([0.37], False, 0.4, (0, 0.1, 0.2, 0.3, 0.4), 1),
        ([1], True, 1, (0, 1), 0),
        ([100], True, 100, (0, 20, 40, 60, 80, 100), 0),
    ],
)
def test_axis_from_zero_to_a_round_top(values, whole, top, ticks, decimals):
    axis = axis_for(values, whole=whole)
    assert axis.top == pytest.approx(top)
    assert axis.ticks == pytest.approx(ticks)
    assert axis.decimals == decimals


@pytest.mark.parametrize("largest", [0.0, 0.004, 0.5, 1.0, 7.0, 9.99, 10.0, 999.0, 123456.0])
def test_an_axis_holds_its_values_in_at_most_ten_steps(largest):
    for whole in (True, False):
        axis = axis_for([largest], whole=whole)
        assert axis.ticks[0] == 0 and axis.ticks[-1] == axis.top >= largest
        assert 2 <= len(axis.ticks) <= 11
        steps = {round(b - a, 9) for a, b in zip(axis.ticks, axis.ticks[1:], strict=False)}
        assert len(steps) == 1 and steps.pop() > 0
        if whole:
            assert all(float(t).is_integer() for t in axis.ticks)


def test_an_all_zero_site_gets_empty_bars_on_a_sensible_axis():
    figures = by_id(reach_figures(zero_site()))
    for chart in ("reach-backlog", "reach-coverage"):
        figure = figures[chart]
        assert figure["axis"]["top"] == 1 and figure["axis"]["ticks"] == [0, 1]
        assert figure["axis"]["decimals"] == 0
        assert [r["plotted"] for r in figure["rows"]] == [0.0] * len(figure["rows"])
    assert figures["reach-training"]["axis"]["ticks"] == [0, 20, 40, 60, 80, 100]
    assert figures["reach-training"]["rows"][0]["text"] == "0.0%"
    # No incident reached a step: the hours chart has its rows hidden, on an axis of 0 to 1.
    times = figures["reach-incident-times"]
    assert all(r["value"] is None for r in times["rows"]) and times["axis"]["top"] == 1
    # No session at all: an empty series, its axis still sensible.
    assert figures["reach-sessions"]["rows"] == []
    assert figures["reach-sessions"]["description"].startswith("No training session recorded")
    assert figures["reach-sessions"]["axis"]["ticks"] == [0, 1]


def test_each_unit_has_its_own_chart():
    figures = reach_figures(busy_site())
    charted = [f for f in figures if f["kind"] != "table"]
    units = [f["unit"] for f in charted]
    assert len(units) == len(set(units))
    metrics_of = {f["id"]: {r["metric"] for r in f["rows"]} for f in figures}
    assert metrics_of["reach-incident-times"] == {
        "incident_hours_to_acknowledge",
        "incident_hours_to_resolve",
    }
    assert metrics_of["reach-backlog"] == {"incident_open_backlog"}
    assert by_id(figures)["reach-backlog"]["axis"]["label"] == "Open incidents →"
    assert by_id(figures)["reach-incident-times"]["axis"]["label"] == "Hours →"
    # Every measure is on exactly one figure (the sessions per quarter on the series).
    placed = [
        (r["metric"], tuple(r["qualifier"]))
        for f in figures
        if f["kind"] != "series"
        for r in f["rows"]
    ]
    assert len(placed) == len(set(placed))
    assert "training_sessions_per_quarter" not in {m for m, _ in placed}


def test_the_n_column_only_where_it_means_something():
    figures = by_id(reach_figures(busy_site()))
    assert figures["reach-training"]["n_label"] == "Of (n)"
    assert [r["n"] for r in figures["reach-training"]["rows"]] == [40, 120]
    assert figures["reach-incident-times"]["n_label"] == "Incidents (n)"
    for counts in ("reach-backlog", "reach-coverage", "reach-sessions"):
        assert figures[counts]["n_label"] is None
        assert all(r.get("n") is None for r in figures[counts]["rows"])
    programme = {r["metric"]: r for r in figures["reach-programme"]["rows"]}
    assert programme["recruitment_urim_share"]["n"] == 12
    assert programme["recruitment_count"]["n"] is None
    assert programme["mentoring_pairings"]["n"] is None


def test_values_are_plotted_in_the_axis_unit_and_written_in_it():
    figures = by_id(reach_figures(busy_site()))
    training = {r["metric"]: r for r in figures["reach-training"]["rows"]}
    assert training["health_equity_trained_share"]["plotted"] == pytest.approx(62.5)
    assert training["health_equity_trained_share"]["text"] == "62.5%"
    times = figures["reach-incident-times"]
    assert [r["text"] for r in times["rows"]] == ["6.5 h", "30.2 h", "70.0 h", "212.0 h"]
    assert times["axis"]["top"] >= 212
    assert figures["reach-coverage"]["axis"]["top"] >= 13


def test_hidden_measures_are_rows_without_a_value():
    metrics = busy_site()
    metrics[0] = {**metrics[0], "value": None}
    row = by_id(reach_figures(metrics))["reach-training"]["rows"][0]
    assert row["value"] is None and row["plotted"] is None and row["text"] is None
    assert row["n"] is None  # an n beside a hidden share would say how small it is


def test_training_sessions_per_quarter_are_a_series_with_gaps_counted_zero():
    series = sessions_series(busy_site())
    assert series["kind"] == "series"
    assert [(p["quarter"], p["value"]) for p in series["rows"]] == [
        ("2025-Q3", 2.0),
        ("2025-Q4", 0.0),
        ("2026-Q1", 5.0),
    ]
    assert series["axis"]["ticks"] == [0, 1, 2, 3, 4, 5]
    assert "7 in the twelve months" in series["description"]


def test_quarters_between():
    assert quarters_between("2024-Q4", "2025-Q2") == ["2024-Q4", "2025-Q1", "2025-Q2"]
    assert quarters_between("2025-Q1", "2025-Q1") == ["2025-Q1"]
    with pytest.raises(ValueError):
        quarters_between("2025-1", "2025-Q2")


def test_chart_ids_are_distinct():
    ids = [chart.id for chart in CHARTS]
    assert len(ids) == len(set(ids))
