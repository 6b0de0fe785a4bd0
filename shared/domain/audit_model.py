"""The auditor's vocabulary: kinds of attack, findings, and what a reader recovers from a cell.

A reader turns every shown cell into `Counts` (`reader_counts`). A `Derivation` (a set of
people the reader can describe by adding and subtracting shown cells) carries Counts too, and
`judge` decides what the reader learns from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.domain.reader_counts import Counts


class AttackKind(StrEnum):
    SMALL_CELL = "small_cell"  # a shown cell about 1..k-1 people
    SHOWN_FROM_HIDDEN_CELL = (
        "shown_from_hidden_cell"  # a disparity or change shown, a cell it uses hidden
    )
    VERSION_DIFFERENCE = "version_difference"  # two versions of one cell differ by 1..k-1 people
    PARTITION_COMPLEMENT = "partition_complement"  # a total minus its dimension's shown cells
    PARTITION_DIFFERENCE_ACROSS_RELEASES = "partition_difference_across_releases"
    STALE_COMPLEMENT = (
        "stale_complement"  # a remainder minus the last known value of withdrawn cells
    )
    HIDDEN_CELL_REVEALED = "hidden_cell_revealed"  # a newly shown cell minus the few newcomers
    NUMERATOR = "numerator"  # a yes or no count of 1..k-1 among k or more people
    HOMOGENEOUS_HIDDEN_GROUP = (
        "homogeneous_hidden_group"  # every member of a hidden set answered alike
    )
    HIDDEN_SITE_IN_DISTRIBUTION = (
        "hidden_site_in_distribution"  # a site whose total is hidden is counted
    )
    FEW_SITES_IN_DISTRIBUTION = "few_sites_in_distribution"  # fewer sites than min_sites
    REACH_COMPLEMENT = "reach_complement"  # all-topics training counts minus the shown topics
    PINNED_SCORES = "pinned_scores"  # moments that fit one placement of scores, all but one alike


@dataclass(frozen=True)
class Finding:
    """One statistic a reader of the releases can derive about too few people.

    `size` is the number of respondents (invited people, for reach; sites, for the two
    distribution kinds) in the derived set. `releases` are release numbers of `scope`.
    """

    kind: AttackKind
    scope: str
    keys: tuple[str, ...]
    releases: tuple[int, ...]
    size: int
    description: str


@dataclass(frozen=True)
class Derivation:
    """A set of people a reader describes by adding and subtracting shown cells."""

    kind: AttackKind  # what it is when the set holds 1..k-1 people
    scope: str
    keys: tuple[str, ...]
    releases: tuple[int, ...]
    counts: Counts
    hidden: bool  # the set is a hidden part of the data: an attribute all its members share is a finding
    how: str  # how the reader gets it, for the description


def _describe(counts: Counts) -> str:
    parts = [f"n={counts.n}"]
    if counts.yes is not None:
        parts.append(f"yes={counts.yes} no={counts.n - counts.yes}")
    if counts.completed is not None:
        parts.append(f"completed={counts.completed}")
    if counts.score_sum is not None and counts.n:
        parts.append(f"mean score={counts.score_sum / counts.n:.3f}")
    return ", ".join(parts)


def judge(derivation: Derivation, k: int) -> list[Finding]:
    """The findings a derived set gives: too few people, a small yes/no count, or a shared answer."""
    counts = derivation.counts
    if counts.n < 1:
        return []

    def finding(kind: AttackKind, size: int, what: str) -> Finding:
        description = f"{derivation.how}: {what} ({_describe(counts)})"
        return Finding(
            kind,
            derivation.scope,
            tuple(sorted(derivation.keys)),
            derivation.releases,
            size,
            description,
        )

    if counts.n < k:
        return [finding(derivation.kind, counts.n, f"{counts.n} respondent(s) isolated")]
    found = []
    if counts.yes is not None:
        no = counts.n - counts.yes
        small = [count for count in (counts.yes, no) if 1 <= count < k]
        if small:
            found.append(
                finding(
                    AttackKind.NUMERATOR,
                    min(small),
                    f"{min(small)} answered alike among {counts.n}",
                )
            )
        if derivation.hidden and (counts.yes == 0 or no == 0):
            answer = "no" if counts.yes == 0 else "yes"
            found.append(
                finding(
                    AttackKind.HOMOGENEOUS_HIDDEN_GROUP,
                    counts.n,
                    f"all {counts.n} answered {answer}",
                )
            )
    if counts.completed is not None:
        small = [c for c in (counts.completed, counts.n - counts.completed) if 1 <= c < k]
        if small:
            found.append(
                finding(
                    AttackKind.NUMERATOR,
                    min(small),
                    f"{min(small)} of {counts.n} invited completed (or did not)",
                )
            )
    if derivation.hidden and counts.scores_all_equal():
        found.append(
            finding(
                AttackKind.HOMOGENEOUS_HIDDEN_GROUP, counts.n, f"all {counts.n} have the same score"
            )
        )
    return found
