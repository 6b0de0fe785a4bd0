"""Survey cycles as registered data: one run of a culture survey across the sites taking part.

A coordinator registers a cycle (PutCycle): which instrument version it uses, which sites take
part, when it opens and closes, its release calendar (interim release times; the final release
is always at the close) and, optionally, the deadline by which each site approves its data.

This is a step towards cycles in place of the fixed waves (issue 19): the `Wave` enum is still
what every response names and what the processor uses. A response may also name its cycle
(`SurveyResponse.cycle_id`), and ingest then checks it against the registered cycle
(`shared.domain.validation.survey`). Plain frozen dataclass, standard library only; its checks
are in `shared.domain.validation.cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SurveyCycle:
    cycle_id: str
    # For people: "2026 culture survey".
    name: str
    instrument_id: str
    instrument_version: int
    # The sites taking part, each once.
    site_ids: tuple[str, ...]
    # Responses are accepted in [opens_at, closes_at).
    opens_at: datetime
    closes_at: datetime
    # The release calendar: interim release times in order, within [opens_at, closes_at].
    # Empty: no interim release, only the final one at closes_at.
    interim_releases: tuple[datetime, ...] = ()
    # When each site's approval of its data is due; None: no deadline.
    approval_deadline: datetime | None = None

    def takes_part(self, site_id: str) -> bool:
        return site_id in self.site_ids
