"""The audit trail on the real broker, through real gRPC sockets: a scripted session of
submissions and queries by several keys, then every one of them is found by a coordinator's
ListAuditEvents (with its key id, site, wave, counts and time; method, sites asked for and
status), the isolation patterns of the session are flagged, and a site's key cannot read it."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp

from jedi.v1 import common_pb2, ingest_pb2, query_pb2
from shared.clients import call_metadata
from shared.convert import event_to_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.model import Wave
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.ingest import DATASET_NOW, running_ingest
from tests.support.kafka import new_namespace
from tests.support.query import running_query
from tests.support.waiting import eventually

SITE = "site-north"
OTHER = "site-south"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def platform(tmp_path_factory):
    namespace = new_namespace()
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=0.3, seed=44)
    async with (
        running_ingest(
            tmp_path_factory.mktemp("ingest"), namespace=namespace, dataset=dataset
        ) as ingest,
        running_query(tmp_path_factory.mktemp("query"), namespace=namespace) as query,
    ):
        yield ingest, query


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


async def submit(ingest, key: str, events) -> ingest_pb2.SubmitEventsResponse:
    return await ingest.stub.SubmitEvents(
        ingest_pb2.SubmitEventsRequest(events=[event_to_proto(e) for e in events]),
        metadata=call_metadata(key),
        timeout=30,
    )


async def trail(query, **filters) -> list:
    events = []
    token = ""
    while True:
        page = await query.stub.ListAuditEvents(
            query_pb2.ListAuditEventsRequest(page_size=100, page_token=token, **filters),
            metadata=query.as_("coordinator"),
            timeout=10,
        )
        events += page.events
        token = page.next_page_token
        if not token:
            return events, list(page.flags)


async def test_every_submission_and_query_of_a_session_is_in_the_trail(platform):
    ingest, query = platform
    started = datetime.now(UTC)
    site_key = ingest.keys.sites[SITE]
    responses = [
        r for r in ingest.dataset.responses if r.site_id == SITE and r.wave is Wave.BASELINE
    ]
    assert len(responses) >= 20
    # The session: a burst of k - 1 = 9 then one more, then five uploads of 2 (isolation
    # patterns), a resubmission (duplicates), a write to another site (refused), and the
    # coordinator's own submission for the other site.
    batches = [
        responses[:9],
        responses[9:10],
        *(responses[10 + 2 * i : 12 + 2 * i] for i in range(5)),
    ]
    expected_submissions = []
    for batch in batches:
        reply = await submit(ingest, site_key, batch)
        assert reply.accepted_count == len(batch), reply
        expected_submissions.append((SITE, SITE, len(batch), 0, 0, ""))
    reply = await submit(ingest, site_key, responses[:3])
    assert reply.duplicate_count == 3
    expected_submissions.append((SITE, SITE, 0, 0, 3, ""))
    other = [r for r in ingest.dataset.responses if r.site_id == OTHER][:2]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await submit(ingest, site_key, other)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    expected_submissions.append((SITE, OTHER, 0, 0, 0, "refused"))
    reply = await submit(ingest, ingest.keys.coordinator, other)
    assert reply.accepted_count == 2
    expected_submissions.append(("coordinator", OTHER, 2, 0, 0, ""))

    wave = common_pb2.WAVE_BASELINE
    await query.stub.GetSiteScorecard(
        query_pb2.GetSiteScorecardRequest(site_id=SITE, wave=wave),
        metadata=query.as_("coordinator"),
    )
    await query.stub.ListReleases(query_pb2.ListReleasesRequest(), metadata=query.as_(SITE))
    with pytest.raises(grpc.aio.AioRpcError) as peer:
        await query.stub.GetSiteScorecard(
            query_pb2.GetSiteScorecardRequest(site_id=SITE, wave=wave), metadata=query.as_(OTHER)
        )
    assert peer.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await query.stub.CompareSites(
        query_pb2.CompareSitesRequest(
            site_ids=[OTHER, SITE], wave=wave, composite=common_pb2.COMPOSITE_BELONGING
        ),
        metadata=query.as_("coordinator"),
    )
    expected_queries = [
        ("coordinator", "GetSiteScorecard", (SITE,), "OK"),
        (SITE, "ListReleases", (), "OK"),
        (OTHER, "GetSiteScorecard", (SITE,), "PERMISSION_DENIED"),
        ("coordinator", "CompareSites", (SITE, OTHER), "OK"),  # sorted: north < south
    ]
    # A site's key may not read the trail (and that attempt is on the trail too).
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await query.stub.ListAuditEvents(
            query_pb2.ListAuditEventsRequest(site_id=SITE), metadata=query.as_(SITE)
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    expected_queries.append((SITE, "ListAuditEvents", (SITE,), "PERMISSION_DENIED"))
    finished = datetime.now(UTC)  # the test's own ListAuditEvents calls come after

    def submissions(events) -> list[tuple]:
        return [
            (
                e.principal,
                e.submission.site_id,
                e.submission.accepted_count,
                e.submission.rejected_count,
                e.submission.duplicate_count,
                e.submission.refusal.split(":")[0],
            )
            for e in reversed(events)  # oldest first, as sent
            if e.WhichOneof("detail") == "submission"
        ]

    def queries(events) -> list[tuple]:
        return [
            (e.principal, e.query.method, tuple(e.query.site_ids), e.query.status)
            for e in reversed(events)
            if e.WhichOneof("detail") == "query"
        ]

    async def observed():
        events, flags = await trail(query, since=stamp(started), until=stamp(finished))
        return submissions(events), queries(events), events, flags

    *_, events, flags = await eventually(
        observed,
        30,
        what="every submission and query of the session on the trail",
        until=lambda seen: seen[:2] == (expected_submissions, expected_queries),
    )
    for event in events:
        assert started <= event.time.ToDatetime(tzinfo=UTC) <= finished, event
        assert event.audit_id and event.service in ("ingest", "query"), event
    waves = {tuple(e.submission.waves) for e in events if e.submission.accepted_count}
    assert waves == {("baseline",)}, waves
    assert all(e.submission.accepted_responses == e.submission.accepted_count for e in events)

    # The isolation patterns of the session, for the site's key (the coordinator's upload of
    # 2 is one small upload, not a pattern).
    kinds = sorted((f.kind, f.site_id, f.principal, f.wave) for f in flags)
    assert kinds == [
        ("many_small_uploads", SITE, SITE, "baseline"),
        ("near_k_burst", SITE, SITE, "baseline"),
    ], flags
    burst = next(f for f in flags if f.kind == "near_k_burst")
    assert "upload of 9 responses" in burst.reason, burst.reason

    # Filters: by site, by principal.
    by_site, _ = await trail(query, site_id=OTHER, since=stamp(started))
    assert {e.principal for e in by_site} == {SITE, "coordinator"}
    assert all(OTHER in (e.submission.site_id, *e.query.site_ids) for e in by_site)
    by_key, _ = await trail(query, principal=OTHER, since=stamp(started))
    assert queries(by_key) == [(OTHER, "GetSiteScorecard", (SITE,), "PERMISSION_DENIED")]


async def test_registry_changes_are_on_the_trail(platform):
    ingest, query = platform

    async def changes():
        events, _ = await trail(query)
        return {
            (e.principal, e.registry_change.entity, e.registry_change.entity_id)
            for e in events
            if e.WhichOneof("detail") == "registry_change"
        }

    instrument = ingest.dataset.instrument
    expected = {("coordinator", "site", site.site_id) for site in ingest.dataset.sites} | {
        ("coordinator", "instrument", f"{instrument.instrument_id}@{instrument.version}")
    }
    await eventually(changes, 30, what="the registration on the trail", until=expected.__le__)
