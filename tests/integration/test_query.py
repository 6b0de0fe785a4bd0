"""The query service over a real socket, against the batch reference of the demo dataset.

The benchmarks topic is filled with `compute_benchmarks(...)` of the demo dataset (see
tests/support/query.py), so the answers are checked against the reference cell for cell,
independently of the processor.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import grpc
import pytest
import pytest_asyncio
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from jedi.v1 import benchmarks_pb2, common_pb2, query_pb2
from services import cli, demo_check
from services.query import enums
from shared.convert_benchmarks import cell_from_proto
from shared.convert_releases import status_to_proto
from shared.domain.benchmark_set import DistributionCell, Measure, RankCell, ReachCell
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.model import WAVE_ORDER, Composite, GroupDimension, Wave
from tests.support.query import dataset, reference, releases_of, running_query, unsuppressed
from tests.support.waiting import eventually

SITE_IDS = [site.site_id for site in dataset().sites]
WAVES = sorted({c.wave for c in reference().of_type(CompositeCell)}, key=WAVE_ORDER.index)
SERVICE = "jedi.v1.BenchmarkService"
STATUSES = {release.scope: status_to_proto(release) for release in releases_of(reference().cells)}
CROSS_SITE = sorted(scope for scope in STATUSES if scope.startswith("cross-site/"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def query(tmp_path_factory):
    async with running_query(tmp_path_factory.mktemp("query")) as harness:
        yield harness


def ref_cells(kind, **where):
    return sorted(
        (c for c in reference().of_type(kind) if all(getattr(c, k) == v for k, v in where.items())),
        key=lambda c: c.key,
    )


def decoded(messages) -> list:
    return [cell_from_proto(m) for m in messages]


async def all_pages(method, request, metadata, **kwargs) -> list[Message]:
    replies = []
    while True:
        reply = await method(request, metadata=metadata, **kwargs)
        replies.append(reply)
        if not reply.next_page_token:
            return replies
        request.page_token = reply.next_page_token


def status_details(error: grpc.aio.AioRpcError) -> list[Message]:
    details = []
    for packed in rpc_status.from_call(error).details:
        for kind in (
            error_details_pb2.BadRequest,
            error_details_pb2.ErrorInfo,
            error_details_pb2.ResourceInfo,
            error_details_pb2.RetryInfo,
        ):
            if packed.Is(kind.DESCRIPTOR):
                detail = kind()
                packed.Unpack(detail)
                details.append(detail)
    return details


def strings_in(message: Message) -> set[str]:
    """Every string anywhere in a message (field values, map keys, repeated items)."""
    found: set[str] = set()
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                found |= strings_in(item)
            elif isinstance(item, str):
                found.add(item)
    return found


# ---- every RPC against the batch reference ------------------------------------------------


async def test_scorecard_of_every_site_and_wave_matches_the_reference(query):
    for site_id in SITE_IDS:
        for wave in WAVES:
            reply = await query.stub.GetSiteScorecard(
                query_pb2.GetSiteScorecardRequest(site_id=site_id, wave=enums.to_proto(wave)),
                metadata=query.as_("coordinator"),
            )
            assert reply.site.name == next(s.name for s in dataset().sites if s.site_id == site_id)
            responses = ref_cells(ResponseCell, site_id=site_id, wave=wave)
            responses.sort(key=lambda c: (c.dimension != "all", c.key))
            assert decoded(reply.responses) == responses
            assert decoded(reply.experiences) == ref_cells(
                ExperienceCell, site_id=site_id, wave=wave
            )
            expected = [
                c
                for c in Composite
                if ref_cells(CompositeCell, site_id=site_id, wave=wave, composite=c)
            ]
            assert [
                enums.from_proto(Composite, e.composite, "c") for e in reply.composites
            ] == expected
            for entry in reply.composites:
                composite = enums.from_proto(Composite, entry.composite, "c")
                cells = ref_cells(CompositeCell, site_id=site_id, wave=wave, composite=composite)
                assert [cell_from_proto(entry.total)] == [c for c in cells if c.dimension == "all"]
                assert decoded(entry.breakdowns) == [c for c in cells if c.dimension != "all"]
                assert decoded(entry.distributions) == ref_cells(
                    DistributionCell, wave=wave, composite=composite
                )
                assert decoded(entry.ranks) == ref_cells(
                    RankCell, site_id=site_id, wave=wave, composite=composite
                )
                assert len(entry.distributions) == 2 and len(entry.ranks) == 2


async def test_compare_sites_matches_the_reference_best_first(query):
    for wave in WAVES:
        for composite in Composite:
            for measure in Measure:
                request = query_pb2.CompareSitesRequest(
                    composite=enums.to_proto(composite),
                    wave=enums.to_proto(wave),
                    measure=enums.to_proto(measure),
                    page_size=4,
                )
                replies = await all_pages(
                    query.stub.CompareSites, request, query.as_("coordinator")
                )
                totals = ref_cells(CompositeCell, wave=wave, composite=composite, dimension="all")
                score = (
                    (lambda c: c.percent_positive)
                    if measure == Measure.PERCENT_POSITIVE
                    else (lambda c: c.mean)
                )
                totals.sort(key=lambda c: (-score(c), c.site_id))
                rows = [row for reply in replies for row in reply.sites]
                assert [cell_from_proto(row.total) for row in rows] == totals
                ranks = {
                    c.site_id: c
                    for c in ref_cells(RankCell, wave=wave, composite=composite, measure=measure)
                }
                assert [
                    cell_from_proto(row.rank) if row.HasField("rank") else None for row in rows
                ] == [ranks.get(c.site_id) for c in totals]
                assert all(row.site.name for row in rows)
                assert {reply.total_size for reply in replies} == {len(totals)}
                assert [cell_from_proto(replies[0].distribution)] == ref_cells(
                    DistributionCell, wave=wave, composite=composite, measure=measure
                )


async def test_distribution_matches_the_reference(query):
    for wave in WAVES:
        reply = await query.stub.GetDistribution(
            query_pb2.GetDistributionRequest(wave=enums.to_proto(wave)),
            metadata=query.as_("coordinator"),
        )
        assert decoded(reply.distributions) == ref_cells(DistributionCell, wave=wave)
        assert not reply.ranks
        reply = await query.stub.GetDistribution(
            query_pb2.GetDistributionRequest(
                wave=enums.to_proto(wave),
                composite=common_pb2.COMPOSITE_INCLUSION,
                measure=benchmarks_pb2.MEASURE_MEAN,
            ),
            metadata=query.as_("site-east"),
        )
        assert decoded(reply.distributions) == ref_cells(
            DistributionCell, wave=wave, composite=Composite.INCLUSION, measure=Measure.MEAN
        )
        reply = await query.stub.GetDistribution(
            query_pb2.GetDistributionRequest(wave=enums.to_proto(wave), site_id="site-east"),
            metadata=query.as_("site-east"),
        )
        assert decoded(reply.ranks) == ref_cells(RankCell, wave=wave, site_id="site-east")


async def test_disparities_largest_significant_gaps_first(query):
    everything = ref_cells(DisparityCell)
    significant = sorted(
        (c for c in everything if c.significant), key=lambda c: (-abs(c.difference), c.key)
    )
    assert significant, "the demo dataset has significant gaps"
    replies = await all_pages(
        query.stub.ListDisparities,
        query_pb2.ListDisparitiesRequest(page_size=9),
        query.as_("coordinator"),
    )
    assert decoded(m for r in replies for m in r.disparities) == significant
    assert len(replies) == -(-len(significant) // 9)
    replies = await all_pages(
        query.stub.ListDisparities,
        query_pb2.ListDisparitiesRequest(include_not_significant=True, page_size=500),
        query.as_("coordinator"),
    )
    expected = sorted(everything, key=lambda c: (not c.significant, -abs(c.difference), c.key))
    assert decoded(m for r in replies for m in r.disparities) == expected
    request = query_pb2.ListDisparitiesRequest(
        site_id="site-north",
        wave=common_pb2.WAVE_BASELINE,
        composite=common_pb2.COMPOSITE_BELONGING,
        dimension=common_pb2.GROUP_DIMENSION_URIM,
        include_not_significant=True,
    )
    replies = await all_pages(query.stub.ListDisparities, request, query.as_("site-north"))
    assert decoded(m for r in replies for m in r.disparities) == sorted(
        ref_cells(
            DisparityCell,
            site_id="site-north",
            wave=Wave.BASELINE,
            composite=Composite.BELONGING,
            dimension=GroupDimension.URIM.value,
        ),
        key=lambda c: (not c.significant, -abs(c.difference), c.key),
    )


async def test_trend_matches_the_reference(query):
    for site_id in SITE_IDS:
        reply = await query.stub.GetTrend(
            query_pb2.GetTrendRequest(site_id=site_id), metadata=query.as_("coordinator")
        )
        expected = [
            c
            for c in Composite
            if ref_cells(CompositeCell, site_id=site_id, composite=c, dimension="all")
        ]
        assert [enums.from_proto(Composite, t.composite, "c") for t in reply.trends] == expected
        for trend in reply.trends:
            composite = enums.from_proto(Composite, trend.composite, "c")
            points = ref_cells(CompositeCell, site_id=site_id, composite=composite, dimension="all")
            assert decoded(trend.points) == sorted(points, key=lambda c: WAVE_ORDER.index(c.wave))
            assert decoded(trend.changes) == ref_cells(
                ChangeCell, site_id=site_id, composite=composite, dimension="all"
            )
            ranks = ref_cells(RankCell, site_id=site_id, composite=composite)
            assert decoded(trend.ranks) == sorted(ranks, key=lambda c: WAVE_ORDER.index(c.wave))
    reply = await query.stub.GetTrend(
        query_pb2.GetTrendRequest(
            composite=common_pb2.COMPOSITE_BELONGING, dimension="role", group="resident"
        ),
        metadata=query.as_("site-north"),
    )
    (trend,) = reply.trends
    assert decoded(trend.changes) == ref_cells(
        ChangeCell,
        site_id="site-north",
        composite=Composite.BELONGING,
        dimension="role",
        group="resident",
    )
    assert trend.changes and not trend.ranks


async def test_intervention_reach_matches_the_reference(query):
    for site_id in SITE_IDS:
        reply = await query.stub.GetInterventionReach(
            query_pb2.GetInterventionReachRequest(site_id=site_id),
            metadata=query.as_("coordinator"),
        )
        assert decoded(reply.reach) == ref_cells(ReachCell, site_id=site_id)
    reply = await query.stub.GetInterventionReach(
        query_pb2.GetInterventionReachRequest(metric="lever_coverage"),
        metadata=query.as_("site-west"),
    )
    assert decoded(reply.reach) == ref_cells(
        ReachCell, site_id="site-west", metric="lever_coverage"
    )


async def test_list_sites_and_composites(query):
    replies = await all_pages(
        query.stub.ListSites, query_pb2.ListSitesRequest(page_size=5), query.as_("coordinator")
    )
    listings = [listing for reply in replies for listing in reply.sites]
    assert [listing.site.site_id for listing in listings] == sorted(SITE_IDS)
    assert len(replies) == 3 and replies[0].total_size == len(SITE_IDS)
    waves = defaultdict(list)
    for cell in ref_cells(ResponseCell, dimension="all"):
        waves[cell.site_id].append(enums.to_proto(cell.wave))
    for listing in listings:
        assert listing.site.name
        assert list(listing.waves) == sorted(waves[listing.site.site_id])
    reply = await query.stub.ListSites(
        query_pb2.ListSitesRequest(), metadata=query.as_("site-plains")
    )
    assert [listing.site.site_id for listing in reply.sites] == [
        "site-plains"
    ] and reply.total_size == 1

    reply = await query.stub.ListComposites(
        query_pb2.ListCompositesRequest(), metadata=query.as_("coordinator")
    )
    assert [enums.from_proto(Composite, c.composite, "c") for c in reply.composites] == list(
        Composite
    )
    for entry in reply.composites:
        composite = enums.from_proto(Composite, entry.composite, "c")
        expected = sorted(
            {c.wave for c in ref_cells(CompositeCell, composite=composite)}, key=WAVE_ORDER.index
        )
        assert [enums.from_proto(Wave, w, "w") for w in entry.waves] == expected


async def _watch_snapshot(query, request, who, releases: list | None = None):
    """The snapshot's cells and phases; the SNAPSHOT_COMPLETE statuses go into `releases`."""
    cells, phases = [], []
    async for message in query.stub.Watch(request, metadata=query.as_(who)):
        phases.append(message.phase)
        cells.extend(message.cells)
        if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
            if releases is not None:
                releases.extend(message.releases)
            return cells, phases
        assert not message.releases  # statuses come with the SNAPSHOT_COMPLETE marker
    raise AssertionError("the stream ended before its snapshot was complete")


