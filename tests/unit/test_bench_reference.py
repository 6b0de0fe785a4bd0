"""The benchmarks' follower (benchmarks/follow.py) compares with the same reference as
`released_reference`: which cells from the releases, every value from the batch core."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.dataset import demo, events_of
from benchmarks.follow import Reference
from shared.domain.benchmark_set import (
    ChangeCell,
    DisparityCell,
    DistributionCell,
    RankCell,
)
from shared.domain.benchmarks import benchmark_cells, fold_site_states
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.domain.publication.reference import released_reference
from shared.domain.releases import Release, covered_events, event_counts, scope_of
from shared.domain.suppression import DEFAULT_MIN_CELL_SIZE, DEFAULT_MIN_SITES

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def test_the_followers_reference_equals_released_reference() -> None:
    dataset = demo(0.2)
    arrivals = events_of(dataset)
    # Every site's components covered but for a few (as if fewer than k were waiting).
    covered: dict[str, dict[str, int]] = {}
    for (site_id, component), n in event_counts(arrivals).items():
        covered.setdefault(site_id, {})[component] = max(0, n - (len(site_id) + n) % 7)
    events = covered_events(covered, arrivals)
    computed = benchmark_cells(
        fold_site_states(
            dataset.sites,
            [dataset.instrument],
            [e for e in events if isinstance(e, SurveyResponse)],
            [e for e in events if isinstance(e, InterventionEvent)],
        ),
        dataset.sites,
        as_of=AS_OF,
    ).by_key()
    # Releases that hide one of every three changes and disparities (a choice the core cannot
    # make) and show the rest, so the cross-site cells are computed over the totals shown.
    shown = [
        cell
        for index, (_, cell) in enumerate(sorted(computed.items()))
        if not isinstance(cell, (DistributionCell, RankCell))
        and (not isinstance(cell, (ChangeCell, DisparityCell)) or index % 3)
    ]
    releases: dict[str, Release] = {}
    for cell in shown:
        scope = scope_of(cell)
        before = releases.get(scope)
        cells = (*before.cells, cell) if before else (cell,)
        releases[scope] = Release(scope, 1, AS_OF, AS_OF, cells)
    expected = released_reference(
        releases,
        dataset.sites,
        [dataset.instrument],
        events,
        min_cell_size=DEFAULT_MIN_CELL_SIZE,
        min_sites=DEFAULT_MIN_SITES,
        as_of=AS_OF,
    ).by_key()
    ours = Reference(dataset, arrivals).cells(releases, covered, AS_OF)
    assert ours == expected
    assert any(isinstance(cell, (DistributionCell, RankCell)) for cell in ours.values())
