"""The per-site summary the site stage sends to the cross-site stage.

Cross-site cells need, of each site, only the scores of the site totals its latest release
shows, for the waves in which it is eligible (`cross_site.site_scores`). A summary is a full
snapshot of that, keyed by site id on a compacted one-partition topic: the latest summary of
every site is all the cross-site stage ever needs. Encoded as JSON; floats round-trip exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Wave


@dataclass(frozen=True)
class SiteSummary:
    site_id: str
    as_of: datetime
    scores: tuple[SiteScore, ...] = ()  # empty: the site takes part in no comparison
    results: tuple[Wave, ...] = ()  # the waves its release is the result of (closed, covered)


def encode_summary(summary: SiteSummary) -> bytes:
    return json.dumps(
        {
            "site_id": summary.site_id,
            "as_of": summary.as_of.isoformat(),
            "scores": [
                [s.wave.value, s.composite.value, s.percent_positive, s.mean]
                for s in summary.scores
            ],
            "results": [wave.value for wave in summary.results],
        },
        separators=(",", ":"),
    ).encode()


def decode_summary(data: bytes) -> SiteSummary:
    document = json.loads(data)
    site_id = document["site_id"]
    return SiteSummary(
        site_id=site_id,
        as_of=datetime.fromisoformat(document["as_of"]),
        scores=tuple(
            SiteScore(site_id, Wave(wave), Composite(composite), percent_positive, mean)
            for wave, composite, percent_positive, mean in document["scores"]
        ),
        results=tuple(Wave(wave) for wave in document.get("results", ())),  # absent before
    )
