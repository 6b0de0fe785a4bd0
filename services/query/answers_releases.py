"""ListReleases: the latest release status of every scope the caller may see, and the sites
flagged for an implausible upload (a coordinator: every site; a site: its own)."""

from __future__ import annotations

from jedi.v1 import query_pb2
from services.query.access import may_see_scope, site_filter
from services.query.ask import Ask
from services.query.scopes import parse_scope


def releases(ask: Ask, request: query_pb2.ListReleasesRequest) -> query_pb2.ListReleasesResponse:
    """By scope; a site sees its own site's and the cross-site ones (another site id: refused)."""
    only_site = site_filter(ask.principal, request.site_id)
    reply = query_pb2.ListReleasesResponse()
    for scope, status in ask.snapshot.statuses.items():  # sorted by scope
        parsed = parse_scope(scope)
        if parsed is None or not may_see_scope(ask.principal, scope):
            continue
        if only_site is not None and parsed.site_id not in (None, only_site):
            continue
        reply.releases.append(status)
    for _, flag in sorted(ask.snapshot.flags.items()):
        if not ask.principal.may_write(flag.site_id):  # a coordinator, or the site itself
            continue
        if only_site is not None and flag.site_id != only_site:
            continue
        reply.flags.append(flag)
    return reply
