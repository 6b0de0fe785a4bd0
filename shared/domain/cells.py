"""Benchmark cells of one site's survey: the values the processor publishes, one per key.

Cross-site and reach cells and the `BenchmarkSet` are in `benchmark_set`. Every cell is a
frozen dataclass with a stable string `key`, segments joined by "/" (a "/" or
"%" inside a segment is percent-encoded). Units: `percent*` fields are 0..100 and differences
of them are percentage points; reach `rate`/`share` values are fractions 0..1.

Breakdown cells (composite, response, experience) carry `n`, the number of respondents they
describe, and belong to a `family` (everything but dimension and group); within a family the
cell with dimension "all" is the total the other cells add up to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from shared.domain.model import Composite, Wave


def key_of(*segments: str) -> str:
    parts = [str(segment) for segment in segments]
    joined = "/".join(parts)
    if "%" not in joined and joined.count("/") == len(parts) - 1:
        return joined  # nothing to escape: the common case, and a hot path of the processor
    return "/".join(part.replace("%", "%25").replace("/", "%2F") for part in parts)


@dataclass(frozen=True)
class CompositeCell:
    site_id: str
    wave: Wave
    composite: Composite
    dimension: str  # "all", "role", "department" or a GroupDimension value
    group: str  # "all", a role, a department or a group of that dimension
    n: int  # respondents who answered at least one item of the composite
    mean: float  # mean composite score, 1..5
    mean_low: float | None  # 95% t interval; None when n < 2
    mean_high: float | None
    percent_positive: float  # average of the composite's items' percent positive
    response_rate: float | None  # n / eligible headcount, for the site total and by role only

    @cached_property
    def family(self) -> str:
        return key_of("composite", self.site_id, self.wave, self.composite)

    @cached_property  # keys are looked up many times by suppression and the gate
    def key(self) -> str:
        return key_of(
            "composite", self.site_id, self.wave, self.composite, self.dimension, self.group
        )


@dataclass(frozen=True)
class ResponseCell:
    site_id: str
    wave: Wave
    dimension: str
    group: str
    n: int  # responses
    response_rate: float | None  # n / eligible headcount, for the site total and by role only

    @cached_property
    def family(self) -> str:
        return key_of("response", self.site_id, self.wave)

    @cached_property
    def key(self) -> str:
        return key_of("response", self.site_id, self.wave, self.dimension, self.group)


class Experience(StrEnum):
    EXPERIENCED = "experienced_discrimination"
    WITNESSED = "witnessed_discrimination"


@dataclass(frozen=True)
class ExperienceCell:
    """Share answering "yes" to an experience item; n counts those who answered it."""

    site_id: str
    wave: Wave
    experience: Experience
    dimension: str
    group: str
    n: int
    percent: float
    percent_low: float  # Wilson 95%
    percent_high: float

    @cached_property
    def family(self) -> str:
        return key_of("experience", self.site_id, self.wave, self.experience)

    @cached_property
    def key(self) -> str:
        return key_of(
            "experience", self.site_id, self.wave, self.experience, self.dimension, self.group
        )


@dataclass(frozen=True)
class DisparityCell:
    """Percent positive of a group minus its reference group's, in one site, wave and composite."""

    site_id: str
    wave: Wave
    composite: Composite
    dimension: str  # a GroupDimension value
    group: str
    reference_group: str
    n: int
    reference_n: int
    percent_positive: float
    reference_percent_positive: float
    difference: float  # percentage points
    difference_low: float  # Newcombe hybrid score 95%
    difference_high: float
    significant: bool  # the interval excludes 0

    @cached_property
    def key(self) -> str:
        return key_of(
            "disparity", self.site_id, self.wave, self.composite, self.dimension, self.group
        )

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (
            key_of(
                "composite", self.site_id, self.wave, self.composite, self.dimension, self.group
            ),
            key_of(
                "composite",
                self.site_id,
                self.wave,
                self.composite,
                self.dimension,
                self.reference_group,
            ),
        )


class ChangeDirection(StrEnum):
    IMPROVED = "improved"
    DECLINED = "declined"
    NO_CLEAR_CHANGE = "no_clear_change"


@dataclass(frozen=True)
class ChangeCell:
    """Percent positive of a later wave minus the baseline's, for one breakdown cell."""

    site_id: str
    composite: Composite
    dimension: str
    group: str
    from_wave: Wave
    to_wave: Wave
    from_n: int
    to_n: int
    from_percent_positive: float
    to_percent_positive: float
    difference: float  # percentage points
    difference_low: (
        float  # Newcombe hybrid score 95% (independent samples: the survey is anonymous)
    )
    difference_high: float
    direction: ChangeDirection

    @cached_property
    def key(self) -> str:
        return key_of(
            "change",
            self.site_id,
            self.composite,
            self.dimension,
            self.group,
            self.from_wave,
            self.to_wave,
        )

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(
            key_of("composite", self.site_id, wave, self.composite, self.dimension, self.group)
            for wave in (self.from_wave, self.to_wave)
        )
