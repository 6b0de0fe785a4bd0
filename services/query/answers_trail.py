"""ListAuditEvents: the audit trail for coordinators, newest first, with the isolation flags
over the submissions that match."""

from __future__ import annotations

from datetime import UTC

from jedi.v1 import query_pb2
from services.query.access import is_coordinator
from services.query.errors import permission_denied, unavailable
from services.query.paging import page_of, paginate
from shared.audit_trail import AuditTrailStore, entry_to_proto, flag_to_proto
from shared.auth import Principal
from shared.domain.trail import IsolationRule, TrailFilter, isolation_flags, select


def audit_events(
    principal: Principal,
    store: AuditTrailStore,
    request: query_pb2.ListAuditEventsRequest,
    *,
    rule: IsolationRule,
    default_page_size: int,
    max_page_size: int,
) -> query_pb2.ListAuditEventsResponse:
    if not is_coordinator(principal):
        raise permission_denied("COORDINATOR_ONLY", "the audit trail is for coordinators only")
    if not store.caught_up.is_set():
        raise unavailable("the audit trail is still loading", 1.0)
    where = TrailFilter(
        site_id=request.site_id,
        principal=request.principal,
        since=request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None,
        until=request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None,
    )
    matching = select(store.entries, where)  # newest first
    page = page_of(request, principal, default_size=default_page_size, max_size=max_page_size)
    entries, token, total = paginate(
        [((position,), entry) for position, entry in enumerate(matching)], page
    )
    return query_pb2.ListAuditEventsResponse(
        events=[entry_to_proto(entry) for entry in entries],
        next_page_token=token,
        total_size=total,
        flags=[flag_to_proto(flag) for flag in isolation_flags(matching, rule)],
    )
