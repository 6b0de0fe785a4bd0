"""The privacy auditor: what a reader who kept every release can derive about fewer than k people.

Attacker model. The reader holds every release ever published, of every scope (each site's own
cells, each wave's cross-site cells), in any order: every topic record, every Watch message. They
know the release numbers (a scope's releases are ordered by `number`) and cut times. They add
and subtract counts, sums of scores and sums of squares (recovered from means and t intervals),
and yes counts (recovered from percentages times n), within one release and across releases.
The promise they test: no statistic of a set of 1..k-1 respondents, no yes or no count of
1..k-1 (the numerator rule), and no answer shared by every member of a hidden set of people.

What `audit` checks, per scope (one small function each, in the `audit_*` modules):
- shown cells (`audit_cells`): a breakdown cell, people-describing reach cell, disparity or change
  about 1..k-1 people (SMALL_CELL); an experience cell with 1..k-1 yes or no answers (NUMERATOR);
  a disparity or change shown while a cell it is computed from is hidden (SHOWN_FROM_HIDDEN_CELL);
- any two versions of a cell (`audit_cells`): n differing by 1..k-1 (VERSION_DIFFERENCE), for
  breakdown cells and people-describing reach cells; a yes or no difference of 1..k-1 (NUMERATOR);
- partitions (`audit_partitions`), a family total and one dimension's shown cells, the all-topics
  training completion and the shown topics among them:
  - one release: total minus shown cells (PARTITION_COMPLEMENT, REACH_COMPLEMENT);
  - any two releases: change of the total minus changes of the cells shown in both
    (PARTITION_DIFFERENCE_ACROSS_RELEASES), and a cell newly shown minus those few newcomers
    (HIDDEN_CELL_REVEALED, exact when they all joined it);
  - memory: a remainder minus the last shown values of cells withdrawn since (STALE_COMPLEMENT);
  - for each of these remainders, of k or more people, a yes or no count of 1..k-1 (NUMERATOR)
    and every member answering alike: yes count 0 or all, or zero spread of scores
    (HOMOGENEOUS_HIDDEN_GROUP; a shown total that is homogeneous while a part is hidden shows up
    here, as its remainder inherits it);
- cross-site (`audit_cross_site`): a distribution counting more sites than show that total in
  their latest release at its cut time, or a rank of such a site (HIDDEN_SITE_IN_DISTRIBUTION);
  a distribution over fewer than `min_sites` sites when given (FEW_SITES_IN_DISTRIBUTION).
Sets of 1..k-1 people give one finding of their kind; the numerator and homogeneity findings are
about sets of k or more (a smaller set is already a finding whatever its answers).

What it does not check:
- combinations across families (response counts against composite n, composite A against B,
  experience against response), across dimensions (a role cell against a URiM cell), or across
  waves (a change cell against its two composite cells);
- combinations with other signed coefficients than those above, and combinations of three or
  more releases that no pair of them gives (e.g. newcomers into a cell hidden in between);
- zero spread of scores between releases that are not neighbours in time (neighbours suffice
  while cells only grow: a homogeneous pair has homogeneous or small steps in between);
- homogeneity of a shown cell's own members, or of the newcomers of a shown cell's version
  difference (both are shown sets of k or more);
- composite percent positive times n (an average of item shares whose item n are not shown),
  reach shares other than training completion against each other, medians of incident times,
  what distributions' percentiles over many sites and releases give (beyond counting hidden
  sites), and knowledge the reader brings from outside (e.g. their own k-1 responses).
Reach cells use the same rules with "invited" as the people counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from shared.domain.audit_cells import shown_cell_findings, version_difference_findings
from shared.domain.audit_cross_site import cross_site_findings, is_cross_site
from shared.domain.audit_model import AttackKind, Finding
from shared.domain.audit_partitions import partition_findings
from shared.domain.audit_survey import history_findings, partition_histories
from shared.domain.model import Composite
from shared.domain.published import PublishedRelease, published_form
from shared.domain.reader_counts import Counts
from shared.domain.releases import Release

__all__ = ["AttackKind", "Finding", "audit"]


def releases_by_scope(releases: Iterable[Release]) -> dict[str, list[Release]]:
    """Each scope's releases in number order (as read, for one number written twice after a
    processor crash: a reader keeps both), the same content read twice kept once."""
    by_scope: dict[str, list[Release]] = defaultdict(list)
    for release in releases:
        versions = by_scope[release.scope]
        if not any(_same_content(kept, release) for kept in versions):
            versions.append(release)
    return {
        scope: sorted(versions, key=lambda r: r.number)
        for scope, versions in sorted(by_scope.items())
    }


def _same_content(one: Release, other: Release) -> bool:
    return (one.number, one.as_of, one.cells, dict(one.covered)) == (
        other.number,
        other.as_of,
        other.cells,
        dict(other.covered),
    )


def cross_release_findings(
    scope: str,
    releases: Sequence[PublishedRelease],
    k: int,
    *,
    known_newcomers: Mapping[int, Mapping[str, Counts]] | None = None,
    items_per_composite: Mapping[Composite, int] | None = None,
    ending_at_last: bool = False,
) -> list[Finding]:
    """What arithmetic across one scope's releases (in order) gives; with `ending_at_last`,
    only what the last of them adds to the others (the release gate's question)."""
    findings = version_difference_findings(scope, releases, k)
    findings += partition_findings(scope, releases, k)
    if ending_at_last and releases:
        last = releases[-1].number
        findings = [f for f in findings if last in f.releases]
    for history in partition_histories(releases, known_newcomers):
        if ending_at_last and history.versions[-1].position != len(releases):
            continue  # the last release shows nothing of it
        findings += history_findings(
            scope,
            history,
            k,
            ending_at_last=ending_at_last,
            items_per_composite=items_per_composite,
        )
    return findings


def new_release_findings(
    earlier: Sequence[PublishedRelease],
    release: Release,
    k: int,
    items_per_composite: Mapping[Composite, int] | None = None,
) -> list[Finding]:
    """What `release` adds to its scope's earlier releases: the processor's last check."""
    return [
        *shown_cell_findings(release.scope, [release], k),
        *cross_release_findings(
            release.scope,
            [*earlier, published_form(release)],
            k,
            items_per_composite=items_per_composite,
            ending_at_last=True,
        ),
    ]


def audit(
    releases: Iterable[Release],
    k: int,
    *,
    min_sites: int | None = None,
    known_newcomers: Mapping[str, Mapping[int, Mapping[str, Counts]]] | None = None,
    items_per_composite: Mapping[Composite, int] | None = None,
) -> list[Finding]:
    """Every derivation about too few people the auditor finds in these releases, sorted.

    `known_newcomers[scope][number]`: what the reader is told of the people who arrived just
    before release `number` of `scope` (counts per cell key), e.g. their own submissions.
    """
    if k < 1:
        raise ValueError("the minimum cell size is at least 1")
    scopes = releases_by_scope(releases)
    findings: list[Finding] = []
    for scope, versions in scopes.items():
        if is_cross_site(versions[0]):
            continue
        findings += shown_cell_findings(scope, versions, k)
        findings += cross_release_findings(
            scope,
            [published_form(release) for release in versions],
            k,
            known_newcomers=(known_newcomers or {}).get(scope),
            items_per_composite=items_per_composite,
        )
    findings += cross_site_findings(
        (r for versions in scopes.values() for r in versions), min_sites
    )
    return sorted(
        set(findings), key=lambda f: (f.scope, f.releases, f.kind, f.keys, f.size, f.description)
    )
