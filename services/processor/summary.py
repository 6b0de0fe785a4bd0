"""The per-site summary the site stage sends to the cross-site stage.

Cross-site cells need, of each site, only its eligible site-total scores and whether each
total is shown (a rank is withheld with its site's total). A summary is a full snapshot of
that, keyed by site id on a compacted one-partition topic: the latest summary of every site
is all the cross-site stage ever needs. Encoded as JSON; floats round-trip exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Wave


@dataclass(frozen=True)
class ShownScore:
    score: SiteScore
    shown: bool  # the site-total composite cell it comes from is publishable


@dataclass(frozen=True)
class SiteSummary:
    site_id: str
    as_of: datetime
    scores: tuple[ShownScore, ...] = ()  # empty: the site takes part in no comparison


def encode_summary(summary: SiteSummary) -> bytes:
    return json.dumps(
        {
            "site_id": summary.site_id,
            "as_of": summary.as_of.isoformat(),
            "scores": [
                [s.score.wave.value, s.score.composite.value, s.score.percent_positive, s.score.mean, s.shown]
                for s in summary.scores
            ],
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
            ShownScore(SiteScore(site_id, Wave(wave), Composite(composite), percent_positive, mean), shown)
            for wave, composite, percent_positive, mean, shown in document["scores"]
        ),
    )
