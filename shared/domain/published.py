"""What a reader keeps of a release for arithmetic across releases: the counts of each cell.

The auditor's checks across releases, and the release gate's memory of a scope's earlier
releases, read only this: per release, each shown cell that is about a set of people, with the
partition it belongs to and the counts a reader recovers from it (`reader_counts`). It is small
enough to keep with a site's record, where whole releases would not be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.benchmark_set import Cell, ReachCell
from shared.domain.cells import CompositeCell, ExperienceCell, ResponseCell, key_of
from shared.domain.reach import ReachMetric
from shared.domain.reader_counts import Counts, counts_of
from shared.domain.releases import Release
from shared.domain.survey_state import TOTAL

SURVEY = "survey"  # partition kinds: a survey family's dimension ...
REACH_TOPICS = "reach_topics"  # ... training completion by topic ...
ALONE = "alone"  # ... or a people-describing reach value in no partition
TOPIC = "topic"


@dataclass(frozen=True)
class PublishedCell:
    family: str  # the partition's family (a survey family, or a reach metric of the site)
    dimension: str  # "all" for the family's total
    kind: str  # SURVEY, REACH_TOPICS or ALONE
    counts: Counts
    composite: str = ""  # composite cells: which composite (its score grid)
    unanimous: bool = False  # a composite at 0 % or 100 % positive


@dataclass(frozen=True)
class PublishedRelease:
    scope: str
    number: int
    cells: Mapping[str, PublishedCell]  # by cell key


def published_cell(cell: Cell) -> PublishedCell | None:
    counts = counts_of(cell)
    if counts is None:
        return None
    if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)):
        composite = cell.composite.value if isinstance(cell, CompositeCell) else ""
        unanimous = isinstance(cell, CompositeCell) and cell.percent_positive in (0.0, 100.0)
        return PublishedCell(cell.family, cell.dimension, SURVEY, counts, composite, unanimous)
    assert isinstance(cell, ReachCell)
    if cell.metric == ReachMetric.TRAINING_COMPLETION_RATE.value:
        family = key_of("reach", cell.site_id, cell.metric)
        dimension = TOTAL if cell.qualifier == ("all",) else TOPIC
        return PublishedCell(family, dimension, REACH_TOPICS, counts)
    return PublishedCell(cell.key, TOTAL, ALONE, counts)


def published_form(release: Release) -> PublishedRelease:
    cells = {}
    for cell in release.cells:
        found = published_cell(cell)
        if found is not None:
            cells[cell.key] = found
    return PublishedRelease(release.scope, release.number, cells)


def _counts_to_list(counts: Counts) -> list[Any]:
    return [counts.n, counts.yes, counts.completed, counts.score_sum, counts.score_square_sum]


def _counts_from_list(values: list[Any]) -> Counts:
    n, yes, completed, score_sum, squares = values
    return Counts(n, yes, completed, score_sum, squares, abs(squares or 0.0))


def published_to_dict(release: PublishedRelease) -> dict[str, Any]:
    """JSON-ready and exact (floats round-trip through JSON)."""
    return {
        "scope": release.scope,
        "number": release.number,
        "cells": {
            key: [
                c.family,
                c.dimension,
                c.kind,
                _counts_to_list(c.counts),
                c.composite,
                c.unanimous,
            ]
            for key, c in sorted(release.cells.items())
        },
    }


def published_from_dict(document: Mapping[str, Any]) -> PublishedRelease:
    cells = {
        key: PublishedCell(family, dimension, kind, _counts_from_list(counts), composite, unanimous)
        for key, (family, dimension, kind, counts, composite, unanimous) in document[
            "cells"
        ].items()
    }
    return PublishedRelease(document["scope"], document["number"], cells)
