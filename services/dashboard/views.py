"""The pages' data: each view is built from the query service's answers for one user and
turned into plain JSON for the browser. A cell the query service does not publish (fewer
than k responses, or hidden by complementary suppression) is marked `suppressed`, never 0."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from google.protobuf.message import Message

from jedi.v1 import benchmarks_pb2, common_pb2, flags_pb2, query_pb2, registry_pb2
from services.dashboard import labels
from services.dashboard.query_client import QueryClient
from services.dashboard.reach_charts import reach_figures
from services.dashboard.release_status import ReleaseBoard, latest_releases

Json = dict[str, Any]


def _opt(message: Message, field: str) -> float | None:
    value: float | None = getattr(message, field) if message.HasField(field) else None
    return value


def site_json(site: registry_pb2.Site) -> Json:
    return {
        "site_id": site.site_id,
        "name": site.name or site.site_id,
        "region": site.region,
        "urbanicity": labels.urbanicity_name(site.urbanicity),
        "teaching_type": labels.teaching_type_name(site.teaching_type),
    }


def composite_json(cell: benchmarks_pb2.CompositeCell) -> Json:
    return {
        "n": cell.n,
        "percent_positive": cell.percent_positive,
        "mean": cell.mean,
        "mean_low": _opt(cell, "mean_low"),
        "mean_high": _opt(cell, "mean_high"),
        "response_rate": _opt(cell, "response_rate"),
    }


def distribution_json(cell: benchmarks_pb2.DistributionCell) -> Json:
    return {
        "sites": cell.sites,
        "p10": cell.p10,
        "p25": cell.p25,
        "p50": cell.p50,
        "p75": cell.p75,
        "p90": cell.p90,
    }


async def available_waves(client: QueryClient) -> list[str]:
    waves = {wave for listing in await client.composites() for wave in listing.waves}
    return [labels.wave_name(w) for w in labels.WAVES if w in waves] or ["baseline"]


async def overview(client: QueryClient, wave: common_pb2.Wave) -> Json:
    """Coordinators: every site on every composite of a wave, against the cross-site band."""
    sites, waves, compared = await asyncio.gather(
        client.sites(),
        available_waves(client),
        asyncio.gather(*(client.compare(c, wave) for c in labels.COMPOSITES)),
    )
    composites = []
    for composite, reply in zip(labels.COMPOSITES, compared, strict=True):
        values = {}
        for row in reply.sites:
            value = composite_json(row.total.composite)
            value["percentile_rank"] = (
                row.rank.rank.percentile_rank if row.HasField("rank") else None
            )
            values[row.site.site_id] = value
        composites.append(
            {
                "composite": labels.composite_name(composite),
                "distribution": distribution_json(reply.distribution.distribution)
                if reply.HasField("distribution")
                else None,
                "values": values,
            }
        )
    return {
        "view": "overview",
        "wave": labels.wave_name(wave),
        "waves": waves,
        "sites": [site_json(listing.site) for listing in sites],
        "composites": composites,
    }


async def scorecard(client: QueryClient, site_id: str, wave: common_pb2.Wave) -> Json:
    """One site: composites against the peers' distribution, breakdowns, gaps and change."""
    card, gaps, trend, waves = await asyncio.gather(
        client.scorecard(site_id, wave),
        client.disparities(site_id, wave),
        client.trend(site_id),
        available_waves(client),
    )
    total = next((c.response for c in card.responses if c.response.dimension == "all"), None)
    composites, breakdowns = [], []
    for entry in card.composites:
        name = labels.composite_name(entry.composite)
        peer = next(
            (
                distribution_json(d.distribution)
                for d in entry.distributions
                if labels.is_percent_positive(d.distribution.measure)
            ),
            None,
        )
        rank = next(
            (r.rank for r in entry.ranks if labels.is_percent_positive(r.rank.measure)), None
        )
        own = composite_json(entry.total.composite) if entry.HasField("total") else None
        composites.append(
            {
                "composite": name,
                "value": own,
                "peer": peer,
                "percentile_rank": rank.percentile_rank if rank else None,
                "rank_sites": rank.sites if rank else None,
            }
        )
        published = {
            (b.composite.dimension, b.composite.group): b.composite for b in entry.breakdowns
        }
        for dimension, groups in labels.BREAKDOWN_GROUPS:
            for group in groups:
                cell = published.get((dimension, group))
                breakdowns.append(
                    {
                        "composite": name,
                        "dimension": dimension,
                        "group": group,
                        "value": composite_json(cell) if cell else None,
                    }
                )
    return {
        "view": "scorecard",
        "site": site_json(card.site),
        "wave": labels.wave_name(card.wave),
        "waves": waves,
        "responses": {"n": total.n, "response_rate": _opt(total, "response_rate")}
        if total
        else None,
        "composites": composites,
        "breakdowns": breakdowns,
        "disparities": [_disparity(cell.disparity) for cell in gaps],
        "changes": [
            _change(cell.change)
            for entry in trend.trends
            for cell in entry.changes
            if cell.change.dimension == "all"
        ],
    }


