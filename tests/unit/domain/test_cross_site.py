"""Cross-site cells: the ranks and distributions of a group equal their definitions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.benchmark_set import DistributionCell, Measure, RankCell
from shared.domain.cross_site import SiteScore, group_cells
from shared.domain.model import Composite, Wave
from shared.domain.statistics import percentile_rank, percentiles
from shared.domain.suppression import hidden_cross_site_keys

# Coarse values, so that ties are common.
VALUE = st.integers(0, 20).map(lambda v: v * 5.0) | st.floats(0.0, 100.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(VALUE, VALUE), min_size=1, max_size=40))
def test_ranks_and_distributions_follow_their_definitions(
    values: list[tuple[float, float]],
) -> None:
    scores = [
        SiteScore(f"s{i}", Wave.BASELINE, Composite.BELONGING, pp, mean)
        for i, (pp, mean) in enumerate(values)
    ]
    other = SiteScore("other", Wave.MIDPOINT, Composite.BELONGING, 1.0, 1.0)  # not in the group
    cells = group_cells(Wave.BASELINE, Composite.BELONGING, [*scores, other])
    for measure in Measure:
        measured = [score.value(measure) for score in scores]
        (distribution,) = [
            c for c in cells if isinstance(c, DistributionCell) and c.measure == measure
        ]
        found = (distribution.sites, distribution.p10, distribution.p25, distribution.p50) + (
            distribution.p75,
            distribution.p90,
        )
        assert found == (
            len(scores),
            *percentiles(measured),
        )
        ranks = {c.site_id: c for c in cells if isinstance(c, RankCell) and c.measure == measure}
        assert ranks.keys() == {score.site_id for score in scores}
        for score in scores:
            rank = ranks[score.site_id]
            value = score.value(measure)
            assert (rank.score, rank.percentile_rank, rank.sites) == (
                value,
                percentile_rank(value, measured),
                len(scores),
            )


def test_a_distribution_over_too_few_sites_hides_it_and_its_ranks_only() -> None:
    few = [SiteScore(f"s{i}", Wave.BASELINE, Composite.BELONGING, 50.0, 3.0) for i in range(3)]
    many = [SiteScore(f"s{i}", Wave.BASELINE, Composite.INCLUSION, 50.0, 3.0) for i in range(5)]
    belonging = group_cells(Wave.BASELINE, Composite.BELONGING, few)
    inclusion = group_cells(Wave.BASELINE, Composite.INCLUSION, many)
    hidden = hidden_cross_site_keys([*belonging, *inclusion], min_sites=4)
    assert hidden == {cell.key for cell in belonging}
