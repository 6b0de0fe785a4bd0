"""Validation of domain objects before they are accepted into the platform.

Pure functions: no clock (callers pass `now`), no I/O, no exceptions for bad data.
Each returns a list of `FieldError`; an empty list means valid. Field names are the
protobuf field paths a site submitted (`survey_response.answers["BEL1"]`,
`intervention.training_session.completed`), so a rejection points at the exact input.

Rules enforced here, beyond what the types already guarantee:

- identifiers are non-empty, at most `MAX_ID_LENGTH` (site and instrument ids:
  `MAX_SHORT_ID_LENGTH`) characters of letters, digits and `.`, `_`, `-`, `:`,
  starting with a letter or digit. No spaces and no `@`, so an email address can
  never serve as an id;
- times carry a time zone, are not before `EARLIEST_PLAUSIBLE_TIME` (an unset or
  mis-parsed date) and not after `now + CLOCK_SKEW_ALLOWANCE`. Five minutes of skew
  absorbs ordinary drift between a site's clock and ours without accepting data that
  is really from the future;
- a survey response names a registered instrument version and a wave that
  instrument defines; it was submitted inside that wave's window, which is half-open,
  `[opens_at, closes_at)`; late responses are rejected; its answers are Likert 1..5 on
  the instrument's items, and at least one item is answered; group values are among
  `model.GROUP_VALUES`; a response naming its survey cycle names a registered one, of a site
  taking part, with the cycle's instrument version, submitted in the cycle's half-open
  window `[opens_at, closes_at)` (each refusal names the cycle and its dates);
- counts are non-negative and consistent: completed <= attended <= invited; the
  recruitment funnel narrows (applicants >= interviewed >= ranked >= matched), as do
  its under-represented-in-medicine counts, each of which is at most its stage total;
- a bias incident moves reported -> acknowledged -> resolved, in time order
  (`validate_incident_transition`, given what ingest knows about the incident).

Survey respondents must stay anonymous. The domain and protobuf types have no place
for an identifier, but a CSV or JSON export can carry one in a column that a parser
would silently drop; `identifying_columns` lets an uploader drop such a column while
reading, before any of its values is held.

One module per concern: `errors` (FieldError and the field paths), `checks` (one field
at a time), `survey`, `interventions`, `incidents` (the lifecycle order), `registry` (sites
and instruments), `cycles` (survey cycles, checked against the registry when the caller has
it) and `identifying_columns` (export columns). Import from this package.
"""

from shared.domain.validation.checks import (
    CLOCK_SKEW_ALLOWANCE,
    EARLIEST_PLAUSIBLE_TIME,
    LIKERT_MAX,
    LIKERT_MIN,
    MAX_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_SHORT_ID_LENGTH,
)
from shared.domain.validation.cycles import (
    MAX_CYCLE_SITES,
    MAX_INTERIM_RELEASES,
    validate_cycle,
)
from shared.domain.validation.errors import (
    CYCLE,
    INSTRUMENT,
    INTERVENTION,
    SITE,
    SURVEY_RESPONSE,
    FieldError,
    map_key_path,
)
from shared.domain.validation.identifying_columns import (
    explain_identifying_column,
    identifying_column_errors,
    identifying_columns,
)
from shared.domain.validation.incidents import IncidentTimes, validate_incident_transition
from shared.domain.validation.interventions import detail_field_name, validate_intervention
from shared.domain.validation.registry import validate_instrument, validate_site
from shared.domain.validation.survey import (
    CycleRegistry,
    InstrumentRegistry,
    index_instruments,
    validate_survey_response,
)

__all__ = [
    "CLOCK_SKEW_ALLOWANCE",
    "CYCLE",
    "EARLIEST_PLAUSIBLE_TIME",
    "INSTRUMENT",
    "INTERVENTION",
    "LIKERT_MAX",
    "LIKERT_MIN",
    "MAX_CYCLE_SITES",
    "MAX_ID_LENGTH",
    "MAX_INTERIM_RELEASES",
    "MAX_LABEL_LENGTH",
    "MAX_SHORT_ID_LENGTH",
    "SITE",
    "SURVEY_RESPONSE",
    "CycleRegistry",
    "FieldError",
    "IncidentTimes",
    "InstrumentRegistry",
    "detail_field_name",
    "explain_identifying_column",
    "identifying_column_errors",
    "identifying_columns",
    "index_instruments",
    "map_key_path",
    "validate_cycle",
    "validate_incident_transition",
    "validate_instrument",
    "validate_intervention",
    "validate_site",
    "validate_survey_response",
]
