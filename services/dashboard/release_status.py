"""Live status: the latest publication of each site and wave, when it was cut, and the
responses received since. The one place that knows how that is learnt.

Today it is read from the cells themselves: the site's total response cell of each wave
gives the time it was computed for (`as_of`) and its `revision`, which stand in for the
release's cut time and number; responses held back are not known yet (None). When the query
service serves release status (issue 10), only `latest_releases` changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from services.dashboard import labels
from services.dashboard.query_client import QueryClient


@dataclass(frozen=True)
class ReleaseRow:
    site_id: str
    site_name: str
    wave: str
    # The release number; today the revision of the site's total response cell.
    release: int
    cut_at: datetime | None
    # Responses received since the release and not yet published; None while unknown.
    held_back: int | None
    # Responses the release covers (the published site total).
    responses: int

    def to_json(self) -> dict[str, Any]:
        return {"site_id": self.site_id, "site_name": self.site_name, "wave": self.wave,
                "release": self.release, "cut_at": self.cut_at.isoformat() if self.cut_at else None,
                "held_back": self.held_back, "responses": self.responses}


async def latest_releases(client: QueryClient) -> list[ReleaseRow]:
    pairs = [(listing.site, wave) for listing in await client.sites() for wave in listing.waves]
    cards = await asyncio.gather(*(client.scorecard(site.site_id, wave) for site, wave in pairs))
    rows = []
    for (site, wave), card in zip(pairs, cards):
        total = next((cell for cell in card.responses if cell.response.dimension == "all"), None)
        if total is None:
            continue
        cut_at = total.as_of.ToDatetime(tzinfo=timezone.utc) if total.HasField("as_of") else None
        rows.append(ReleaseRow(site.site_id, site.name or site.site_id, labels.wave_name(wave),
                               total.revision, cut_at, None, total.response.n))
    return rows
