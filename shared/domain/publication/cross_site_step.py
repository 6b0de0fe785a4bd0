"""Stage two, pure: per wave, the distributions and ranks over the eligible sites, as one release.

The cross-site stage keeps one `WaveRecord` per wave: the shown site-total scores of every site
from its latest release (the sites' summaries), and the number and digest of the wave's last
release. A batch of summaries changes some waves; only those are recomputed (`group_cells` and
`hidden_cross_site_keys` per composite, as in the batch reference) and released whole. Every
input is itself released, so a cross-site release says nothing a site release did not; a
release is stored after it is on Kafka, and an unchanged wave needs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from operator import attrgetter

from shared.domain.benchmark_set import Cell
from shared.domain.cross_site import SiteScore, group_cells
from shared.domain.model import Composite, Wave
from shared.domain.publication.site_summary import SiteSummary
from shared.domain.releases import Release, cross_site_scope
from shared.domain.suppression import hidden_cross_site_keys


def wave_key(wave: Wave) -> str:
    return f"wave/{wave.value}"


@dataclass(frozen=True)
class WaveRecord:
    wave: Wave
    scores: Mapping[str, tuple[SiteScore, ...]] = field(default_factory=dict)  # by site id
    as_of: datetime | None = None  # of the last release
    number: int = 0  # of the last release
    digest: str = ""  # of the last release's cells, as_of and whether it is the wave's result
    results: frozenset[str] = frozenset()  # sites whose latest summary is this wave's result


@dataclass(frozen=True)
class WaveStep:
    record: WaveRecord  # store it once the release is on Kafka
    release: Release | None  # None: new scores that change no shown cell


def _scores_after(
    record: WaveRecord, summaries: Iterable[SiteSummary]
) -> dict[str, tuple[SiteScore, ...]]:
    scores = dict(record.scores)
    for summary in summaries:
        scores.pop(summary.site_id, None)
        mine = tuple(score for score in summary.scores if score.wave == record.wave)
        if mine:
            scores[summary.site_id] = mine
    return scores


def _results_after(record: WaveRecord, summaries: Iterable[SiteSummary]) -> frozenset[str]:
    results = set(record.results)
    for summary in summaries:
        results.discard(summary.site_id)
        if record.wave in summary.results:
            results.add(summary.site_id)
    return frozenset(results)


def wave_cells(
    wave: Wave, scores: Mapping[str, tuple[SiteScore, ...]], *, min_sites: int
) -> tuple[Cell, ...]:
    everyone = [score for _, site_scores in sorted(scores.items()) for score in site_scores]
    cells = [cell for composite in Composite for cell in group_cells(wave, composite, everyone)]
    hidden = hidden_cross_site_keys(cells, min_sites)
    return tuple(
        sorted((cell for cell in cells if cell.key not in hidden), key=lambda cell: cell.key)
    )


_FIELD_VALUES: dict[type, Callable[[Cell], tuple[object, ...]]] = {}


def _field_values(cell_type: type) -> Callable[[Cell], tuple[object, ...]]:
    """Every field of a cell type, an enum by its value: read in one call, reprs in C."""
    found = _FIELD_VALUES.get(cell_type)
    if found is None:
        hints = typing.get_type_hints(cell_type)
        names = [
            f"{f.name}._value_"
            if isinstance(hints[f.name], type) and issubclass(hints[f.name], Enum)
            else f.name
            for f in dataclasses.fields(cell_type)
        ]
        getter = attrgetter(*names)
        found = _FIELD_VALUES[cell_type] = getter if len(names) > 1 else lambda c: (getter(c),)
    return found


def cells_digest(as_of: datetime, cells: Iterable[Cell], closed: Iterable[str] = ()) -> str:
    """Of a release's as_of, closed waves and cells: each cell as its type and every field's
    value."""
    material = [as_of.isoformat(), *(f"closed {wave}" for wave in closed)]
    material.extend(repr((type(c).__name__, _field_values(type(c))(c))) for c in cells)
    return hashlib.sha256("\n".join(material).encode()).hexdigest()


def wave_step(
    record: WaveRecord, summaries: Iterable[SiteSummary], *, min_sites: int, cut_at: datetime
) -> WaveStep | None:
    """The wave's next release after a batch of summaries (latest last), or None when unchanged."""
    summaries = list(summaries)
    scores = _scores_after(record, summaries)
    as_of = max(
        [s.as_of for s in summaries] + ([record.as_of] if record.as_of else []), default=None
    )
    if as_of is None:
        return None
    results = _results_after(record, summaries)
    cells = wave_cells(record.wave, scores, min_sites=min_sites)
    # The wave's result once every site it compares has published its own wave's result.
    closed = (record.wave.value,) if scores and results >= scores.keys() else ()
    digest = cells_digest(as_of, cells, closed)
    if digest == record.digest or (not cells and not record.number):
        unchanged = scores == dict(record.scores) and results == record.results
        return (
            None if unchanged else WaveStep(replace(record, scores=scores, results=results), None)
        )
    release = Release(
        cross_site_scope(record.wave), record.number + 1, cut_at, as_of, cells, closed=closed
    )
    return WaveStep(
        replace(
            record,
            scores=scores,
            as_of=as_of,
            number=release.number,
            digest=digest,
            results=results,
        ),
        release,
    )


def encode_wave(record: WaveRecord) -> bytes:
    return json.dumps(
        {
            "wave": record.wave.value,
            "scores": {
                site_id: [[s.composite.value, s.percent_positive, s.mean] for s in site_scores]
                for site_id, site_scores in sorted(record.scores.items())
            },
            "as_of": None if record.as_of is None else record.as_of.isoformat(),
            "number": record.number,
            "digest": record.digest,
            "results": sorted(record.results),
        },
        separators=(",", ":"),
    ).encode()


def decode_wave(data: bytes) -> WaveRecord:
    document = json.loads(data)
    wave = Wave(document["wave"])
    return WaveRecord(
        wave=wave,
        scores={
            site_id: tuple(
                SiteScore(site_id, wave, Composite(c), pp, mean) for c, pp, mean in site_scores
            )
            for site_id, site_scores in document["scores"].items()
        },
        as_of=None if document["as_of"] is None else datetime.fromisoformat(document["as_of"]),
        number=document["number"],
        digest=document["digest"],
        results=frozenset(document.get("results", ())),  # absent before
    )
