"""Who may see what: a coordinator sees every site by name; a site sees itself, and its peers
only as the anonymous cross-site distribution.

Every answer goes through these rules. A site asking about any other site id, known or not,
gets the same PERMISSION_DENIED, so a refusal never tells whether a site exists.
"""

from __future__ import annotations

from services.query.errors import QueryError, bad_argument, not_found, permission_denied
from services.query.records import StoredCell
from services.query.scopes import parse_scope
from services.query.snapshot import Snapshot
from shared.auth import Principal, PrincipalRole
from shared.domain.benchmark_set import Cell

SITE_RESOURCE = "jedi.v1.Site"


def is_coordinator(principal: Principal) -> bool:
    return principal.role is PrincipalRole.COORDINATOR


def may_see(principal: Principal, stored: StoredCell[Cell]) -> bool:
    """A distribution (no site) is anonymous; a site's cell is its own site's or a coordinator's."""
    return (
        stored.site_id is None or is_coordinator(principal) or stored.site_id == principal.site_id
    )


def may_see_scope(principal: Principal, scope: str) -> bool:
    """A cross-site release is anonymous; a site's release is its own site's or a coordinator's."""
    if is_coordinator(principal):
        return True
    parsed = parse_scope(scope)
    return parsed is not None and parsed.site_id in (None, principal.site_id)


def one_site(
    principal: Principal, requested: str, snapshot: Snapshot, field: str = "site_id"
) -> str:
    """The site a single-site query is about: a site's own (it may leave the field empty)."""
    if is_coordinator(principal):
        if not requested:
            raise bad_argument((field, "required for a coordinator"))
        if not snapshot.knows_site(requested):
            raise not_found(SITE_RESOURCE, requested)
        return requested
    if requested and requested != principal.site_id:
        raise _peer_refused()
    return principal.site_id or ""


def site_filter(principal: Principal, requested: str) -> str | None:
    """The site a list is restricted to: None means every site (coordinators only)."""
    if is_coordinator(principal):
        return requested or None
    if requested and requested != principal.site_id:
        raise _peer_refused()
    return principal.site_id or ""


def require_coordinator(principal: Principal, what: str) -> None:
    if not is_coordinator(principal):
        raise permission_denied(
            "COORDINATOR_ONLY",
            f"{what} is for coordinators: a site sees its peers only as a distribution",
        )


def visible_site_ids(principal: Principal, snapshot: Snapshot) -> tuple[str, ...]:
    if is_coordinator(principal):
        return snapshot.site_ids
    return (principal.site_id,) if principal.site_id else ()


def _peer_refused() -> QueryError:
    return permission_denied(
        "PEER_NOT_VISIBLE",
        "a site's credential sees only its own site; peers only as a distribution",
    )
