"""A national cross-site release, one record over Kafka's default 1 MiB, from the topic to a reader.

At 1,000 sites a wave's cross-site release (its distributions and every site's ranks, one
record) is about 1.3 MB before compression. The benchmarks topic allows `MAX_RECORD_BYTES`
(uncompressed, the record alone is over the broker's default), the processor's producer sends
up to that much compressed with zstd, and a query replica reading the topic from the
beginning must serve it whole either way.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from jedi.v1 import query_pb2
from services.query import enums
from shared.convert_benchmarks import cell_from_proto
from shared.convert_releases import record_key, release_to_proto
from shared.domain.benchmark_set import DistributionCell, RankCell
from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Wave
from shared.domain.publication.cross_site_step import wave_cells
from shared.domain.releases import Release, cross_site_scope
from shared.kafka import ensure_topics, make_producer
from shared.topics import MAX_RECORD_BYTES, Topics
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.query import running_query

SITES = 1000
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def national_release() -> Release:
    rng = random.Random(SITES)
    scores = {
        f"site-{n:04d}": tuple(
            SiteScore(
                f"site-{n:04d}", Wave.BASELINE, composite, rng.uniform(30, 90), rng.uniform(2, 5)
            )
            for composite in Composite
        )
        for n in range(1, SITES + 1)
    }
    cells = wave_cells(Wave.BASELINE, scores, min_sites=10)
    return Release(cross_site_scope(Wave.BASELINE), 1, NOW, NOW, cells)


async def publish(topics: Topics, release: Release, compression: str | None) -> int:
    """The release as one record, with the processor's request limit."""
    value = release_to_proto(release).SerializeToString()
    producer = make_producer(
        bootstrap_servers(), max_request_size=MAX_RECORD_BYTES, compression_type=compression
    )
    await producer.start()
    try:
        await producer.send_and_wait(topics.benchmarks.name, value, key=record_key(release))
    finally:
        await producer.stop()
    return len(value)


@pytest.mark.parametrize("compression", [None, "zstd"])
async def test_a_release_over_one_mebibyte_is_served_whole(tmp_path, compression):
    namespace = new_namespace()
    topics = Topics(namespace)
    await ensure_topics(bootstrap_servers(), [topics.benchmarks, topics.sites])
    release = national_release()
    size = await publish(topics, release, compression)
    assert size > 1024 * 1024, f"the release is {size} bytes: not over Kafka's default limit"

    async with running_query(tmp_path, namespace=namespace, fill=False) as query:
        reply = await query.stub.GetDistribution(
            query_pb2.GetDistributionRequest(
                wave=enums.to_proto(Wave.BASELINE), site_id="site-0777"
            ),
            metadata=query.as_("coordinator"),
        )
    distributions = sorted(
        (c for c in release.cells if isinstance(c, DistributionCell)), key=lambda c: c.key
    )
    ranks = sorted(
        (c for c in release.cells if isinstance(c, RankCell) and c.site_id == "site-0777"),
        key=lambda c: c.key,
    )
    assert distributions and ranks
    assert [cell_from_proto(m) for m in reply.distributions] == distributions
    assert [cell_from_proto(m) for m in reply.ranks] == ranks
