"""Per-site accumulated state: the one thing the streaming processor keeps per site.

`apply_survey_response` and `apply_intervention` are pure and commutative: folding the same
events in any order gives an equal state (and identical `state_to_dict` output). They do not
deduplicate; the caller applies each event once. Invalid input (an answer outside 1..5, an item
not in the instrument, an event for another site) raises ValueError: ingest should have rejected
it, so the processor dead-letters it.

The tallies themselves live in `survey_state` and `intervention_state`; this module is the
entry point and re-exports what callers need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.domain.intervention_state import InterventionState, add_intervention
from shared.domain.model import Instrument, InterventionEvent, SurveyResponse
from shared.domain.state_codec import (
    interventions_from_dict,
    interventions_to_dict,
    survey_from_dict,
    survey_to_dict,
)
from shared.domain.survey_state import (
    DEPARTMENT,
    ROLE,
    TOTAL,
    SurveyFold,
    SurveyState,
    add_response,
)

__all__ = [
    "DEPARTMENT",
    "ROLE",
    "TOTAL",
    "SiteFold",
    "SiteState",
    "apply_intervention",
    "apply_survey_response",
    "empty_site_state",
    "state_from_dict",
    "state_to_dict",
]

STATE_SCHEMA = 2  # 1: score sums as fractions (still read)
READABLE_SCHEMAS = (1, STATE_SCHEMA)


@dataclass(frozen=True)
class SiteState:
    site_id: str
    survey: SurveyState = field(default_factory=SurveyState)
    interventions: InterventionState = field(default_factory=InterventionState)


def empty_site_state(site_id: str) -> SiteState:
    return SiteState(site_id)


def _check_site(state: SiteState, site_id: str) -> None:
    if site_id != state.site_id:
        raise ValueError(
            f"an event of site {site_id!r} cannot change the state of site {state.site_id!r}"
        )


class SiteFold:
    """A site state that a batch of events is folded into in place, then frozen once.

    Equal to applying each event in turn (`apply_survey_response`, `apply_intervention`); a
    refused event (ValueError) changes nothing.
    """

    def __init__(self, state: SiteState) -> None:
        self.site_id = state.site_id
        self._state = state
        self._survey = SurveyFold(state.survey)
        self._interventions = state.interventions

    def add_response(self, response: SurveyResponse, instrument: Instrument) -> None:
        _check_site(self._state, response.site_id)
        self._survey.add(response, instrument)

    def add_intervention(self, event: InterventionEvent) -> None:
        _check_site(self._state, event.site_id)
        self._interventions = add_intervention(self._interventions, event)

    def freeze(self) -> SiteState:
        return SiteState(self.site_id, self._survey.freeze(), self._interventions)


def apply_survey_response(
    state: SiteState, response: SurveyResponse, instrument: Instrument
) -> SiteState:
    _check_site(state, response.site_id)
    return replace(state, survey=add_response(state.survey, response, instrument))


def apply_intervention(state: SiteState, event: InterventionEvent) -> SiteState:
    _check_site(state, event.site_id)
    return replace(state, interventions=add_intervention(state.interventions, event))


def state_to_dict(state: SiteState) -> dict[str, Any]:
    return {
        "schema": STATE_SCHEMA,
        "site_id": state.site_id,
        "survey": survey_to_dict(state.survey),
        "interventions": interventions_to_dict(state.interventions),
    }


def state_from_dict(data: Mapping[str, Any]) -> SiteState:
    if data.get("schema") not in READABLE_SCHEMAS:
        raise ValueError(f"unsupported site-state schema {data.get('schema')!r}")
    return SiteState(
        site_id=data["site_id"],
        survey=survey_from_dict(data["survey"]),
        interventions=interventions_from_dict(data["interventions"]),
    )
