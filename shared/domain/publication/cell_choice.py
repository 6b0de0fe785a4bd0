"""Which cells a release shows: safe on its own, and safe with every earlier release of its scope.

The gate never refuses a scheduled release; it chooses. It starts from the single-release rules
(`suppression.hidden_site_keys`) and asks the auditor what the candidate adds to the scope's
earlier releases (`audit.cross_release_findings` with `ending_at_last`: exact for survey
partitions). While it finds anything, it hides more, fewest first:
- a cell whose own growth is the finding: that cell;
- a group the total leaves after the shown cells: the smallest of those cells shown now (the
  group then takes it in and grows), or, with none shown now, the family's total (and so the
  family: a family is hidden whole with its total);
- anything else: every cell the finding names that is shown now, and at last the whole family.
Then the single-release rules run again over the new hidden set. Hiding never adds a derivable
group (fewer published values span less), so the loop ends, at worst with nothing of a family
shown in this release, which adds nothing to what was published before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from shared.domain.audit import Finding, cross_release_findings
from shared.domain.benchmark_set import Cell
from shared.domain.model import Composite
from shared.domain.published import PublishedCell, PublishedRelease, published_cell
from shared.domain.suppression import hidden_site_keys
from shared.domain.survey_state import TOTAL


def _published(scope: str, number: int, cells: Sequence[Cell]) -> PublishedRelease:
    found: dict[str, PublishedCell] = {}
    for cell in cells:
        published = published_cell(cell)
        if published is not None:
            found[cell.key] = published
    return PublishedRelease(scope, number, found)


def _to_hide(finding: Finding, candidate: PublishedRelease) -> set[str]:
    shown = [key for key in finding.keys if key in candidate.cells]
    members = [key for key in shown if candidate.cells[key].dimension != TOTAL]
    if members:
        return {min(members, key=lambda key: (candidate.cells[key].counts.n, key))}
    return set(shown)


def _family_of(finding: Finding, releases: Sequence[PublishedRelease]) -> set[str]:
    return {
        release.cells[key].family
        for release in releases
        for key in finding.keys
        if key in release.cells
    }


def choose_shown(
    cells: Sequence[Cell],
    earlier: Sequence[PublishedRelease],
    *,
    scope: str,
    number: int,
    k: int,
    items_per_composite: Mapping[Composite, int] | None = None,
    withheld: Set[str] = frozenset(),
) -> tuple[list[Cell], frozenset[str]]:
    """The cells to show in release `number` of `scope`, and the keys hidden only because of
    earlier releases (what the single-release rules, and `withheld` by policy, leave shown)."""
    alone = hidden_site_keys(cells, k, items=items_per_composite, forced=withheld) | withheld
    forced: set[str] = set(withheld)
    hidden = alone
    while True:
        shown = [cell for cell in cells if cell.key not in hidden]
        candidate = _published(scope, number, shown)
        findings = cross_release_findings(
            scope,
            [*earlier, candidate],
            k,
            items_per_composite=items_per_composite,
            ending_at_last=True,
        )
        if not findings:
            return shown, frozenset(hidden - alone)
        more: set[str] = set()
        for finding in findings:
            more |= _to_hide(finding, candidate)
        if more <= hidden:
            families = set().union(*(_family_of(f, [*earlier, candidate]) for f in findings))
            more = {key for key, cell in candidate.cells.items() if cell.family in families}
        if more <= hidden:
            more = set(candidate.cells)  # fail closed: nothing about people in this release
        forced |= more
        hidden = hidden_site_keys(cells, k, forced=forced, items=items_per_composite) | forced
