"""Survey-export columns that would identify a respondent, so an uploader drops them unread."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import pairwise

from shared.domain.validation.errors import FieldError

# Column names are compared as lower-case word tokens: "RecipientEmail", "recipient-email"
# and "Recipient Email" all become ("recipient", "email").
_WHO = "who responded"
_NAME = "a person's name"
_NUMBER = "a personal identifier number"
_DEVICE = "a network or device identifier"
_BIRTH = "a date of birth"
_ADDRESS = "a home address"
_FREE_TEXT = "free text"
_TOOL_RECORD = "a survey tool's response or record id, which links the answers to the tool's record of who responded"

_SINGLE_TOKENS: Mapping[str, str] = {
    **dict.fromkeys(("email", "emailaddress", "mail"), "an email address"),
    **dict.fromkeys(("phone", "telephone", "mobile", "cellphone", "fax"), "a phone number"),
    **dict.fromkeys(("mrn", "npi", "ssn"), _NUMBER),
    **dict.fromkeys(("dob", "birthdate", "birthday"), _BIRTH),
    **dict.fromkeys(
        (
            "firstname",
            "lastname",
            "surname",
            "fullname",
            "nickname",
            "preferredname",
            "username",
            "login",
        ),
        _NAME,
    ),
    **dict.fromkeys(
        ("ip", "ipaddress", "macaddress", "useragent", "fingerprint", "deviceid"), _DEVICE
    ),
    **dict.fromkeys(("latitude", "longitude", "geolocation", "gps"), "a location"),
    **dict.fromkeys(("address", "street", "zip", "zipcode", "postcode", "postalcode"), _ADDRESS),
    **dict.fromkeys(
        (
            "comment",
            "comments",
            "narrative",
            "freetext",
            "notes",
            "note",
            "remarks",
            "feedback",
            "text",
        ),
        _FREE_TEXT,
    ),
    **dict.fromkeys(
        (
            "respondentid",
            "participantid",
            "employeeid",
            "recipientid",
            "staffid",
            "userid",
            "personid",
            "memberid",
            "badgeid",
            "empid",
        ),
        _WHO,
    ),
    **dict.fromkeys(("responseid", "recordid"), _TOOL_RECORD),
}

# A token naming a person followed by one naming a key: "respondent_id", "EmployeeNumber".
_PERSON_TOKENS = frozenset(
    {
        "respondent",
        "participant",
        "employee",
        "emp",
        "recipient",
        "staff",
        "user",
        "person",
        "member",
        "badge",
        "resident",
        "student",
        "faculty",
        "external",
    }
)
_KEY_TOKENS = frozenset(
    {"id", "number", "no", "num", "code", "key", "ref", "reference", "identifier"}
)

_TOKEN_PAIRS: Mapping[tuple[str, str], str] = {
    **{
        (first, "name"): _NAME
        for first in ("first", "last", "full", "given", "family", "middle", "user", "nick")
    },
    ("device", "id"): _DEVICE,
    ("ip", "address"): _DEVICE,
    ("mac", "address"): _DEVICE,
    ("user", "agent"): _DEVICE,
    ("medical", "record"): _NUMBER,
    ("social", "security"): _NUMBER,
    ("date", "birth"): _BIRTH,
    ("birth", "date"): _BIRTH,
    ("free", "text"): _FREE_TEXT,
    ("open", "text"): _FREE_TEXT,
    ("other", "specify"): _FREE_TEXT,
    ("postal", "code"): _ADDRESS,
    ("zip", "code"): _ADDRESS,
    ("response", "id"): _TOOL_RECORD,
    ("record", "id"): _TOOL_RECORD,
    ("survey", "identifier"): _TOOL_RECORD,  # REDCap's redcap_survey_identifier
}

# "name" alone is a person's name unless the column plainly names something else.
_NON_PERSON_NAMES = frozenset(
    {
        "site",
        "hospital",
        "institution",
        "organization",
        "organisation",
        "org",
        "instrument",
        "survey",
        "wave",
        "department",
        "dept",
        "program",
        "programme",
        "item",
        "group",
        "role",
        "file",
        "source",
        "system",
        "collaborative",
        "region",
        "question",
    }
)


def _column_tokens(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column)  # camelCase -> camel Case
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # IPAddress -> IP Address
    return [token for token in re.split(r"[^a-z0-9]+", spaced.lower()) if token]


def explain_identifying_column(column: str) -> str | None:
    """Why a survey-export column could identify a respondent, or None if it looks safe.

    A bare `id` is allowed. A survey tool's response or record id (`ResponseId`,
    `record_id`, `redcap_survey_identifier`) is not: the tool keeps it next to the
    recipient's email, so it would link the answers back to a person.
    """
    tokens = _column_tokens(column)
    joined = "".join(tokens)
    if joined in _SINGLE_TOKENS:
        return _SINGLE_TOKENS[joined]
    for token in tokens:
        if token in _SINGLE_TOKENS:
            return _SINGLE_TOKENS[token]
    for pair in pairwise(tokens):
        if pair in _TOKEN_PAIRS:
            return _TOKEN_PAIRS[pair]
        if pair[0] in _PERSON_TOKENS and pair[1] in _KEY_TOKENS:
            return _WHO
    # "date_of_birth": the pair is separated by "of".
    for first, _, third in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (first, third) in _TOKEN_PAIRS:
            return _TOKEN_PAIRS[(first, third)]
    if "name" in tokens and not _NON_PERSON_NAMES.intersection(tokens):
        return "a person's name"
    return None


def identifying_columns(column_names: Iterable[str]) -> list[str]:
    """The columns of a survey export that could identify a respondent, in input order.

    An uploader refuses a file that has any: protobuf parsing would drop an unknown
    field silently, so the check has to happen on the raw rows.
    """
    return [column for column in column_names if explain_identifying_column(column) is not None]


def identifying_column_errors(column_names: Iterable[str]) -> list[FieldError]:
    """`identifying_columns` with the reason for each, for an uploader to show."""
    errors = []
    for column in column_names:
        reason = explain_identifying_column(column)
        if reason is not None:
            errors.append(FieldError(column, f"column could identify a respondent ({reason})"))
    return errors
