"""The old publication, replayed as releases: after each event, every changed scope is published again.

Before releases existed, the processor published the single-publication rule's output
(`old_rule`) after every event. Replaying a list of events that way, and wrapping each scope's cells into
`Release`s with increasing numbers, gives what a reader who kept every version holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from shared.domain.benchmark_set import BenchmarkSet, Cell
from shared.domain.model import InterventionEvent, Site, SurveyResponse
from shared.domain.releases import Release, scope_of, site_scope

from .factories import AS_OF, INSTRUMENT, T0
from .old_rule import old_compute_benchmarks

Event = SurveyResponse | InterventionEvent


def _split(benchmarks: BenchmarkSet, sites: Sequence[Site]) -> dict[str, tuple[Cell, ...]]:
    scopes: dict[str, list[Cell]] = {site_scope(s.site_id): [] for s in sites}
    for cell in benchmarks.cells:
        scopes.setdefault(scope_of(cell), []).append(cell)
    return {scope: tuple(cells) for scope, cells in scopes.items()}


def old_rule_releases(
    sites: Sequence[Site],
    events: Sequence[Event],
    *,
    first_batch: int = 0,
    k: int = 10,
    min_sites: int = 10,
) -> list[Release]:
    """Releases of the old rule: one publication of the first `first_batch` events, then one per event."""
    releases: list[Release] = []
    last: dict[str, Release] = {}
    steps = (
        [first_batch, *range(first_batch + 1, len(events) + 1)]
        if first_batch
        else range(1, len(events) + 1)
    )
    for step, prefix in enumerate(steps):
        shown = events[:prefix]
        benchmarks = old_compute_benchmarks(
            sites,
            [INSTRUMENT],
            [e for e in shown if isinstance(e, SurveyResponse)],
            [e for e in shown if isinstance(e, InterventionEvent)],
            min_cell_size=k,
            min_sites=min_sites,
            as_of=AS_OF,
        )
        for scope, cells in sorted(_split(benchmarks, sites).items()):
            previous = last.get(scope)
            if previous is not None and previous.cells == cells:
                continue
            release = Release(
                scope=scope,
                number=previous.number + 1 if previous else 1,
                cut_at=T0 + timedelta(minutes=step),
                as_of=AS_OF,
                cells=cells,
            )
            last[scope] = release
            releases.append(release)
    return releases
