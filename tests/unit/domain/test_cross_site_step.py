"""The cross-site step's wave result: a wave's cross-site release is its result once every site
it compares has published that wave's own result, and not before."""

from __future__ import annotations

from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Wave
from shared.domain.publication.cross_site_step import WaveRecord, wave_step
from shared.domain.publication.site_summary import SiteSummary
from tests.unit.domain.factories import AS_OF

SITES = [f"s{i}" for i in range(10)]


def summary(site_id: str, score: float, *results: Wave) -> SiteSummary:
    scores = (SiteScore(site_id, Wave.BASELINE, Composite.INCLUSION, score, score / 25),)
    return SiteSummary(site_id, AS_OF, scores, results)


def test_the_wave_is_its_result_only_when_every_site_compared_has_published_its_result():
    interim = wave_step(
        WaveRecord(Wave.BASELINE),
        [summary(s, 50.0 + i) for i, s in enumerate(SITES)],
        min_sites=5,
        cut_at=AS_OF,
    )
    assert interim is not None and interim.release is not None
    assert interim.release.closed == ()

    all_but_one = wave_step(
        interim.record,
        [summary(s, 50.0 + i, Wave.BASELINE) for i, s in enumerate(SITES[:-1])],
        min_sites=5,
        cut_at=AS_OF,
    )  # the same scores: the cells do not change, nor does the result
    assert all_but_one is not None and all_but_one.release is None

    last = wave_step(
        all_but_one.record,
        [summary(SITES[-1], 59.0, Wave.BASELINE)],
        min_sites=5,
        cut_at=AS_OF,
    )  # the same cells, now the wave's result: released again to say so
    assert last is not None and last.release is not None
    assert last.release.closed == ("baseline",)
    assert last.release.cells == interim.release.cells

    reopened = wave_step(last.record, [summary(SITES[0], 50.0)], min_sites=5, cut_at=AS_OF)
    assert reopened is not None and reopened.release is not None
    assert reopened.release.closed == ()


def test_a_result_of_another_wave_does_not_count():
    step = wave_step(
        WaveRecord(Wave.BASELINE),
        [summary(s, 60.0, Wave.FOLLOW_UP) for s in SITES],
        min_sites=5,
        cut_at=AS_OF,
    )
    assert step is not None and step.release is not None and step.release.closed == ()
