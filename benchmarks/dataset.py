"""Datasets for the benchmarks: the demo dataset at any scale, and a national one of any size.

A national dataset is built from demo datasets (`shared.demo_dataset`), each with its own seed,
their thirteen hospitals renamed into sites `site-0001`, `site-0002`, ... with identifiers of
their own: realistic answers and group mixes, every intervention kind, incidents in lifecycle
order. It is then trimmed to the exact numbers of responses and intervention events asked for.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.demo_dataset import DemoDataset, build_demo_dataset
from shared.domain.model import (
    AffinityGroupMeeting,
    InterventionEvent,
    MentoringPairing,
    RecruitmentFunnelSnapshot,
    Site,
    SurveyResponse,
    TrainingSession,
)
from shared.domain.sample_instrument import JEDI_CULTURE

Event = SurveyResponse | InterventionEvent

# A fixed "now", so every run sees the same events (as the tests and the demo do).
DATASET_NOW = datetime(2026, 11, 20, tzinfo=UTC)
DEMO_SITES = 13
# What the demo dataset holds per scale 1.0 (13 sites): about 5,300 responses.
DEMO_RESPONSES_AT_SCALE_1 = 5300
# Intervention kinds that stand alone: dropping one leaves every other event valid.
_DROPPABLE = (TrainingSession, MentoringPairing, AffinityGroupMeeting)


def demo(scale: float = 1.0) -> DemoDataset:
    """The demo dataset at `scale`; above 1, its hospitals' eligible headcounts grow with it (the
    demo's are for scale 1, and ingest refuses more responses than a site's headcount)."""
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=scale)
    if scale <= 1:
        return dataset
    sites = tuple(
        dataclasses.replace(
            site,
            eligible_headcount={
                role: max(1, round(count * scale))
                for role, count in site.eligible_headcount.items()
            },
        )
        for site in dataset.sites
    )
    return dataclasses.replace(dataset, sites=sites)


def arrival_order(events: Iterable[Event]) -> list[Event]:
    """As sites send them: in time order, so incident steps arrive in lifecycle order."""
    return sorted(events, key=event_time)


def event_time(event: Event) -> datetime:
    return event.occurred_at if isinstance(event, InterventionEvent) else event.submitted_at


def events_of(dataset: DemoDataset) -> list[Event]:
    return arrival_order([*dataset.responses, *dataset.interventions])


def _renamed_detail(detail: Any, old: str, new: str) -> Any:
    """The detail with every identifier that starts with the old site id given the new prefix."""
    changes = {
        f.name: new + value.removeprefix(old)
        for f in dataclasses.fields(detail)
        if isinstance(value := getattr(detail, f.name), str) and value.startswith(old)
    }
    return dataclasses.replace(detail, **changes) if changes else detail


def _site_named(template: Site, number: int, scale: float) -> Site:
    return dataclasses.replace(
        template,
        site_id=f"site-{number:04d}",
        name=f"{template.name} {number}",
        eligible_headcount={
            role: max(1, round(count * scale))
            for role, count in template.eligible_headcount.items()
        },
    )


def national(sites: int, responses: int, interventions: int, *, seed: int = 2026) -> DemoDataset:
    """`sites` sites with exactly `responses` survey responses and about `interventions`
    intervention events (exactly, unless too few stand-alone ones can be dropped)."""
    chunks = -(-sites // DEMO_SITES)
    # Slightly more than asked for, then trimmed: the demo's own counts vary around its scale.
    scale = 1.08 * responses / (chunks * DEMO_RESPONSES_AT_SCALE_1)
    per_site_interventions = interventions / sites
    out_sites: list[Site] = []
    out_responses: list[SurveyResponse] = []
    out_interventions: list[InterventionEvent] = []
    for chunk in range(chunks):
        base = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, seed=seed + chunk, scale=scale)
        extra: list[DemoDataset] = []
        for index, template in enumerate(base.sites):
            number = chunk * DEMO_SITES + index + 1
            if number > sites:
                break
            site = _site_named(template, number, max(scale, 0.05))
            out_sites.append(site)
            out_responses.extend(
                dataclasses.replace(r, site_id=site.site_id)
                for r in base.responses
                if r.site_id == template.site_id
            )
            mine: list[InterventionEvent] = []
            copy = 0
            while len(mine) < per_site_interventions:
                if copy >= len(extra) + 1:
                    extra.append(
                        build_demo_dataset(
                            JEDI_CULTURE,
                            now=DATASET_NOW,
                            seed=seed + 100_000 * (copy + 1) + chunk,
                            scale=0.0001,
                        )
                    )
                source = base if copy == 0 else extra[copy - 1]
                prefix = f"{site.site_id}-{copy}"
                mine.extend(
                    dataclasses.replace(
                        e,
                        site_id=site.site_id,
                        detail=_renamed_detail(e.detail, template.site_id, prefix),
                    )
                    for e in source.interventions
                    if e.site_id == template.site_id
                    # One recruitment snapshot per site and cycle.
                    and not (copy and isinstance(e.detail, RecruitmentFunnelSnapshot))
                )
                copy += 1
            out_interventions.extend(mine)
    rng = random.Random(seed)
    rng.shuffle(out_responses)
    kept_responses = out_responses[:responses]
    surplus = len(out_interventions) - interventions
    droppable = [i for i, e in enumerate(out_interventions) if isinstance(e.detail, _DROPPABLE)]
    dropped = set(rng.sample(droppable, min(max(surplus, 0), len(droppable))))
    kept_interventions = [e for i, e in enumerate(out_interventions) if i not in dropped]
    return DemoDataset(
        tuple(out_sites), JEDI_CULTURE, tuple(kept_responses), tuple(kept_interventions)
    )


def describe(dataset: DemoDataset) -> dict[str, int]:
    return {
        "sites": len(dataset.sites),
        "responses": len(dataset.responses),
        "interventions": len(dataset.interventions),
    }


def by_site(events: Sequence[Event]) -> dict[str, list[Event]]:
    """Each site's events, in the order given."""
    out: dict[str, list[Event]] = {}
    for event in events:
        out.setdefault(event.site_id, []).append(event)
    return out