async def test_watch_snapshot_matches_the_reference(query):
    releases: list = []
    cells, phases = await _watch_snapshot(query, query_pb2.WatchRequest(), "coordinator", releases)
    assert decoded(cells) == list(reference().cells)
    assert phases[-1] == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE and len(phases) > 2  # chunked
    assert releases == [STATUSES[scope] for scope in sorted(STATUSES)]
    request = query_pb2.WatchRequest(
        site_id="site-south",
        kinds=[query_pb2.CELL_KIND_COMPOSITE, query_pb2.CELL_KIND_CHANGE],
        wave=common_pb2.WAVE_FOLLOW_UP,
        composite=common_pb2.COMPOSITE_TRUST_IN_REPORTING,
    )
    cells, _ = await _watch_snapshot(query, request, "coordinator")
    assert decoded(cells) == sorted(
        [
            *ref_cells(
                CompositeCell,
                site_id="site-south",
                wave=Wave.FOLLOW_UP,
                composite=Composite.TRUST_IN_REPORTING,
            ),
            *ref_cells(ChangeCell, site_id="site-south", composite=Composite.TRUST_IN_REPORTING),
        ],
        key=lambda c: c.key,
    )


async def test_list_releases_of_every_scope_by_scope(query):
    reply = await query.stub.ListReleases(
        query_pb2.ListReleasesRequest(), metadata=query.as_("coordinator")
    )
    assert list(reply.releases) == [STATUSES[scope] for scope in sorted(STATUSES)]
    assert len(reply.releases) == len(SITE_IDS) + len(WAVES) and CROSS_SITE
    assert all(status.number == 1 and status.HasField("cut_at") for status in reply.releases)


