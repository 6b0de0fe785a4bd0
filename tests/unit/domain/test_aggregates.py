"""Site state: exact tallies, reverse coding, commutative folding, exact serialisation."""

import json
from fractions import Fraction
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.aggregates import (
    apply_intervention,
    apply_survey_response,
    empty_site_state,
    state_from_dict,
    state_to_dict,
)
from shared.domain.model import (
    PREFER_NOT_TO_SAY,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    Composite,
    GroupDimension,
    IncidentCategory,
    PolicyChange,
    PolicyStage,
    Role,
    TrainingSession,
    TrainingTopic,
    Wave,
)
from shared.domain.survey_state import ItemTally

from .factories import INSTRUMENT, T0, hours_after, intervention, interventions, response, responses

BELONGING_ALL = (Wave.BASELINE, Composite.BELONGING, "all", "all")
SAFETY_ALL = (Wave.BASELINE, Composite.PSYCHOLOGICAL_SAFETY, "all", "all")


def fold(events, state=None):
    def apply(current, event):
        if hasattr(event, "answers"):
            return apply_survey_response(current, event, INSTRUMENT)
        return apply_intervention(current, event)

    return reduce(apply, events, state or empty_site_state("s1"))


def three_respondents():
    return [  # B3 and S2 are reverse-worded: positive means answering 1 or 2
        response(
            {"B1": 5, "B2": 4, "B3": 2, "S1": 3, "S2": None}, groups={GroupDimension.URIM: "yes"}
        ),
        response({"B1": 2, "B2": None, "B3": 5}, groups={GroupDimension.URIM: PREFER_NOT_TO_SAY}),
        response({"B1": 4, "B2": 3, "B3": 4, "S1": 5, "S2": 1}, role=Role.FACULTY),
    ]


def test_tallies_by_hand_with_reverse_coding():
    composites = fold(three_respondents()).survey.composites
    belonging = composites[BELONGING_ALL]
    assert belonging.respondents == 3
    assert belonging.items == {"B1": ItemTally(3, 2), "B2": ItemTally(2, 1), "B3": ItemTally(3, 1)}
    # Respondent scores after recoding B3 as 6 - x: mean(5, 4, 4), mean(2, 1), mean(4, 3, 2).
    assert belonging.score_sum == Fraction(13, 3) + Fraction(3, 2) + 3
    assert belonging.score_square_sum == Fraction(13, 3) ** 2 + Fraction(3, 2) ** 2 + 9
    safety = composites[SAFETY_ALL]
    assert safety.respondents == 2  # the second respondent answered no safety item
    assert safety.items == {"S1": ItemTally(2, 1), "S2": ItemTally(1, 1)}


def test_breakdowns_are_one_way_and_prefer_not_to_say_is_no_cell():
    state = fold(three_respondents())
    keys = {key[2:] for key in state.survey.composites if key[1] == Composite.BELONGING}
    assert keys == {
        ("all", "all"),
        ("role", "resident"),
        ("role", "faculty"),
        ("department", "medicine"),
        ("urim", "yes"),
    }
    assert state.survey.responses[(Wave.BASELINE, "all", "all")].responses == 3


def test_experience_items_are_counted_when_answered():
    state = fold(
        [
            response({}, experienced=True, witnessed=False),
            response({}, experienced=False),
            response({}),
        ]
    )
    tally = state.survey.responses[(Wave.BASELINE, "all", "all")]
    assert (tally.responses, tally.experienced_answered, tally.experienced_yes) == (3, 2, 1)
    assert (tally.witnessed_answered, tally.witnessed_yes) == (1, 0)


@pytest.mark.parametrize(
    "bad",
    [
        response({"B1": 6}),
        response({"B1": True}),
        response({"NOPE": 3}),
        response({"B1": 3}, site_id="other"),
        response({"B1": 3}, groups={GroupDimension.URIM: "maybe"}),
    ],
)
def test_invalid_responses_are_refused(bad):
    with pytest.raises(ValueError):
        apply_survey_response(empty_site_state("s1"), bad, INSTRUMENT)


def test_incident_steps_arriving_out_of_order():
    reported_at = T0
    events = [
        intervention(BiasIncidentResolved("i1"), at=hours_after(reported_at, 72)),
        intervention(BiasIncidentAcknowledged("i1"), at=hours_after(reported_at, 5)),
        intervention(BiasIncidentReported("i1", IncidentCategory.RACISM), at=reported_at),
    ]
    for order in (events, events[::-1], [events[1], events[2], events[0]]):
        record = fold(order).interventions.incidents["i1"]
        assert record.category == IncidentCategory.RACISM
        assert (record.acknowledged_at - record.reported[0]) == 5 * 3_600_000_000
        assert (record.resolved_at - record.reported[0]) == 72 * 3_600_000_000


def test_a_corrected_session_replaces_the_earlier_report_whatever_the_order():
    first = intervention(
        TrainingSession("s", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, 20, 15, 0), at=T0
    )
    correction = intervention(
        TrainingSession("s", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, 20, 15, 14),
        at=hours_after(T0, 1),
    )
    assert fold([first, correction]) == fold([correction, first])
    assert fold([correction, first]).interventions.trainings["s"].completed == 14


def test_a_policy_keeps_its_furthest_stage():
    stages = [
        intervention(PolicyChange("p", stage, "t"))
        for stage in (PolicyStage.ADOPTED, PolicyStage.PROPOSED)
    ]
    assert fold(stages).interventions.policies["p"] == PolicyStage.ADOPTED


def test_applying_returns_a_new_state_and_leaves_the_old_one_alone():
    before = fold(three_respondents())
    snapshot = state_to_dict(before)
    fold([response({"B1": 1})], before)
    assert state_to_dict(before) == snapshot


@settings(max_examples=40, deadline=None)
@given(st.lists(responses() | interventions(), max_size=40), st.randoms(use_true_random=False))
def test_folding_is_order_independent(events, random):
    shuffled = list(events)
    random.shuffle(shuffled)
    in_order, out_of_order = fold(events), fold(shuffled)
    assert in_order == out_of_order
    assert json.dumps(state_to_dict(in_order)) == json.dumps(state_to_dict(out_of_order))


@settings(max_examples=40, deadline=None)
@given(st.lists(responses() | interventions(), max_size=40))
def test_state_round_trips_through_json_exactly(events):
    state = fold(events)
    restored = state_from_dict(json.loads(json.dumps(state_to_dict(state))))
    assert restored == state
    assert state_to_dict(restored) == state_to_dict(state)


def test_an_unknown_schema_is_refused():
    with pytest.raises(ValueError):
        state_from_dict({**state_to_dict(empty_site_state("s1")), "schema": 99})
