"""Single-site answers: scorecard, trend and intervention reach (site scope checked first)."""

from __future__ import annotations

from jedi.v1 import query_pb2
from services.query import enums
from services.query.access import one_site
from services.query.ask import Ask
from services.query.errors import bad_argument
from services.query.records import holding
from shared.domain.benchmark_set import DistributionCell, RankCell, ReachCell
from shared.domain.cells import ChangeCell, CompositeCell, ResponseCell, key_of
from shared.domain.model import WAVE_ORDER, Composite, Wave
from shared.domain.reach import ReachMetric
from shared.domain.survey_state import TOTAL


def site_scorecard(
    ask: Ask, request: query_pb2.GetSiteScorecardRequest
) -> query_pb2.GetSiteScorecardResponse:
    wave = enums.from_proto(Wave, request.wave, "wave", required=True)
    snapshot = ask.snapshot
    site_id = one_site(ask.principal, request.site_id, snapshot)
    of_wave = [s for s in snapshot.of_site(site_id) if getattr(s.cell, "wave", None) == wave]
    reply = query_pb2.GetSiteScorecardResponse(wave=request.wave)
    reply.site.CopyFrom(snapshot.site_message(site_id))
    responses = holding(of_wave, ResponseCell)
    responses.sort(key=lambda s: (s.cell.dimension != TOTAL, s.key))
    reply.responses.extend(s.message for s in responses)
    reply.experiences.extend(s.message for s in of_wave if s.kind == "experience")
    for composite in Composite:
        cells = [s for s in holding(of_wave, CompositeCell) if s.cell.composite == composite]
        if not cells:
            continue
        entry = reply.composites.add(composite=enums.composite_to_proto(composite))
        for stored in cells:
            if stored.cell.dimension == TOTAL:
                entry.total.CopyFrom(stored.message)
            else:
                entry.breakdowns.append(stored.message)
        entry.distributions.extend(
            s.message
            for s in holding(snapshot.of_kind("distribution"), DistributionCell)
            if s.cell.wave == wave and s.cell.composite == composite
        )
        entry.ranks.extend(
            s.message for s in holding(of_wave, RankCell) if s.cell.composite == composite
        )
    return reply


def trend(ask: Ask, request: query_pb2.GetTrendRequest) -> query_pb2.GetTrendResponse:
    only = enums.from_proto(Composite, request.composite, "composite")
    if request.group and not request.dimension:
        raise bad_argument(("dimension", "required when a group is given"))
    if request.dimension and request.dimension != TOTAL and not request.group:
        raise bad_argument(("group", "required when a dimension is given"))
    dimension, group = request.dimension or TOTAL, request.group or TOTAL
    snapshot = ask.snapshot
    site_id = one_site(ask.principal, request.site_id, snapshot)
    cells = snapshot.cells
    reply = query_pb2.GetTrendResponse()
    reply.site.CopyFrom(snapshot.site_message(site_id))
    for composite in Composite:
        if only is not None and composite != only:
            continue
        points = [
            cells.get(key_of("composite", site_id, wave, composite, dimension, group))
            for wave in WAVE_ORDER
        ]
        changes = [
            s
            for s in holding(snapshot.of_site(site_id, "change"), ChangeCell)
            if s.cell.composite == composite
            and s.cell.dimension == dimension
            and s.cell.group == group
        ]
        ranks = [
            s
            for wave in WAVE_ORDER
            for s in holding(snapshot.of_site(site_id, "rank"), RankCell)
            if dimension == TOTAL and s.cell.wave == wave and s.cell.composite == composite
        ]
        if not any(points) and not changes:
            continue
        entry = reply.trends.add(composite=enums.composite_to_proto(composite))
        entry.points.extend(s.message for s in points if s is not None)
        entry.changes.extend(s.message for s in changes)
        entry.ranks.extend(s.message for s in ranks)
    return reply


def intervention_reach(
    ask: Ask, request: query_pb2.GetInterventionReachRequest
) -> query_pb2.GetInterventionReachResponse:
    if request.metric and request.metric not in {metric.value for metric in ReachMetric}:
        raise bad_argument(("metric", f"{request.metric!r} is not a reach metric"))
    snapshot = ask.snapshot
    site_id = one_site(ask.principal, request.site_id, snapshot)
    reply = query_pb2.GetInterventionReachResponse()
    reply.site.CopyFrom(snapshot.site_message(site_id))
    reply.reach.extend(
        s.message
        for s in holding(snapshot.of_site(site_id, "reach"), ReachCell)
        if not request.metric or s.cell.metric == request.metric
    )
    return reply
