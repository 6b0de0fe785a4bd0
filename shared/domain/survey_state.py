"""Accumulated culture-survey state of one site: integer tallies per breakdown cell.

A breakdown cell is (wave, dimension, group) for one dimension at a time: the site total
("all"/"all"), role, department, or one self-identified group dimension. Never intersections:
two-way cells would be small enough to identify respondents. A respondent who left a group
dimension blank or chose "prefer not to say" is counted only in the site total, so each
dimension's cells plus an implicit residual add up to the total. Role and department are
optional too: a response without one enters the residual of that dimension in the same way.

Tallies are integers, so adding responses in any order gives the same state, and every float
derived from it is computed the same way. A respondent's composite score is the mean of the m
items it answered, so scores are summed exactly as integers per m (`ScoreTotals`); the exact
rational sums (`CompositeTally.score_sum`) are derived from them only where a cell is computed.
A batch of responses is folded into open, mutable tallies (`SurveyFold`) and frozen once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from shared.domain.model import (
    GROUP_VALUES,
    PREFER_NOT_TO_SAY,
    Composite,
    Instrument,
    Item,
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
class ScoreTotals:
    """Respondents who answered the same number m of a composite's items: the sums of their
    answer totals and of the squares of those totals. Each one's score is its total / m."""

    total: int = 0
    square_total: int = 0


def _denominator(totals: Mapping[int, ScoreTotals]) -> int:
    return math.lcm(*totals) if totals else 1


