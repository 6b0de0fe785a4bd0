"""The interventions page's figures, pure: which measures go on which chart, each chart's axis,
and the text of every value. static/app.js only draws what this describes.

One chart per unit: shares (percent), hours, open incidents and tagged events never share an
axis. Training sessions per quarter are a time series, every quarter from the first session's
to the last (a quarter without a session counts 0). A count has no "of n": only a share (its
denominator) and a duration (the incidents it is over) carry an n column. An axis is chosen
from the values it must hold; all zeros (a site with no intervention events) gives the axis
0 to 1 with whole ticks, and empty bars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Axis:
    """A linear axis from 0: its top, its ticks, and the decimals each tick is written with."""

    top: float
    ticks: tuple[float, ...]
    decimals: int

    def to_json(self, label: str) -> Json:
        return {
            "label": label,
            "top": self.top,
            "ticks": list(self.ticks),
            "decimals": self.decimals,
        }


def axis_for(values: Iterable[float], *, whole: bool, target_ticks: int = 5) -> Axis:
    """From 0 to a round number at or above the largest value, in steps of 1, 2 or 5 × 10^m
    (whole numbers only when `whole`). No value above 0 (or none at all): 0 to 1."""
    largest = max((v for v in values if math.isfinite(v)), default=0.0)
    if largest <= 0:
        largest = 1.0
    raw = largest / target_ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-12))
    if whole:
        step = max(1.0, float(math.ceil(step - 1e-9)))
    count = math.ceil(largest / step - 1e-9)
    decimals = 0 if whole else max(0, -math.floor(math.log10(step) + 1e-12))
    ticks = tuple(round(i * step, decimals + 6) for i in range(count + 1))
    return Axis(ticks[-1], ticks, decimals)


PERCENT_AXIS = Axis(100.0, (0.0, 20.0, 40.0, 60.0, 80.0, 100.0), 0)


def measure_label(metric: str, qualifier: Sequence[str]) -> str:
    label = _human(metric)
    return f"{label} ({', '.join(_human(q) for q in qualifier)})" if qualifier else label


def _human(text: str) -> str:
    spaced = text.replace("_", " ")
    return spaced[:1].upper() + spaced[1:]


def _key(metric: str, qualifier: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    return metric, tuple(qualifier)


def is_share(metric: str) -> bool:
    return metric.endswith("_share") or metric.endswith("_rate")


def value_text(metric: str, value: float) -> str:
    if is_share(metric):
        return f"{value * 100:.1f}%"
    if metric.startswith("incident_hours"):
        return f"{value:.1f} h"
    return str(round(value))


@dataclass(frozen=True)
class _Chart:
    id: str
    title: str
    description: str
    axis_label: str
    unit: str  # "percent", "hours", "incidents", "events": one per chart
    n_label: str | None  # the n column's heading; None: the measure has no n but its value
    expected: tuple[tuple[str, tuple[str, ...]], ...]  # rows shown even when absent (hidden)
    matches: Callable[[str], bool]


_LEVERS = ("awareness", "connection", "speaking_up")
_PRINCIPLES = (
    "acknowledge_and_learn",
    "visible_leadership_commitment",
    "confront_devaluing_practices",
    "empathy_and_intersectionality",
)
_HOURS = tuple(
    (metric, (statistic,))
    for metric in ("incident_hours_to_acknowledge", "incident_hours_to_resolve")
    for statistic in ("median", "p90")
)
CHARTS = (
    _Chart(
        "reach-training",
        "Training reach",
        "Share of eligible residents trained on health equity, and completion rates "
        "(completed of invited).",
        "Percent →",
        "percent",
        "Of (n)",
        (("health_equity_trained_share", ("resident",)), ("training_completion_rate", ("all",))),
        lambda m: m in ("health_equity_trained_share", "training_completion_rate"),
    ),
    _Chart(
        "reach-incident-times",
        "Bias incidents: time to acknowledge and resolve",
        "Hours from an incident's report to its acknowledgement and to its resolution: the "
        "median and the 90th percentile over the incidents that reached that step.",
        "Hours →",
        "hours",
        "Incidents (n)",
        _HOURS,
        lambda m: m.startswith("incident_hours"),
    ),
    _Chart(
        "reach-backlog",
        "Bias incidents: open backlog",
        "Incidents reported and not yet resolved.",
        "Open incidents →",
        "incidents",
        None,
        (("incident_open_backlog", ()),),
        lambda m: m == "incident_open_backlog",
    ),
    _Chart(
        "reach-coverage",
        "Lever and principle coverage",
        "Intervention events tagged with each of the three levers and four principles.",
        "Tagged events →",
        "events",
        None,
        (
            *(("lever_coverage", (lever,)) for lever in _LEVERS),
            *(("principle_coverage", (principle,)) for principle in _PRINCIPLES),
        ),
        lambda m: m in ("lever_coverage", "principle_coverage"),
    ),
)
SESSIONS_PER_QUARTER = "training_sessions_per_quarter"
SESSIONS_TWELVE_MONTHS = "training_sessions_twelve_months"


def _row(metric: str, qualifier: Sequence[str], cell: Json | None, with_n: bool) -> Json:
    value = None if cell is None else cell.get("value")
    return {
        "metric": metric,
        "qualifier": list(qualifier),
        "label": measure_label(metric, qualifier),
        "value": value,  # None: hidden (fewer than k records) or not published
        "plotted": None if value is None else (value * 100 if is_share(metric) else value),
        "text": None if value is None else value_text(metric, value),
        "n": cell.get("n") if with_n and cell is not None and value is not None else None,
    }


def quarters_between(first: str, last: str) -> list[str]:
    """Every quarter "YYYY-Qn" from `first` to `last`, both included."""
    (y0, q0), (y1, q1) = (_quarter(first), _quarter(last))
    return [f"{i // 4}-Q{i % 4 + 1}" for i in range(y0 * 4 + q0 - 1, y1 * 4 + q1)]


def _quarter(text: str) -> tuple[int, int]:
    match = _QUARTER.match(text)
    if match is None:
        raise ValueError(f"not a quarter: {text!r}")
    return int(match.group(1)), int(match.group(2))


def sessions_series(metrics: Sequence[Json]) -> Json:
    """The training sessions per quarter as a time series, gaps filled with 0."""
    counted = {
        m["qualifier"][0]: m["value"]
        for m in metrics
        if m["metric"] == SESSIONS_PER_QUARTER
        and len(m["qualifier"]) == 1
        and _QUARTER.match(m["qualifier"][0])
        and m["value"] is not None
    }
    twelve = next((m["value"] for m in metrics if m["metric"] == SESSIONS_TWELVE_MONTHS), None)
    quarters = quarters_between(min(counted), max(counted)) if counted else []
    points = [
        {
            "metric": SESSIONS_PER_QUARTER,
            "qualifier": [q],
            "label": q,
            "quarter": q,
            "value": counted.get(q, 0.0),
            "text": value_text("", counted.get(q, 0.0)),
        }
        for q in quarters
    ]
    recent = "" if twelve is None else f" {round(twelve)} in the twelve months to the release."
    return {
        "id": "reach-sessions",
        "kind": "series",
        "unit": "sessions",
        "title": "Training sessions per quarter",
        "description": "Training sessions held in each calendar quarter, from the first quarter "
        f"with a session to the last (a quarter without one counts 0).{recent}"
        if points
        else f"No training session recorded yet.{recent}",
        "axis": axis_for((p["value"] for p in points), whole=True).to_json("Sessions ↑"),
        "n_label": None,
        "rows": points,
    }


def reach_figures(metrics: Sequence[Json]) -> list[Json]:
    """The interventions page's figures from the site's reach cells (the `interventions` view's
    metrics: metric, qualifier, n, value with None for hidden)."""
    by_key = {_key(m["metric"], m["qualifier"]): m for m in metrics}
    used: set[tuple[str, tuple[str, ...]]] = {
        key for key in by_key if key[0] in (SESSIONS_PER_QUARTER, SESSIONS_TWELVE_MONTHS)
    }
    figures = []
    for chart in CHARTS:
        keys = list(chart.expected)
        keys += sorted(k for k in by_key if chart.matches(k[0]) and k not in keys)
        used.update(keys)
        rows = [_row(m, q, by_key.get((m, q)), chart.n_label is not None) for m, q in keys]
        plotted = [r["plotted"] for r in rows if r["plotted"] is not None]
        axis = (
            PERCENT_AXIS
            if chart.unit == "percent"
            else axis_for(plotted, whole=chart.unit != "hours")
        )
        figures.append(
            {
                "id": chart.id,
                "kind": "bars",
                "unit": chart.unit,
                "title": chart.title,
                "description": chart.description,
                "axis": axis.to_json(chart.axis_label),
                "n_label": chart.n_label,
                "rows": rows,
            }
        )
    figures.insert(1, sessions_series(metrics))
    rest = [
        _row(m["metric"], m["qualifier"], m, is_share(m["metric"]))
        for m in metrics
        if _key(m["metric"], m["qualifier"]) not in used
    ]
    if rest:
        figures.append(
            {
                "id": "reach-programme",
                "kind": "table",
                "unit": "mixed",
                "title": "Other programme activity",
                "description": "Counts, and shares of the count at each stage (with their n).",
                "axis": None,
                "n_label": "Of (n)" if any(r["n"] is not None for r in rest) else None,
                "rows": rest,
            }
        )
    return figures
