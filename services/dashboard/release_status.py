"""Live status: the latest release of each site and wave, when it was cut, the responses it
covers and the responses received since (held back until a release may safely show them).

Read from the query service's releases, with the signed-in user's own key, so a site sees only
its own scope and the cross-site ones: `latest_releases` asks `ListReleases`; a `ReleaseBoard`
starts from that answer and then follows the `releases` of the user's Watch stream (new
releases, and progress: new held-back counts while no release can be cut).

A site's release covers every wave of its survey at once (and its intervention events), so its
rows share one release number and cut time; a cross-site release (the distributions and ranks
of one wave) is computed from the sites' released totals and counts no responses of its own.

A wave's row says whether the release is that wave's result: the processor names, in the
status's `closed_waves`, the waves whose close the release is at or after (and that it covers).
Earlier releases of the wave are interim (totals only). Intervention events have no wave, so
their row has no result: not applicable. A cross-site row reads its own release's
`closed_waves` for its wave, like a site's row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jedi.v1 import benchmarks_pb2, common_pb2
from services.dashboard import labels
from services.dashboard.query_client import QueryClient
from shared.domain.releases import INTERVENTIONS

Status = benchmarks_pb2.ReleaseStatus
CROSS_SITE_NAME = "All sites (distributions and ranks)"
# Row order within a site: the survey waves in wave order, then the intervention events.
_COMPONENTS = (*(labels.wave_name(w) for w in labels.WAVES), INTERVENTIONS)


@dataclass(frozen=True)
class ReleaseRow:
    scope: str
    site_id: str | None  # None: a cross-site release
    site_name: str
    wave: str  # "baseline", "midpoint", "follow_up", or "interventions" (a site's intervention events)
    release: int  # the release number; 0: no release shown yet
    cut_at: datetime | None
    covered: int | None  # responses (events) the release covers; None for a cross-site release
    held_back: int | None  # received since and not covered yet; None for a cross-site release
    # True: this release is the wave's result (at or after its close); False: interim (or no
    # release of the wave yet); None: not applicable (a site's intervention events).
    result: bool | None = False

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "site_id": self.site_id,
            "site_name": self.site_name,
            "wave": self.wave,
            "release": self.release,
            "cut_at": self.cut_at.isoformat() if self.cut_at else None,
            "covered": self.covered,
            "held_back": self.held_back,
            "result": self.result,
        }


def rows_of(statuses: Iterable[Status], names: Mapping[str, str]) -> list[ReleaseRow]:
    """One row per site and wave (and the site's intervention events), then one per cross-site wave."""
    sites, cross = [], []
    for status in statuses:
        cut_at = status.cut_at.ToDatetime(tzinfo=UTC) if status.HasField("cut_at") else None
        if not status.site_id:
            cross.append(
                ReleaseRow(
                    status.scope,
                    None,
                    CROSS_SITE_NAME,
                    labels.wave_name(status.wave),
                    status.number,
                    cut_at,
                    None,
                    None,
                    labels.wave_name(status.wave) in status.closed_waves,
                )
            )
            continue
        name = names.get(status.site_id) or status.site_id
        present = set(status.covered) | set(status.held_back)
        for component in (*_COMPONENTS, *sorted(present - set(_COMPONENTS))):
            if component in present:
                sites.append(
                    ReleaseRow(
                        status.scope,
                        status.site_id,
                        name,
                        component,
                        status.number,
                        cut_at,
                        status.covered.get(component, 0),
                        status.held_back.get(component, 0),
                        None if component == INTERVENTIONS else component in status.closed_waves,
                    )
                )
    order = {name: index for index, name in enumerate(_COMPONENTS)}
    sites.sort(key=lambda r: (r.site_name, r.site_id or "", order.get(r.wave, len(order)), r.wave))
    cross.sort(key=lambda r: common_pb2.Wave.Value("WAVE_" + r.wave.upper()))
    return [*sites, *cross]


async def _site_names(client: QueryClient) -> dict[str, str]:
    return {
        listing.site.site_id: listing.site.name or listing.site.site_id
        for listing in await client.sites()
    }


async def latest_releases(client: QueryClient) -> list[ReleaseRow]:
    """The latest release of every scope the user may see (`ListReleases`, with the user's key)."""
    statuses, names = await asyncio.gather(client.releases(), _site_names(client))
    return rows_of(statuses, names)


class ReleaseBoard:
    """The statuses one open status page shows: loaded with ListReleases, then kept current
    from the Watch stream's `releases`.

    Watch sends, for each version it brings the subscriber to, the status of every scope that
    changed since the previous message. Applying those in order on top of a ListReleases answer
    therefore ends at the latest status of each scope, even when the answer was read at a later
    version than some of the messages applied after it: a scope that changed again afterwards
    comes again in a later message. Statuses received before the load started are older than
    its answer and are dropped."""

    def __init__(self) -> None:
        self._statuses: dict[str, Status] = {}
        self._names: dict[str, str] = {}
        self._since_load: list[Status] | None = (
            None  # while loading: the statuses received meanwhile
        )
        self.loaded = False

    def apply(self, statuses: Iterable[Status]) -> bool:
        """Take the statuses of one Watch message; whether any was new to the board."""
        changed = False
        for status in statuses:
            if self._since_load is not None:
                self._since_load.append(status)
            if self._statuses.get(status.scope) != status:
                self._statuses[status.scope] = status
                changed = True
        return changed

    async def load(self, client: QueryClient) -> None:
        self._since_load = []
        try:
            statuses, self._names = await asyncio.gather(client.releases(), _site_names(client))
            received = self._since_load
        finally:
            self._since_load = None
        self._statuses = {status.scope: status for status in statuses}
        for status in received:
            self._statuses[status.scope] = status
        self.loaded = True

    async def rows(self, client: QueryClient) -> list[ReleaseRow]:
        """The rows now (loaded on first use; site names asked again when a new site appears)."""
        if not self.loaded:
            await self.load(client)
        elif any(s.site_id and s.site_id not in self._names for s in self._statuses.values()):
            self._names = await _site_names(client)
        return rows_of(self._statuses.values(), self._names)
