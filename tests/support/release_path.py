"""The release path replayed in memory: the processor's pure stages, event after event.

The same arrival pattern as `tests/unit/domain/old_publication.py` (a first batch, then one
event at a time), through `site_stage.site_step` for each site and `cross_stage.wave_step` for
each wave, with a scheduled release time passing after every batch (the calendar at its most
frequent), and one more at the end: every release a reader of the new platform would have kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse, Wave
from shared.domain.publication.cross_site_step import WaveRecord, wave_step
from shared.domain.publication.site_record import SiteRecord, new_record
from shared.domain.publication.site_step import SiteChange, SiteEvent, site_step
from shared.domain.releases import Release

Event = SurveyResponse | InterventionEvent


def release_path_releases(
    sites: Sequence[Site],
    instruments: Sequence[Instrument],
    events: Sequence[Event],
    *,
    as_of: datetime,
    first_batch: int = 0,
    batch_sizes: Sequence[int] = (),
    k: int = 10,
    min_sites: int = 10,
) -> list[Release]:
    by_version = {(i.instrument_id, i.version): i for i in instruments}
    records: dict[str, SiteRecord] = {}
    waves = {wave: WaveRecord(wave) for wave in Wave}
    releases: list[Release] = []
    clock = iter(range(1, 10**9))
    slot = as_of

    def step(site_id: str, inputs: list) -> None:
        record = records.get(site_id) or new_record(site_id)
        done = site_step(
            record,
            inputs,
            by_version,
            as_of=as_of,
            slot=slot,
            min_cell_size=k,
        )
        records[site_id] = done.record
        if done.release is not None:
            releases.append(done.release)
        if done.summary is not None:
            for wave, before in waves.items():
                crossed = wave_step(
                    before,
                    [done.summary],
                    min_sites=min_sites,
                    cut_at=slot + timedelta(seconds=next(clock)),
                )
                if crossed is not None:
                    waves[wave] = crossed.record
                    if crossed.release is not None:
                        releases.append(crossed.release)

    for site in sites:
        step(site.site_id, [SiteChange(None, 0, site)])
    batches = [list(events[:first_batch]), *([event] for event in events[first_batch:])]
    if batch_sizes:  # explicit batches instead: each followed by a scheduled time
        starts = [sum(batch_sizes[:i]) for i in range(len(batch_sizes))]
        batches = [list(events[a : a + n]) for a, n in zip(starts, batch_sizes, strict=True)]
    for batch in batches:
        slot += timedelta(hours=1)
        for site_id in dict.fromkeys(event.site_id for event in batch):
            step(site_id, [SiteEvent(None, e.event_id, e) for e in batch if e.site_id == site_id])
    slot += timedelta(hours=1)
    for site in sites:  # the next scheduled time, with nothing new (the leader's refresh)
        step(site.site_id, [])
    return releases