def _disparity(cell: benchmarks_pb2.DisparityCell) -> Json:
    return {
        "composite": labels.composite_name(cell.composite),
        "dimension": cell.dimension,
        "group": cell.group,
        "reference_group": cell.reference_group,
        "n": cell.n,
        "reference_n": cell.reference_n,
        "difference": cell.difference,
        "low": cell.difference_low,
        "high": cell.difference_high,
        "significant": cell.significant,
    }


def _change(cell: benchmarks_pb2.ChangeCell) -> Json:
    return {
        "composite": labels.composite_name(cell.composite),
        "from_wave": labels.wave_name(cell.from_wave),
        "to_wave": labels.wave_name(cell.to_wave),
        "from_percent_positive": cell.from_percent_positive,
        "to_percent_positive": cell.to_percent_positive,
        "difference": cell.difference,
        "low": cell.difference_low,
        "high": cell.difference_high,
        "direction": labels.direction_name(cell.direction),
    }


async def interventions(client: QueryClient, site_id: str, min_cell_size: int) -> Json:
    """One site's intervention reach: training, incidents, lever and principle coverage, and
    the figures that draw it (`reach_charts`)."""
    reply: query_pb2.GetInterventionReachResponse = await client.reach(site_id)
    metrics = []
    for stored in reply.reach:
        cell = stored.reach
        hidden = cell.describes_people and cell.n < min_cell_size
        metrics.append(
            {
                "metric": cell.metric,
                "qualifier": list(cell.qualifier),
                "n": cell.n,
                "value": None if hidden else cell.value,
                "describes_people": cell.describes_people,
            }
        )
    return {
        "view": "interventions",
        "site": site_json(reply.site),
        "metrics": metrics,
        "figures": reach_figures(metrics),
    }


async def status(client: QueryClient, board: ReleaseBoard | None = None) -> Json:
    """The latest release of each site and wave the user may see, with the responses held back
    since: from ListReleases, or from a board that follows the Watch stream's statuses."""
    rows = await board.rows(client) if board is not None else await latest_releases(client)
    names = {row.site_id: row.site_name for row in rows if row.site_id}
    return {
        "view": "status",
        "releases": [row.to_json() for row in rows],
        "flags": [flag_json(flag, names) for flag in await client.flags()],
    }


def flag_json(flag: flags_pb2.SiteFlag, names: dict[str, str]) -> Json:
    """A site flagged by ingest: an upload refused for exceeding its eligible headcount."""
    return {
        "site_id": flag.site_id,
        "site_name": names.get(flag.site_id, flag.site_id),
        "wave": labels.wave_name(flag.wave),
        "eligible": flag.eligible_headcount,
        "stored": flag.stored_responses,
        "refused": flag.refused_responses,
        "flagged_at": flag.flagged_at.ToDatetime(tzinfo=UTC).isoformat(),
        "reason": flag.reason,
    }
