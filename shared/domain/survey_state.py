"""Accumulated culture-survey state of one site: integer tallies per breakdown cell.

A breakdown cell is (wave, dimension, group) for one dimension at a time: the site total
("all"/"all"), role, department, or one self-identified group dimension. Never intersections:
two-way cells would be small enough to identify respondents. A respondent who left a group
dimension blank or chose "prefer not to say" is counted only in the site total, so each
dimension's cells plus an implicit residual add up to the total. Role and department are
optional too: a response without one enters the residual of that dimension in the same way.

Tallies are integers and exact rationals (`Fraction`), so adding responses in any order gives
the same state, and every float derived from it is computed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from shared.domain.model import (
    GROUP_VALUES,
    PREFER_NOT_TO_SAY,
    Composite,
    Instrument,
    SurveyResponse,
    Wave,
)

TOTAL = "all"  # the dimension and group name of the site-total cell
ROLE = "role"
DEPARTMENT = "department"

CompositeKey = tuple[Wave, Composite, str, str]  # wave, composite, dimension, group
ResponseKey = tuple[Wave, str, str]  # wave, dimension, group


@dataclass(frozen=True)
class ItemTally:
    answered: int = 0
    positive: int = 0  # agree / strongly agree after reverse coding


@dataclass(frozen=True)
class CompositeTally:
    """Respondents of one composite in one breakdown cell."""

    respondents: int = 0  # respondents who answered at least one item of the composite
    score_sum: Fraction = Fraction(0)  # sum of each respondent's mean item score
    score_square_sum: Fraction = Fraction(0)
    items: Mapping[str, ItemTally] = field(default_factory=dict)


@dataclass(frozen=True)
class ResponseTally:
    """Responses in one breakdown cell, and their answers to the two experience items."""

    responses: int = 0
    experienced_answered: int = 0
    experienced_yes: int = 0
    witnessed_answered: int = 0
    witnessed_yes: int = 0


@dataclass(frozen=True)
class SurveyState:
    composites: Mapping[CompositeKey, CompositeTally] = field(default_factory=dict)
    responses: Mapping[ResponseKey, ResponseTally] = field(default_factory=dict)


def breakdown_cells(response: SurveyResponse) -> Iterator[tuple[str, str]]:
    """The (dimension, group) cells a response counts in."""
    yield TOTAL, TOTAL
    if response.role is not None:
        yield ROLE, response.role.value
    if response.department is not None:
        yield DEPARTMENT, response.department.value
    for dimension, group in response.groups.items():
        if group not in GROUP_VALUES[dimension]:
            raise ValueError(f"{group!r} is not a value of {dimension.value}")
        if group != PREFER_NOT_TO_SAY:
            yield dimension.value, group


def _coded_answers(
    response: SurveyResponse, instrument: Instrument
) -> dict[Composite, list[tuple[str, int]]]:
    """Answers grouped by composite, reverse-worded items recoded as 6 - answer."""
    by_composite: dict[Composite, list[tuple[str, int]]] = {}
    for code, answer in sorted(response.answers.items()):
        if answer is None:
            continue
        item = instrument.item(code)
        if item is None:
            raise ValueError(
                f"item {code!r} is not in instrument {instrument.instrument_id} v{instrument.version}"
            )
        if isinstance(answer, bool) or not isinstance(answer, int) or not 1 <= answer <= 5:
            raise ValueError(f"answer to {code!r} must be an integer 1..5, got {answer!r}")
        by_composite.setdefault(item.composite, []).append(
            (code, 6 - answer if item.reverse_worded else answer)
        )
    return by_composite


def _add_to_composite(
    tally: CompositeTally, coded: list[tuple[str, int]], score: Fraction, score_square: Fraction
) -> CompositeTally:
    """`score` is the respondent's mean of `coded`, computed once for all of its cells."""
    items = dict(tally.items)
    for code, answer in coded:
        before = items.get(code, ItemTally())
        items[code] = ItemTally(before.answered + 1, before.positive + (answer >= 4))
    return CompositeTally(
        respondents=tally.respondents + 1,
        score_sum=tally.score_sum + score,
        score_square_sum=tally.score_square_sum + score_square,
        items=items,
    )


def _add_to_responses(tally: ResponseTally, response: SurveyResponse) -> ResponseTally:
    experienced, witnessed = response.experienced_discrimination, response.witnessed_discrimination
    return replace(
        tally,
        responses=tally.responses + 1,
        experienced_answered=tally.experienced_answered + (experienced is not None),
        experienced_yes=tally.experienced_yes + (experienced is True),
        witnessed_answered=tally.witnessed_answered + (witnessed is not None),
        witnessed_yes=tally.witnessed_yes + (witnessed is True),
    )


def add_response(
    state: SurveyState, response: SurveyResponse, instrument: Instrument
) -> SurveyState:
    if (response.instrument_id, response.instrument_version) != (
        instrument.instrument_id,
        instrument.version,
    ):
        raise ValueError("the response was not given on this instrument version")
    wave = Wave(response.wave)
    cells = list(breakdown_cells(response))
    coded = _coded_answers(response, instrument)
    # Copy only the mappings and tallies this response touches; the rest is shared.
    composites = dict(state.composites)
    for composite, answers in coded.items():
        score = Fraction(sum(answer for _, answer in answers), len(answers))
        score_square = score * score
        for dimension, group in cells:
            composite_key = (wave, composite, dimension, group)
            composites[composite_key] = _add_to_composite(
                composites.get(composite_key, CompositeTally()), answers, score, score_square
            )
    responses = dict(state.responses)
    for dimension, group in cells:
        response_key = (wave, dimension, group)
        responses[response_key] = _add_to_responses(
            responses.get(response_key, ResponseTally()), response
        )
    return SurveyState(composites, responses)
