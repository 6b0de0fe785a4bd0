"""Auditor checks on cross-site releases: distributions and ranks against the sites' own releases.

At the moment a cross-site release is cut (`cut_at`), a reader holds each site's latest release
(the highest number cut by then). A distribution may count only sites whose total for that wave
and composite is shown there; a site counted while its total is hidden has its score solvable
from the percentiles by anyone who knows the other sites' scores. A rank of such a site shows
its score outright.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from shared.domain.audit_model import AttackKind, Finding
from shared.domain.benchmark_set import DistributionCell, RankCell
from shared.domain.cells import CompositeCell, key_of
from shared.domain.model import Wave
from shared.domain.releases import Release, cross_site_scope
from shared.domain.survey_state import TOTAL

_CROSS_SITE_SCOPES = frozenset(cross_site_scope(wave) for wave in Wave)


def is_cross_site(release: Release) -> bool:
    return release.scope in _CROSS_SITE_SCOPES


def _shown_totals(release: Release) -> frozenset[tuple[str, str, str]]:
    """(site, wave, composite) of the site totals a site release shows."""
    return frozenset(
        (cell.site_id, cell.wave.value, cell.composite.value)
        for cell in release.cells
        if isinstance(cell, CompositeCell) and cell.dimension == TOTAL
    )


def _judge_cross_site(
    release: Release,
    totals: Counter[tuple[str, str]],
    shown: set[tuple[str, str, str]],
    min_sites: int | None,
) -> list[Finding]:
    findings = []
    for cell in release.cells:
        if isinstance(cell, DistributionCell):
            known = totals[(cell.wave.value, cell.composite.value)]
            if cell.sites > known:
                findings.append(
                    Finding(
                        AttackKind.HIDDEN_SITE_IN_DISTRIBUTION,
                        release.scope,
                        (cell.key,),
                        (release.number,),
                        cell.sites - known,
                        f"{cell.key} in release {release.number} counts {cell.sites} sites, but only {known} "
                        f"show that total in their latest release",
                    )
                )
            if min_sites is not None and cell.sites < min_sites:
                findings.append(
                    Finding(
                        AttackKind.FEW_SITES_IN_DISTRIBUTION,
                        release.scope,
                        (cell.key,),
                        (release.number,),
                        cell.sites,
                        f"{cell.key} in release {release.number} is over {cell.sites} sites, fewer than {min_sites}",
                    )
                )
        elif (
            isinstance(cell, RankCell)
            and (cell.site_id, cell.wave.value, cell.composite.value) not in shown
        ):
            total = key_of("composite", cell.site_id, cell.wave, cell.composite, TOTAL, TOTAL)
            findings.append(
                Finding(
                    AttackKind.HIDDEN_SITE_IN_DISTRIBUTION,
                    release.scope,
                    tuple(sorted((cell.key, total))),
                    (release.number,),
                    1,
                    f"{cell.key} in release {release.number} shows the score of a site whose total is hidden",
                )
            )
    return findings


def cross_site_findings(releases: Iterable[Release], min_sites: int | None) -> list[Finding]:
    """Distributions counting hidden sites (or too few sites), and ranks of hidden sites."""
    # Site releases before cross-site ones cut at the same moment: "at the time" includes it.
    timeline: Sequence[Release] = sorted(
        releases, key=lambda r: (r.cut_at, is_cross_site(r), r.scope, r.number)
    )
    latest: dict[
        str, tuple[int, frozenset[tuple[str, str, str]]]
    ] = {}  # site scope -> number, shown totals
    findings: list[Finding] = []
    for release in timeline:
        if not is_cross_site(release):
            if release.scope not in latest or latest[release.scope][0] < release.number:
                latest[release.scope] = (release.number, _shown_totals(release))
            continue
        shown = {total for _, site_totals in latest.values() for total in site_totals}
        totals = Counter((wave, composite) for _, wave, composite in shown)
        findings += _judge_cross_site(release, totals, shown, min_sites)
    return findings
