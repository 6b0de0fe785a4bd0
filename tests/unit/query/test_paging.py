from __future__ import annotations

import base64
import json

import pytest

from jedi.v1 import query_pb2
from services.query.errors import QueryError
from services.query.paging import page_of, paginate
from shared.auth import Principal, PrincipalRole

COORDINATOR = Principal("coordinator", PrincipalRole.COORDINATOR)
SITE = Principal("site-a", PrincipalRole.SITE, "site-a")
ITEMS = [
    ((-score, name), name) for score, name in [(3, "c"), (9, "a"), (5, "b"), (5, "d"), (1, "e")]
]


def pages(request, principal=COORDINATOR):
    result = []
    while True:
        page = page_of(request, principal, default_size=2, max_size=3)
        items, token, total = paginate(ITEMS, page)
        result.append(items)
        assert total == len(ITEMS)
        if not token:
            return result
        request.page_token = token


def test_pages_follow_on_in_sort_order():
    assert pages(query_pb2.ListSitesRequest()) == [["a", "b"], ["d", "c"], ["e"]]
    assert pages(query_pb2.ListSitesRequest(page_size=100)) == [["a", "b", "d"], ["c", "e"]]


def _refusal(request, principal=COORDINATOR) -> str:
    with pytest.raises(QueryError) as refused:
        items, token, _ = paginate(ITEMS, page_of(request, principal, default_size=2, max_size=3))
    return refused.value.code.name


def test_bad_tokens_are_invalid_arguments():
    first = page_of(query_pb2.ListDisparitiesRequest(), COORDINATOR, default_size=2, max_size=3)
    _, token, _ = paginate(ITEMS, first)
    assert _refusal(query_pb2.ListDisparitiesRequest(page_token="%%%")) == "INVALID_ARGUMENT"
    assert (
        _refusal(query_pb2.ListDisparitiesRequest(page_token=token, wave=1)) == "INVALID_ARGUMENT"
    )
    assert _refusal(query_pb2.ListDisparitiesRequest(page_token=token), SITE) == "INVALID_ARGUMENT"
    assert _refusal(query_pb2.ListSitesRequest(page_token=token)) == "INVALID_ARGUMENT"
    assert _refusal(query_pb2.ListSitesRequest(page_size=-2)) == "INVALID_ARGUMENT"
    # Right fingerprint, a position of the wrong shape: still refused, not a crash.
    document = json.loads(base64.urlsafe_b64decode(token + "=="))
    document["a"] = [{"x": 1}]
    forged = base64.urlsafe_b64encode(json.dumps(document).encode()).decode()
    assert _refusal(query_pb2.ListDisparitiesRequest(page_token=forged)) == "INVALID_ARGUMENT"
    document["a"] = ["text", "more"]
    forged = base64.urlsafe_b64encode(json.dumps(document).encode()).decode()
    assert _refusal(query_pb2.ListDisparitiesRequest(page_token=forged)) == "INVALID_ARGUMENT"