@dataclass(frozen=True)
class CompositeTally:
    """Respondents of one composite in one breakdown cell, in integers."""

    respondents: int = 0  # respondents who answered at least one item of the composite
    totals: Mapping[int, ScoreTotals] = field(default_factory=dict)  # by items answered
    items: Mapping[str, ItemTally] = field(default_factory=dict)

    @property
    def score_sum(self) -> Fraction:
        """The sum of each respondent's mean item score, exactly."""
        common = _denominator(self.totals)
        return Fraction(sum(t.total * (common // m) for m, t in self.totals.items()), common)

    @property
    def score_square_sum(self) -> Fraction:
        common = _denominator(self.totals)
        return Fraction(
            sum(t.square_total * (common // m) ** 2 for m, t in self.totals.items()),
            common * common,
        )


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
    response: SurveyResponse, instrument: Instrument, items: Mapping[str, Item]
) -> dict[Composite, list[tuple[str, int]]]:
    """Answers grouped by composite, reverse-worded items recoded as 6 - answer."""
    by_composite: dict[Composite, list[tuple[str, int]]] = {}
    for code, answer in sorted(response.answers.items()):
        if answer is None:
            continue
        item = items.get(code)
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


_NO_TALLY = CompositeTally()
# Item tallies are small immutable values that recur (every cell of every site counts answers
# from 0 up): one object per value, instead of one per cell and batch. Emptied when full.
_ITEM_TALLIES: dict[tuple[int, int], ItemTally] = {}


def _item_tally(answered: int, positive: int) -> ItemTally:
    found = _ITEM_TALLIES.get((answered, positive))
    if found is None:
        if len(_ITEM_TALLIES) >= 1 << 18:
            _ITEM_TALLIES.clear()
        found = _ITEM_TALLIES[(answered, positive)] = ItemTally(answered, positive)
    return found


class _OpenComposite:
    """A `CompositeTally` being added to: what the batch adds, kept apart from the tally before,
    so that opening it copies nothing and freezing it keeps the counts the batch left alone."""

    __slots__ = ("before", "items", "respondents", "totals")

    def __init__(self, tally: CompositeTally | None) -> None:
        self.before = tally if tally is not None else _NO_TALLY
        self.respondents = self.before.respondents
        self.totals: dict[int, list[int]] = {}  # added, by items answered
        self.items: dict[str, list[int]] = {}  # added, by item

    def add(self, coded: list[tuple[str, int]], total: int) -> None:
        self.respondents += 1
        sums = self.totals.get(len(coded))
        if sums is None:
            sums = self.totals[len(coded)] = [0, 0]
        sums[0] += total
        sums[1] += total * total
        items = self.items
        for code, answer in coded:
            item = items.get(code)
            if item is None:
                item = items[code] = [0, 0]
            item[0] += 1
            if answer >= 4:
                item[1] += 1

    def freeze(self) -> CompositeTally:
        totals = dict(self.before.totals)
        for m, (total, square_total) in self.totals.items():
            sums = totals.get(m)
            totals[m] = (
                ScoreTotals(total, square_total)
                if sums is None
                else ScoreTotals(sums.total + total, sums.square_total + square_total)
            )
        items = dict(self.before.items)
        for code, (answered, positive) in self.items.items():
            item = items.get(code)
            items[code] = (
                _item_tally(answered, positive)
                if item is None
                else _item_tally(item.answered + answered, item.positive + positive)
            )
        return CompositeTally(
            self.respondents, dict(sorted(totals.items())), dict(sorted(items.items()))
        )


class SurveyFold:
    """A `SurveyState` that responses are added to in place, then frozen once (`freeze`).

    Only the tallies a response touches are opened; the rest is shared with the state folded
    into. A response that is refused (ValueError) changes nothing: everything is checked before
    anything is added.
    """

    def __init__(self, state: SurveyState) -> None:
        self._state = state
        self._composites: dict[CompositeKey, _OpenComposite] = {}
        self._responses: dict[ResponseKey, list[int]] = {}
        self._items: dict[tuple[str, int], dict[str, Item]] = {}

    def _items_of(self, instrument: Instrument) -> dict[str, Item]:
        key = (instrument.instrument_id, instrument.version)
        items = self._items.get(key)
        if items is None:
            items = self._items[key] = {item.code: item for item in instrument.items}
        return items

    def add(self, response: SurveyResponse, instrument: Instrument) -> None:
        if (response.instrument_id, response.instrument_version) != (
            instrument.instrument_id,
            instrument.version,
        ):
            raise ValueError("the response was not given on this instrument version")
        wave = Wave(response.wave)
        cells = list(breakdown_cells(response))
        coded = _coded_answers(response, instrument, self._items_of(instrument))
        for composite, answers in coded.items():
            total = sum(answer for _, answer in answers)
            for dimension, group in cells:
                key = (wave, composite, dimension, group)
                tally = self._composites.get(key)
                if tally is None:
                    tally = self._composites[key] = _OpenComposite(self._state.composites.get(key))
                tally.add(answers, total)
        experienced, witnessed = (
            response.experienced_discrimination,
            response.witnessed_discrimination,
        )
        increments = (
            1,
            experienced is not None,
            experienced is True,
            witnessed is not None,
            witnessed is True,
        )
        for dimension, group in cells:
            response_key = (wave, dimension, group)
            counts = self._responses.get(response_key)
            if counts is None:
                before = self._state.responses.get(response_key, ResponseTally())
                counts = self._responses[response_key] = [
                    before.responses,
                    before.experienced_answered,
                    before.experienced_yes,
                    before.witnessed_answered,
                    before.witnessed_yes,
                ]
            for index, increment in enumerate(increments):
                counts[index] += increment

    def freeze(self) -> SurveyState:
        if not self._composites and not self._responses:
            return self._state
        composites = dict(self._state.composites)
        composites.update((key, tally.freeze()) for key, tally in self._composites.items())
        responses = dict(self._state.responses)
        responses.update((key, ResponseTally(*counts)) for key, counts in self._responses.items())
        return SurveyState(composites, responses)


def add_response(
    state: SurveyState, response: SurveyResponse, instrument: Instrument
) -> SurveyState:
    """`state` with one response added (a batch is cheaper through `SurveyFold`)."""
    fold = SurveyFold(state)
    fold.add(response, instrument)
    return fold.freeze()