# ---- roles --------------------------------------------------------------------------------


async def test_list_releases_follows_the_role_rules(query):
    async def scopes(who: str, site_id: str = "") -> list[str]:
        reply = await query.stub.ListReleases(
            query_pb2.ListReleasesRequest(site_id=site_id), metadata=query.as_(who)
        )
        return [status.scope for status in reply.releases]

    assert await scopes("coordinator", "site-south") == [*CROSS_SITE, "site/site-south"]
    assert await scopes("coordinator", "no-such-site") == CROSS_SITE  # a list: nothing of that site
    for site_id in ("", "site-north"):
        assert await scopes("site-north", site_id) == [*CROSS_SITE, "site/site-north"]
    reply = await query.stub.ListReleases(
        query_pb2.ListReleasesRequest(), metadata=query.as_("site-north")
    )
    assert list(reply.releases) == [STATUSES[scope] for scope in [*CROSS_SITE, "site/site-north"]]
    for peer in ("site-south", "no-such-site"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await scopes("site-north", peer)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert (
            refused.value.details()
            == "a site's credential sees only its own site; peers only as a distribution"
        )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await query.stub.ListReleases(query_pb2.ListReleasesRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _every_site_scoped_request(site_id: str) -> list[tuple[str, Message]]:
    return [
        (
            "GetSiteScorecard",
            query_pb2.GetSiteScorecardRequest(site_id=site_id, wave=common_pb2.WAVE_BASELINE),
        ),
        ("GetTrend", query_pb2.GetTrendRequest(site_id=site_id)),
        ("GetInterventionReach", query_pb2.GetInterventionReachRequest(site_id=site_id)),
        ("ListDisparities", query_pb2.ListDisparitiesRequest(site_id=site_id)),
        (
            "GetDistribution",
            query_pb2.GetDistributionRequest(wave=common_pb2.WAVE_BASELINE, site_id=site_id),
        ),
        ("ListReleases", query_pb2.ListReleasesRequest(site_id=site_id)),
    ]


@pytest.mark.parametrize("peer", ["site-south", "site-island", "no-such-site"])
async def test_a_site_cannot_ask_about_a_peer_or_compare(query, peer):
    refusals = []
    for rpc, request in [
        *_every_site_scoped_request(peer),
        ("CompareSites", query_pb2.CompareSitesRequest(composite=1, wave=1)),
        (
            "CompareSites",
            query_pb2.CompareSitesRequest(composite=1, wave=1, site_ids=["site-north"]),
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await getattr(query.stub, rpc)(request, metadata=query.as_("site-north"))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, rpc
        (info,) = status_details(refused.value)
        assert isinstance(info, error_details_pb2.ErrorInfo) and info.reason
        refusals.append((refused.value.details(), info.reason))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in query.stub.Watch(
            query_pb2.WatchRequest(site_id=peer), metadata=query.as_("site-north")
        ):
            pass
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The same refusal for a real peer and a made-up id: existence is not revealed.
    assert refusals[0] == (
        "a site's credential sees only its own site; peers only as a distribution",
        "PEER_NOT_VISIBLE",
    )


async def test_a_site_credential_never_obtains_a_named_peer(query):
    """Every RPC and the Watch snapshot, asked every way a site may: no peer id or name anywhere."""
    me = "site-north"
    peers = {s.site_id for s in dataset().sites if s.site_id != me} | {
        s.name for s in dataset().sites if s.site_id != me
    }
    replies: list[Message] = []
    for site_id in ("", me):
        for wave in WAVES:
            for rpc, request in _every_site_scoped_request(site_id):
                if hasattr(request, "wave") and rpc != "ListDisparities":
                    request.wave = enums.to_proto(wave)
                if rpc == "GetDistribution" and not site_id:
                    request.site_id = ""
                if rpc == "ListDisparities":
                    request.include_not_significant = True
                    replies += await all_pages(query.stub.ListDisparities, request, query.as_(me))
                else:
                    replies.append(await getattr(query.stub, rpc)(request, metadata=query.as_(me)))
    replies += await all_pages(query.stub.ListSites, query_pb2.ListSitesRequest(), query.as_(me))
    replies += await all_pages(
        query.stub.ListComposites, query_pb2.ListCompositesRequest(), query.as_(me)
    )
    statuses: list = []
    cells, _ = await _watch_snapshot(query, query_pb2.WatchRequest(), me, statuses)
    replies += [*cells, *statuses]
    assert [status.scope for status in statuses] == [*CROSS_SITE, f"site/{me}"]
    seen = set().union(*(strings_in(reply) for reply in replies))
    assert me in seen and "Northern University Hospital" in seen
    assert not seen & peers, seen & peers
    own = [c for c in decoded(cells)]
    assert {getattr(c, "site_id", None) for c in own} == {me, None}
    expected = [c for c in reference().cells if getattr(c, "site_id", me) == me]
    assert own == expected  # its own cells and the anonymous distributions, nothing else


# ---- suppression ----------------------------------------------------------------------------


async def test_no_rpc_and_no_stream_returns_a_suppressed_cell(query):
    hidden = unsuppressed().keys() - reference().keys()
    small_breakdowns = {c.key for c in unsuppressed().of_type(CompositeCell) if c.n < 10}
    assert small_breakdowns and small_breakdowns <= hidden
    returned: set[str] = set()
    coordinator = query.as_("coordinator")
    for site_id in SITE_IDS:
        for wave in WAVES:
            reply = await query.stub.GetSiteScorecard(
                query_pb2.GetSiteScorecardRequest(site_id=site_id, wave=enums.to_proto(wave)),
                metadata=coordinator,
            )
            returned |= {m.key for m in [*reply.responses, *reply.experiences]}
            for entry in reply.composites:
                returned |= {
                    m.key
                    for m in [entry.total, *entry.breakdowns, *entry.distributions, *entry.ranks]
                }
        reply = await query.stub.GetTrend(
            query_pb2.GetTrendRequest(site_id=site_id), metadata=coordinator
        )
        returned |= {m.key for t in reply.trends for m in [*t.points, *t.changes, *t.ranks]}
        reply = await query.stub.GetInterventionReach(
            query_pb2.GetInterventionReachRequest(site_id=site_id), metadata=coordinator
        )
        returned |= {m.key for m in reply.reach}
    for wave in WAVES:
        for composite in Composite:
            request = query_pb2.CompareSitesRequest(
                composite=enums.to_proto(composite), wave=enums.to_proto(wave)
            )
            for reply in await all_pages(query.stub.CompareSites, request, coordinator):
                returned |= {m.key for row in reply.sites for m in (row.total, row.rank) if m.key}
        reply = await query.stub.GetDistribution(
            query_pb2.GetDistributionRequest(wave=enums.to_proto(wave)), metadata=coordinator
        )
        returned |= {m.key for m in reply.distributions}
    request = query_pb2.ListDisparitiesRequest(include_not_significant=True)
    returned |= {
        m.key
        for r in await all_pages(query.stub.ListDisparities, request, coordinator)
        for m in r.disparities
    }
    cells, _ = await _watch_snapshot(query, query_pb2.WatchRequest(), "coordinator")
    returned |= {m.key for m in cells}
    assert returned == reference().keys()
    assert not returned & hidden


# ---- pagination and errors ------------------------------------------------------------------


async def test_page_tokens_are_validated(query):
    coordinator = query.as_("coordinator")
    first = await query.stub.ListDisparities(
        query_pb2.ListDisparitiesRequest(page_size=3), metadata=coordinator
    )
    assert len(first.disparities) == 3 and first.next_page_token
    bad_requests = [
        (query_pb2.ListDisparitiesRequest(page_token="not a token"), coordinator),
        (query_pb2.ListDisparitiesRequest(page_token=first.next_page_token[:-4]), coordinator),
        # the same token with a different filter, or from another caller
        (
            query_pb2.ListDisparitiesRequest(
                page_token=first.next_page_token, wave=common_pb2.WAVE_BASELINE
            ),
            coordinator,
        ),
        (
            query_pb2.ListDisparitiesRequest(page_token=first.next_page_token),
            query.as_("site-north"),
        ),
        (query_pb2.ListDisparitiesRequest(page_size=-1), coordinator),
    ]
    for request, metadata in bad_requests:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await query.stub.ListDisparities(request, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        (bad,) = status_details(refused.value)
        assert [v.field for v in bad.field_violations] in (["page_token"], ["page_size"])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await query.stub.ListSites(
            query_pb2.ListSitesRequest(page_token=first.next_page_token), metadata=coordinator
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A page size above the maximum is served at the maximum; the next page follows on.
    second = await query.stub.ListDisparities(
        query_pb2.ListDisparitiesRequest(page_size=10_000, page_token=first.next_page_token),
        metadata=coordinator,
    )
    everything = await query.stub.ListDisparities(
        query_pb2.ListDisparitiesRequest(page_size=10_000), metadata=coordinator
    )
    assert [*first.disparities, *second.disparities] == list(everything.disparities)


async def test_errors_carry_status_codes_and_details(query):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await query.stub.ListSites(query_pb2.ListSitesRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await query.stub.ListSites(
            query_pb2.ListSitesRequest(), metadata=(("x-api-key", "coordinator.wrong"),)
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    cases = [
        (query_pb2.GetSiteScorecardRequest(site_id="site-north"), "wave"),
        (query_pb2.GetSiteScorecardRequest(site_id="site-north", wave=42), "wave"),
        (query_pb2.GetSiteScorecardRequest(wave=common_pb2.WAVE_BASELINE), "site_id"),
    ]
    for request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await query.stub.GetSiteScorecard(request, metadata=query.as_("coordinator"))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        (bad,) = status_details(refused.value)
        assert [v.field for v in bad.field_violations] == [field]
    for request, field in [
        (query_pb2.WatchRequest(kinds=[99]), "kinds[0]"),
        (query_pb2.WatchRequest(composite=-1), "composite"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in query.stub.Watch(request, metadata=query.as_("coordinator")):
                pass
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in status_details(refused.value)[0].field_violations] == [field]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await query.stub.GetTrend(
            query_pb2.GetTrendRequest(site_id="site-north", group="resident"),
            metadata=query.as_("coordinator"),
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await query.stub.GetInterventionReach(
            query_pb2.GetInterventionReachRequest(site_id="no-such-site"),
            metadata=query.as_("coordinator"),
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    (resource,) = status_details(refused.value)
    assert resource.resource_name == "no-such-site"


# ---- health, reflection, metrics, CLI --------------------------------------------------------


async def test_health_is_serving_after_catch_up(query):
    stub = health_pb2_grpc.HealthStub(query.channel)
    for service in ("", SERVICE):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _call_through_reflection(address: str, api_key: str) -> tuple[list[str], list[str]]:
    """What a generic client (grpcurl) does: discover the service, build messages, call it."""
    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        (listed,) = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        services = [s.name for s in listed.list_services_response.service]
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        method = pool.FindServiceByName(SERVICE).FindMethodByName("ListComposites")
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        call = channel.unary_unary(
            f"/{SERVICE}/ListComposites",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        reply = call(request_class(), metadata=(("x-api-key", api_key),), timeout=10)
        composites = [
            method.output_type.fields_by_name["composites"]
            .message_type.fields_by_name["composite"]
            .enum_type.values_by_number[entry.composite]
            .name
            for entry in reply.composites
        ]
        return services, composites


async def test_reflection_lets_a_generic_client_call_the_service(query):
    services, composites = await asyncio.to_thread(
        _call_through_reflection, query.address, query.key("coordinator")
    )
    assert SERVICE in services and "grpc.health.v1.Health" in services
    assert composites[0] == "COMPOSITE_BELONGING" and len(composites) == len(Composite)


def _sample(name: str, labels: dict) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_time_each_rpc_and_count_watch_subscribers(query):
    before = _sample("jedi_query_request_seconds_count", {"rpc": "ListComposites"})
    await query.stub.ListComposites(
        query_pb2.ListCompositesRequest(), metadata=query.as_("coordinator")
    )
    assert _sample("jedi_query_request_seconds_count", {"rpc": "ListComposites"}) == before + 1
    subscribers = _sample("jedi_query_watch_subscribers", {})
    stream = query.stub.Watch(
        query_pb2.WatchRequest(kinds=[query_pb2.CELL_KIND_DISTRIBUTION]),
        metadata=query.as_("coordinator"),
    )
    async for message in stream:
        if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE:
            break
    assert _sample("jedi_query_watch_subscribers", {}) == subscribers + 1
    stream.cancel()
    await eventually(
        lambda: _sample("jedi_query_watch_subscribers", {}),
        2,
        what="the cancelled subscriber to be counted out",
        until=lambda now: now == subscribers,
        interval=0.02,
    )


async def test_cli_prints_tables_and_refuses_a_site_the_comparison(query, capsys):
    common = ["--address", query.address]
    status = await asyncio.to_thread(
        cli.main,
        [
            "query",
            "compare",
            "--composite",
            "belonging",
            "--wave",
            "baseline",
            *common,
            "--api-key",
            query.key("coordinator"),
        ],
    )
    out = capsys.readouterr().out
    assert (
        status == 0
        and "Northern University Hospital" in out
        and "Southern Regional Medical Center" in out
    )
    status = await asyncio.to_thread(
        cli.main,
        [
            "query",
            "scorecard",
            "--wave",
            "follow_up",
            *common,
            "--api-key",
            query.key("site-north"),
        ],
    )
    out = capsys.readouterr().out
    assert status == 0 and "Scorecard: Northern University Hospital" in out and "peer median" in out
    assert "Southern" not in out
    status = await asyncio.to_thread(
        cli.main,
        [
            "query",
            "compare",
            "--composite",
            "belonging",
            "--wave",
            "baseline",
            *common,
            "--api-key",
            query.key("site-north"),
        ],
    )
    assert status == 1 and "PERMISSION_DENIED" in capsys.readouterr().err
    for command in (
        ["sites"],
        ["composites"],
        ["disparities", "--all"],
        ["trend", "--site", "site-east"],
        ["reach", "--site", "site-east"],
        ["distribution", "--wave", "baseline"],
    ):
        status = await asyncio.to_thread(
            cli.main, ["query", *command, *common, "--api-key", query.key("coordinator")]
        )
        assert status == 0, command
        assert "(nothing published)" not in capsys.readouterr().out, command


async def test_the_demo_report_waits_for_the_reference_then_prints_both_tables(query, capsys):
    status = await demo_check.print_demo_report(
        query.address,
        query.key("coordinator"),
        query.key("site-north"),
        "site-north",
        dataset(),
        wait_s=30,
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "agrees with the batch reference" in out and "distributions and ranks included" in out
    assert "site-north" in out[: out.index("Sites compared")] and "release" in out
    assert (
        "Sites compared on belonging, wave follow_up" in out
        and "Riverside Teaching Hospital" in out
    )
    scorecard = out[out.index("Scorecard:") :]
    assert (
        scorecard.startswith("Scorecard: Northern University Hospital")
        and "Riverside" not in scorecard
    )
