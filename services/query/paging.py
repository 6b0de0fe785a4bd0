"""Page tokens for list RPCs: opaque to clients, checked on the way back in.

A token is the position after the last item of a page (its sort key) plus a fingerprint of
the request (without paging fields) and the caller, so a token is only valid for the same
query by the same caller. Paging is by position, not by snapshot: a cell published between
two pages shows up on a later page if it sorts after the position.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from jedi.v1 import query_pb2
from services.query.errors import bad_argument
from shared.auth import Principal

T = TypeVar("T")
# The requests that page their results: each has page_size and page_token.
Paged = TypeVar(
    "Paged",
    query_pb2.CompareSitesRequest,
    query_pb2.ListDisparitiesRequest,
    query_pb2.ListSitesRequest,
    query_pb2.ListCompositesRequest,
    query_pb2.ListAuditEventsRequest,
)
# A position in a sorted list: the sort key of the last item of the previous page.
SortKey: TypeAlias = tuple[str | int | float | bool, ...]
_VERSION = 1


@dataclass(frozen=True)
class Page:
    size: int
    after: SortKey | None
    fingerprint: str


def fingerprint(request: Paged, principal: Principal) -> str:
    unpaged = type(request)()
    unpaged.CopyFrom(request)
    unpaged.ClearField("page_token")
    unpaged.ClearField("page_size")
    digest = hashlib.sha256(unpaged.DESCRIPTOR.full_name.encode())
    digest.update(unpaged.SerializeToString(deterministic=True))
    digest.update(principal.key_id.encode())
    return digest.hexdigest()[:16]


def page_of(request: Paged, principal: Principal, *, default_size: int, max_size: int) -> Page:
    """The page a list request asks for; INVALID_ARGUMENT for a bad size or token."""
    if request.page_size < 0:
        raise bad_argument(("page_size", "must not be negative"))
    size = min(request.page_size or default_size, max_size)
    expected = fingerprint(request, principal)
    if not request.page_token:
        return Page(size, None, expected)
    return Page(size, _decode(request.page_token, expected), expected)


def paginate(items: Sequence[tuple[SortKey, T]], page: Page) -> tuple[list[T], str, int]:
    """One page of `items` (sort key, item), sorted here; the next token ("" at the end) and the total."""
    ordered = sorted(items, key=lambda pair: pair[0])
    keys = [key for key, _ in ordered]
    try:
        start = 0 if page.after is None else bisect.bisect_right(keys, page.after)
    except TypeError:  # a forged position that does not compare with this list's keys
        raise bad_argument(("page_token", "not a token this service issued")) from None
    chosen = ordered[start : start + page.size]
    more = start + page.size < len(ordered)
    token = _encode(chosen[-1][0], page.fingerprint) if more and chosen else ""
    return [item for _, item in chosen], token, len(ordered)


def _encode(after: SortKey, request_fingerprint: str) -> str:
    document = json.dumps(
        {"v": _VERSION, "f": request_fingerprint, "a": list(after)}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _decode(token: str, expected_fingerprint: str) -> SortKey:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document: object = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_argument(("page_token", "not a token this service issued")) from None
    if (
        not isinstance(document, dict)
        or document.get("v") != _VERSION
        or not isinstance(document.get("a"), list)
    ):
        raise bad_argument(("page_token", "not a token this service issued"))
    if document.get("f") != expected_fingerprint:
        raise bad_argument(("page_token", "issued for a different request or caller"))
    after = document["a"]
    if not all(isinstance(part, (str, int, float, bool)) for part in after):
        raise bad_argument(("page_token", "not a token this service issued"))
    return tuple(after)
