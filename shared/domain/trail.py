"""The audit trail's domain: what is recorded, how the trail is filtered, and the submission
patterns that look like an attempt to isolate respondents. Pure: no I/O, no clock.

Isolation (docs/privacy.md): k-suppression hides a cell of fewer than k respondents, but a site
credential that uploads a handful of responses at a time can learn about the few it added by
watching the released cells change, and one that uploads about k - 1 responses, then one more,
can make a cell of exactly one known person plus people it chose. Neither is forbidden (sites
do export in pieces), so the trail flags them for a coordinator to look at:

- many small uploads: at least `many` submissions by one key for one site and wave, each
  accepting between 1 and k - 1 survey responses, within `window`;
- a near-k burst: a submission accepting k - 2 to k survey responses, followed within `window`
  by another submission of the same key, site and wave (the "and one more").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class Submission:
    site_id: str
    waves: tuple[str, ...] = ()
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    accepted_responses: int = 0
    # Why the whole call was refused; "" when it was answered.
    refusal: str = ""


@dataclass(frozen=True)
class RegistryChange:
    entity: str  # "site", "instrument" or "cycle"
    entity_id: str


@dataclass(frozen=True)
class QueryCall:
    method: str
    site_ids: tuple[str, ...] = ()
    status: str = "OK"


Detail = Submission | RegistryChange | QueryCall


@dataclass(frozen=True)
class AuditEntry:
    audit_id: str
    time: datetime
    principal: str
    role: str
    service: str
    detail: Detail

    @property
    def site_ids(self) -> tuple[str, ...]:
        """The sites the record is about."""
        detail = self.detail
        if isinstance(detail, Submission):
            return (detail.site_id,) if detail.site_id else ()
        if isinstance(detail, RegistryChange):
            return (detail.entity_id,) if detail.entity == "site" else ()
        return detail.site_ids


@dataclass(frozen=True)
class TrailFilter:
    site_id: str = ""
    principal: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (not self.site_id or self.site_id in entry.site_ids)
            and (not self.principal or entry.principal == self.principal)
            and (self.since is None or entry.time >= self.since)
            and (self.until is None or entry.time < self.until)
        )


def select(entries: Iterable[AuditEntry], where: TrailFilter) -> list[AuditEntry]:
    """The matching entries, newest first (ties: the later recorded first)."""
    matching = [entry for entry in entries if where.matches(entry)]
    return [entry for _, entry in sorted(enumerate(matching), key=lambda p: (p[1].time, p[0]))][
        ::-1
    ]


class FlagKind(StrEnum):
    MANY_SMALL_UPLOADS = "many_small_uploads"
    NEAR_K_BURST = "near_k_burst"


@dataclass(frozen=True)
class IsolationFlag:
    site_id: str
    principal: str
    wave: str
    kind: FlagKind
    reason: str
    audit_ids: tuple[str, ...]
    first_time: datetime
    last_time: datetime


@dataclass(frozen=True)
class IsolationRule:
    k: int = 10
    many: int = 5
    window: timedelta = field(default=timedelta(hours=24))


def isolation_flags(
    entries: Iterable[AuditEntry], rule: IsolationRule = IsolationRule()
) -> list[IsolationFlag]:
    """The flags over the answered submissions among `entries`, by site, key and wave."""
    groups: dict[tuple[str, str, str], list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        detail = entry.detail
        if isinstance(detail, Submission) and not detail.refusal and detail.accepted_responses:
            for wave in detail.waves:
                groups[(detail.site_id, entry.principal, wave)].append(entry)
    flags: list[IsolationFlag] = []
    for (site_id, principal, wave), group in sorted(groups.items()):
        ordered = sorted(group, key=lambda e: e.time)
        flags += _small_uploads(site_id, principal, wave, ordered, rule)
        flags += _near_k_bursts(site_id, principal, wave, ordered, rule)
    return flags


def _responses(entry: AuditEntry) -> int:
    assert isinstance(entry.detail, Submission)
    return entry.detail.accepted_responses


def _small_uploads(
    site_id: str, principal: str, wave: str, ordered: Sequence[AuditEntry], rule: IsolationRule
) -> list[IsolationFlag]:
    """One flag per maximal run of small uploads with at least `many` inside one window."""
    small = [entry for entry in ordered if 0 < _responses(entry) < rule.k]
    flags: list[IsolationFlag] = []
    start = 0
    while start < len(small):
        end = start
        while end + 1 < len(small) and small[end + 1].time - small[start].time <= rule.window:
            end += 1
        run = small[start : end + 1]
        if len(run) >= rule.many:
            flags.append(
                IsolationFlag(
                    site_id,
                    principal,
                    wave,
                    FlagKind.MANY_SMALL_UPLOADS,
                    f"{len(run)} uploads of fewer than k={rule.k} responses each "
                    f"({sum(_responses(e) for e in run)} in all) within {_hours(rule.window)}",
                    tuple(e.audit_id for e in run),
                    run[0].time,
                    run[-1].time,
                )
            )
            start = end + 1
        else:
            start += 1
    return flags


def _near_k_bursts(
    site_id: str, principal: str, wave: str, ordered: Sequence[AuditEntry], rule: IsolationRule
) -> list[IsolationFlag]:
    flags: list[IsolationFlag] = []
    for burst, following in zip(ordered, ordered[1:], strict=False):
        size = _responses(burst)
        if rule.k - 2 <= size <= rule.k and following.time - burst.time <= rule.window:
            flags.append(
                IsolationFlag(
                    site_id,
                    principal,
                    wave,
                    FlagKind.NEAR_K_BURST,
                    f"an upload of {size} responses (about k-1, k={rule.k}) followed by one of "
                    f"{_responses(following)} within {_hours(rule.window)}",
                    (burst.audit_id, following.audit_id),
                    burst.time,
                    following.time,
                )
            )
    return flags


def _hours(window: timedelta) -> str:
    return f"{window.total_seconds() / 3600:g} h"
