"""What the processor keeps of one site between batches: its state, and its releases so far.

The site's accumulated state, the ids of the events already folded into it, the latest
registry record of the site, and its last release (the state over the events it covers, its
number, times and a digest of its cells) travel together, so that a value restored from the
changelog always says exactly which events it contains and what was last released: replayed
events are recognised and skipped, and the next release is gated against the last one.
`services/processor/site_record.py` encodes it for the processor's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.aggregates import SiteState, empty_site_state
from shared.domain.model import Site
from shared.domain.published import PublishedRelease


@dataclass(frozen=True)
class SiteRecord:
    site_id: str
    state: SiteState
    # Events folded into `state`, or dead-lettered: a replayed or re-published event is skipped.
    applied: frozenset[str] = frozenset()
    site: Site | None = None  # None until the registry names the site (or after it is removed)
    site_version: int = -1  # offset of `site` in the sites topic: an older record never wins
    interventions: int = 0  # intervention events folded into `state`
    released: SiteState | None = None  # the state over the events the last release covers
    released_interventions: int = 0
    release_number: int = 0  # of the last release; 0 before the first
    release_cut_at: datetime | None = None
    release_digest: str = ""  # of the last release's cells, as_of and counts covered: an unchanged release is not cut again
    held_back_digest: str = ""  # of the last progress published
    # The last scheduled release time looked at (None: not yet): a release is cut at most once per
    # scheduled time (`publication.calendar`).
    considered_slot: datetime | None = None
    # What a reader keeps of every release of the site so far: each new one is chosen safe with them.
    history: tuple[PublishedRelease, ...] = ()


def new_record(site_id: str) -> SiteRecord:
    return SiteRecord(site_id, empty_site_state(site_id))


def released_state(record: SiteRecord) -> SiteState:
    return record.released if record.released is not None else empty_site_state(record.site_id)
