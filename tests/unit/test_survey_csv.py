"""Reading a survey export: column mapping, refusal of identifying columns, row errors."""

import csv
import io

import pytest

from services.cli.survey_csv import MappingError, SurveyMapping, column_targets, read_rows, row_event_id
from shared.domain.model import GroupDimension, Role, Wave

MAPPING = SurveyMapping(
    site_id="site-north", instrument_id="jedi-culture", instrument_version=1, wave="baseline",
    columns={"EndDate": "submitted_at", "Q_Role": "role"}, values={"role": {"Attending": "faculty"}},
    ignore=frozenset({"Progress"}),
)
ITEMS = {"BEL1", "BEL2"}


def rows(text: str):
    return csv.DictReader(io.StringIO(text))


def test_columns_map_by_name_by_mapping_or_are_ignored():
    header = ["Progress", "EndDate", "Q_Role", "department", "urim", "BEL1", "BEL2"]
    targets = column_targets(header, MAPPING, ITEMS)
    assert targets == {"EndDate": "submitted_at", "Q_Role": "role", "department": "department",
                       "urim": "group:urim", "BEL1": "item:BEL1", "BEL2": "item:BEL2"}


def test_an_identifying_or_unknown_column_refuses_the_whole_file():
    with pytest.raises(MappingError) as raised:
        column_targets(["EndDate", "Q_Role", "RecipientEmail", "Mystery", "BEL1"], MAPPING, ITEMS)
    fields = {error.field for error in raised.value.errors}
    assert fields == {"RecipientEmail", "Mystery"}


def test_rows_become_responses_or_errors_with_stable_event_ids():
    header = ["EndDate", "Q_Role", "department", "urim", "BEL1", "BEL2"]
    targets = column_targets(header, MAPPING, ITEMS)
    text = ("EndDate,Q_Role,department,urim,BEL1,BEL2\n"
            "2025-10-01 09:00:00,Attending,medicine,yes,Strongly agree,\n"
            "2025-10-01 10:00:00,pilot,medicine,no,3,x\n")
    good, bad = read_rows(rows(text), targets, MAPPING, digest="abc")
    assert good.errors == [] and good.event_id == row_event_id("abc", 1)
    response = good.response
    assert response.role is Role.FACULTY and response.wave is Wave.BASELINE
    assert response.answers == {"BEL1": 5, "BEL2": None}
    assert response.groups == {GroupDimension.URIM: "yes"}
    assert response.submitted_at.tzinfo is not None
    assert bad.response is None and {e.field for e in bad.errors} == {"role", "BEL2"}
