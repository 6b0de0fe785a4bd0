"""Plausibility of a site's survey counts: never more responses in a wave than eligible staff.

A response rate over 100 % means the data is wrong (a file counted twice under new ids, the
wrong site's export, a headcount never updated): ingest refuses such responses instead of
publishing an impossible benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.model import Site, Wave


@dataclass(frozen=True)
class HeadcountExceeded:
    """New responses that would take a site's wave past its registered eligible headcount."""

    site_id: str
    wave: Wave
    eligible: int  # the site's registered eligible headcount, every role
    stored: int  # responses of the wave already stored
    arriving: int  # new responses of the wave in the refused submission

    def reason(self) -> str:
        total = self.stored + self.arriving
        return (
            f"site {self.site_id!r} would hold {total} responses for the {self.wave} wave "
            f"({self.stored} stored + {self.arriving} new), more than its registered eligible "
            f"headcount of {self.eligible} (a response rate of {total / self.eligible:.0%}); "
            "none of these responses was stored. Check that the export is this site's and this "
            "wave's, that its rows are not counted twice (a response-id column, the same "
            "response key as earlier uploads), and that the registered headcount is current"
        )


def eligible_total(site: Site) -> int:
    return sum(site.eligible_headcount.values())


def check_headcount(site: Site, wave: Wave, stored: int, arriving: int) -> HeadcountExceeded | None:
    """The excess when `stored + arriving` responses exceed the site's eligible headcount; None
    when they do not, or when the site registered no headcount (no rate to check)."""
    eligible = eligible_total(site)
    if eligible <= 0 or arriving <= 0 or stored + arriving <= eligible:
        return None
    return HeadcountExceeded(site.site_id, wave, eligible, stored, arriving)
