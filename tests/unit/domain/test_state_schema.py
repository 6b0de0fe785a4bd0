"""The site state's stored form: schema 1 (score sums as fractions) is still read, exactly."""

from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.aggregates import (
    apply_survey_response,
    empty_site_state,
    state_from_dict,
    state_to_dict,
)
from shared.domain.benchmarks import site_cells

from .factories import AS_OF, INSTRUMENT, responses, site


def fold(events, state=None):
    return reduce(
        lambda current, event: apply_survey_response(current, event, INSTRUMENT),
        events,
        state or empty_site_state("s1"),
    )


def as_schema_1(state):
    """What the processor stored before the integer tallies."""
    document = state_to_dict(state)
    for row, tally in zip(
        document["survey"]["composites"], sorted(state.survey.composites.items()), strict=True
    ):
        del row["totals"]
        row["score_sum"] = str(tally[1].score_sum)
        row["score_square_sum"] = str(tally[1].score_square_sum)
    return {**document, "schema": 1}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_schema_1_state_reads_exactly_and_folds_on_exactly(data):
    first = data.draw(st.lists(responses(("s1",)), max_size=30))
    later = data.draw(st.lists(responses(("s1",)), max_size=30))
    stored = fold(first)
    restored = state_from_dict(as_schema_1(stored))
    for key, tally in stored.survey.composites.items():
        migrated = restored.survey.composites[key]
        assert (migrated.score_sum, migrated.score_square_sum) == (
            tally.score_sum,
            tally.score_square_sum,
        )
        assert (migrated.respondents, migrated.items) == (tally.respondents, tally.items)
    here = site("s1", resident=40, faculty=20, nurse=30)
    assert site_cells(fold(later, restored), here, as_of=AS_OF) == site_cells(
        fold([*first, *later]), here, as_of=AS_OF
    )
