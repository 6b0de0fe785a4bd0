"""Cross-site answers and lists: comparison, distribution, disparities, sites, composites."""

from __future__ import annotations

from jedi.v1 import query_pb2
from services.query import enums
from services.query.access import (
    is_coordinator,
    may_see,
    one_site,
    require_coordinator,
    site_filter,
    visible_site_ids,
)
from services.query.ask import Ask
from services.query.paging import paginate
from services.query.records import StoredCell, as_kind, holding
from shared.domain.benchmark_set import DistributionCell, Measure, RankCell
from shared.domain.cells import CompositeCell, DisparityCell, key_of
from shared.domain.model import WAVE_ORDER, Composite, GroupDimension, Wave
from shared.domain.survey_state import TOTAL


def compare_sites(
    ask: Ask, request: query_pb2.CompareSitesRequest
) -> query_pb2.CompareSitesResponse:
    require_coordinator(ask.principal, "CompareSites")
    composite = enums.from_proto(Composite, request.composite, "composite", required=True)
    wave = enums.from_proto(Wave, request.wave, "wave", required=True)
    measure = enums.from_proto(Measure, request.measure, "measure") or Measure.PERCENT_POSITIVE
    page = ask.page(request)
    chosen = set(request.site_ids)
    cells = ask.snapshot.cells
    rows = []
    for site_id in ask.snapshot.site_ids:
        total = as_kind(
            cells.get(key_of("composite", site_id, wave, composite, TOTAL, TOTAL)), CompositeCell
        )
        if total is None or (chosen and site_id not in chosen):
            continue
        score = (
            total.cell.percent_positive if measure == Measure.PERCENT_POSITIVE else total.cell.mean
        )
        row = query_pb2.SiteComparison()
        row.site.CopyFrom(ask.snapshot.site_message(site_id))
        row.total.CopyFrom(total.message)
        rank = cells.get(key_of("rank", site_id, wave, composite, measure))
        if rank is not None:
            row.rank.CopyFrom(rank.message)
        rows.append(((-score, site_id), row))
    listed, token, total_size = paginate(rows, page)
    reply = query_pb2.CompareSitesResponse(
        sites=listed, next_page_token=token, total_size=total_size
    )
    distribution = cells.get(key_of("distribution", wave, composite, measure))
    if distribution is not None:
        reply.distribution.CopyFrom(distribution.message)
    return reply


def distribution(
    ask: Ask, request: query_pb2.GetDistributionRequest
) -> query_pb2.GetDistributionResponse:
    wave = enums.from_proto(Wave, request.wave, "wave", required=True)
    composite = enums.from_proto(Composite, request.composite, "composite")
    measure = enums.from_proto(Measure, request.measure, "measure")

    def wanted(cell: DistributionCell | RankCell) -> bool:
        return (
            cell.wave == wave
            and composite in (None, cell.composite)
            and measure in (None, cell.measure)
        )

    reply = query_pb2.GetDistributionResponse()
    reply.distributions.extend(
        s.message
        for s in holding(ask.snapshot.of_kind("distribution"), DistributionCell)
        if wanted(s.cell)
    )
    if request.site_id:
        site_id = one_site(ask.principal, request.site_id, ask.snapshot)
        reply.ranks.extend(
            s.message
            for s in holding(ask.snapshot.of_site(site_id, "rank"), RankCell)
            if wanted(s.cell)
        )
    return reply


def disparities(
    ask: Ask, request: query_pb2.ListDisparitiesRequest
) -> query_pb2.ListDisparitiesResponse:
    wave = enums.from_proto(Wave, request.wave, "wave")
    composite = enums.from_proto(Composite, request.composite, "composite")
    dimension = enums.from_proto(GroupDimension, request.dimension, "dimension")
    only_site = site_filter(ask.principal, request.site_id)
    page = ask.page(request)
    found = (
        ask.snapshot.of_kind("disparity")
        if only_site is None
        else ask.snapshot.of_site(only_site, "disparity")
    )
    rows = []
    for stored in holding(found, DisparityCell):
        cell = stored.cell
        if not may_see(ask.principal, stored):
            continue
        if wave not in (None, cell.wave) or composite not in (None, cell.composite):
            continue
        if dimension is not None and cell.dimension != dimension.value:
            continue
        if not cell.significant and not request.include_not_significant:
            continue
        rows.append(((not cell.significant, -abs(cell.difference), stored.key), stored.message))
    listed, token, total_size = paginate(rows, page)
    return query_pb2.ListDisparitiesResponse(
        disparities=listed, next_page_token=token, total_size=total_size
    )


def sites(ask: Ask, request: query_pb2.ListSitesRequest) -> query_pb2.ListSitesResponse:
    page = ask.page(request)
    cells = ask.snapshot.cells
    rows = []
    for site_id in visible_site_ids(ask.principal, ask.snapshot):
        listing = query_pb2.SiteListing(
            waves=[
                enums.wave_to_proto(w)
                for w in WAVE_ORDER
                if key_of("response", site_id, w, TOTAL, TOTAL) in cells
            ]
        )
        listing.site.CopyFrom(ask.snapshot.site_message(site_id))
        rows.append(((site_id,), listing))
    listed, token, total_size = paginate(rows, page)
    return query_pb2.ListSitesResponse(sites=listed, next_page_token=token, total_size=total_size)


def composites(
    ask: Ask, request: query_pb2.ListCompositesRequest
) -> query_pb2.ListCompositesResponse:
    page = ask.page(request)
    snapshot = ask.snapshot
    seen: dict[Composite, set[Wave]] = {composite: set() for composite in Composite}
    sources: list[list[StoredCell[CompositeCell | DistributionCell]]] = [
        holding(snapshot.of_kind("distribution"), DistributionCell)
    ]
    if is_coordinator(ask.principal):
        sources.append(holding(snapshot.of_kind("composite"), CompositeCell))
    elif ask.principal.site_id:
        sources.append(holding(snapshot.of_site(ask.principal.site_id, "composite"), CompositeCell))
    for cells in sources:
        for stored in cells:
            seen[stored.cell.composite].add(stored.cell.wave)
    rows = [
        (
            (index,),
            query_pb2.CompositeListing(
                composite=enums.composite_to_proto(composite),
                waves=[enums.wave_to_proto(w) for w in WAVE_ORDER if w in seen[composite]],
            ),
        )
        for index, composite in enumerate(Composite)
    ]
    listed, token, total_size = paginate(rows, page)
    return query_pb2.ListCompositesResponse(
        composites=listed, next_page_token=token, total_size=total_size
    )
