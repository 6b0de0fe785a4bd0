"""Stage two, pure: per (wave, composite) group, the distribution and ranks over eligible sites.

The cross-site stage keeps one `GroupRecord` per group: the latest score of every site in it
(from the sites' summaries), the `as_of` and keys of its last publication. A batch of summaries
changes some groups; only those are recomputed (`group_cells` and `hidden_cross_site_keys`, as
in the batch reference) and published. A group record is stored after its cells are on Kafka,
so a stored record is always a published one, and an unchanged group needs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Iterable, Mapping

from shared.domain.benchmark_set import Cell
from shared.domain.cells import key_of
from shared.domain.cross_site import Group, SiteScore, group_cells
from shared.domain.model import Composite, Wave
from shared.domain.suppression import hidden_cross_site_keys
from shared.domain.survey_state import TOTAL

from services.processor.summary import ShownScore, SiteSummary

ALL_GROUPS: tuple[Group, ...] = tuple((wave, composite) for wave in Wave for composite in Composite)


def group_key(group: Group) -> str:
    return key_of(*group)


@dataclass(frozen=True)
class GroupRecord:
    wave: Wave
    composite: Composite
    scores: Mapping[str, ShownScore] = field(default_factory=dict)  # by site id
    as_of: datetime | None = None  # of the last publication
    published: frozenset[str] = frozenset()
    revision: int = 0


@dataclass(frozen=True)
class GroupStep:
    record: GroupRecord  # store it once the cells and tombstones are on Kafka
    cells: tuple[Cell, ...]
    withdrawn: tuple[str, ...]


def _scores_after(record: GroupRecord, summaries: Iterable[SiteSummary]) -> dict[str, ShownScore]:
    scores = dict(record.scores)
    for summary in summaries:
        scores.pop(summary.site_id, None)
        for shown in summary.scores:
            if (shown.score.wave, shown.score.composite) == (record.wave, record.composite):
                scores[summary.site_id] = shown
    return scores


def group_publication(
    wave: Wave, composite: Composite, scores: Mapping[str, ShownScore], *, min_sites: int
) -> tuple[Cell, ...]:
    cells = group_cells(wave, composite, [shown.score for _, shown in sorted(scores.items())])
    shown_totals = {
        key_of("composite", site_id, wave, composite, TOTAL, TOTAL) for site_id, s in scores.items() if s.shown
    }
    hidden = hidden_cross_site_keys(cells, shown_totals, min_sites)
    return tuple(sorted((cell for cell in cells if cell.key not in hidden), key=lambda cell: cell.key))


def group_step(
    record: GroupRecord,
    summaries: Iterable[SiteSummary],
    *,
    min_sites: int,
    next_revision: Callable[[int], int] = lambda last: last + 1,
) -> GroupStep | None:
    """The group after a batch of summaries (latest last), or None when nothing changed."""
    summaries = list(summaries)
    scores = _scores_after(record, summaries)
    as_of = max([s.as_of for s in summaries] + ([record.as_of] if record.as_of else []), default=None)
    if as_of is None or (not scores and not record.published):
        return None  # nothing was or is to be published
    cells = group_publication(record.wave, record.composite, scores, min_sites=min_sites)
    keys = frozenset(cell.key for cell in cells)
    if scores == dict(record.scores) and as_of == record.as_of and keys == record.published:
        return None  # published as it is (a stored record with more keys may be on the topic: not this)
    updated = replace(record, scores=scores, as_of=as_of, published=keys, revision=next_revision(record.revision))
    return GroupStep(updated, cells, tuple(sorted(record.published - keys)))


def encode_group(record: GroupRecord) -> bytes:
    return json.dumps(
        {
            "wave": record.wave.value,
            "composite": record.composite.value,
            "scores": {
                site_id: [shown.score.percent_positive, shown.score.mean, shown.shown]
                for site_id, shown in sorted(record.scores.items())
            },
            "as_of": None if record.as_of is None else record.as_of.isoformat(),
            "published": sorted(record.published),
            "revision": record.revision,
        },
        separators=(",", ":"),
    ).encode()


def decode_group(data: bytes) -> GroupRecord:
    document = json.loads(data)
    wave, composite = Wave(document["wave"]), Composite(document["composite"])
    return GroupRecord(
        wave=wave,
        composite=composite,
        scores={
            site_id: ShownScore(SiteScore(site_id, wave, composite, percent_positive, mean), shown)
            for site_id, (percent_positive, mean, shown) in document["scores"].items()
        },
        as_of=None if document["as_of"] is None else datetime.fromisoformat(document["as_of"]),
        published=frozenset(document["published"]),
        revision=document["revision"],
    )
