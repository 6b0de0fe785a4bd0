"""The cells computed across sites and from interventions, and the set of all cells.

`BenchmarkSet` is what the batch reference returns and what suppression filters: cells sorted
by key, each key unique (the key of the compacted benchmarks topic).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import TypeVar

from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
    key_of,
)
from shared.domain.model import Composite, Wave


class Measure(StrEnum):
    PERCENT_POSITIVE = "percent_positive"
    MEAN = "mean"


@dataclass(frozen=True)
class DistributionCell:
    """Cross-site distribution of a site-total measure over the sites eligible in a wave."""

    wave: Wave
    composite: Composite
    measure: Measure
    sites: int
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float

    @cached_property  # keys are looked up many times by suppression and the gate
    def key(self) -> str:
        return key_of("distribution", self.wave, self.composite, self.measure)


@dataclass(frozen=True)
class RankCell:
    """A site's percentile rank: the share (0..1) of eligible sites scoring the same or lower."""

    site_id: str
    wave: Wave
    composite: Composite
    measure: Measure
    score: float
    percentile_rank: float
    sites: int

    @cached_property
    def key(self) -> str:
        return key_of("rank", self.site_id, self.wave, self.composite, self.measure)

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (
            key_of("composite", self.site_id, self.wave, self.composite, "all", "all"),
            key_of("distribution", self.wave, self.composite, self.measure),
        )


@dataclass(frozen=True)
class ReachCell:
    """One intervention-reach value of a site; `n` is its denominator (or the count itself)."""

    site_id: str
    metric: str  # a reach.ReachMetric value
    qualifier: tuple[str, ...]  # e.g. (topic,), (quarter,), (cycle, stage); () for none
    value: float
    n: int
    describes_people: bool  # if so, it is withheld when n < k

    @cached_property
    def key(self) -> str:
        return key_of("reach", self.site_id, self.metric, *self.qualifier)


Cell = (
    CompositeCell
    | ResponseCell
    | ExperienceCell
    | DisparityCell
    | ChangeCell
    | DistributionCell
    | RankCell
    | ReachCell
)
BreakdownCell = CompositeCell | ResponseCell | ExperienceCell
DerivedCell = DisparityCell | ChangeCell | RankCell
C = TypeVar("C")


@dataclass(frozen=True)
class BenchmarkSet:
    """Cells sorted by key, computed as of a moment (the end of rolling windows)."""

    as_of: datetime
    cells: tuple[Cell, ...]

    @classmethod
    def of(cls, as_of: datetime, cells: Iterable[Cell]) -> BenchmarkSet:
        listed = list(cells)
        by_key = {cell.key: cell for cell in listed}
        if len(by_key) != len(listed):
            raise ValueError("two cells share a key")
        return cls(as_of, tuple(by_key[key] for key in sorted(by_key)))

    def keys(self) -> frozenset[str]:
        return frozenset(cell.key for cell in self.cells)

    def by_key(self) -> dict[str, Cell]:
        return {cell.key: cell for cell in self.cells}

    def of_type(self, kind: type[C]) -> tuple[C, ...]:
        return tuple(cell for cell in self.cells if isinstance(cell, kind))
