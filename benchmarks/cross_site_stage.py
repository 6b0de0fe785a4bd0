"""The cross-site stage alone: how many site summaries per second its one partition takes.

The processor's stage two (`services.processor.cross_driver.CrossDriver`, the service's own
driver) keeps one table value per wave with every site's shown scores, and on each batch of
site summaries recomputes and releases every wave whose scores changed. It runs on one
partition, so one worker: this is the processor's single-partition stage, and its cost per
batch grows with the number of sites. Here it runs in this process on an in-memory table and
an outbox that serializes each release and drops it (no Kafka), over summaries of 13, 100 and
1,000 sites with every composite in two waves:

- one summary per batch (sites releasing one at a time, the worst case);
- every site's summary in one batch (a bulk load).

Baseline, in the same run: the pure recomputation of the changed waves (`wave_cells` over the
same scores, as the batch reference computes them), without the stored record's decoding and
encoding nor the release's serialization.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime

from benchmarks.progress import say
from benchmarks.results import ScenarioResult
from services.processor.cross_driver import CrossDriver
from services.processor.inputs import InputRecord
from services.processor.outbox import KafkaOutbox
from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Wave
from shared.domain.publication.cross_site_step import wave_cells
from shared.domain.publication.site_summary import SiteSummary, encode_summary

TOPIC = "site-summaries"
WAVES = (Wave.BASELINE, Wave.FOLLOW_UP)
NOW = datetime(2026, 11, 20, tzinfo=UTC)


class MemoryTable:
    """A table in a dict, durable at once."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    def load(self, anchor: InputRecord, key: str) -> bytes | None:
        return self.values.get(key)

    def save(self, anchor: InputRecord, key: str, value: bytes) -> None:
        self.values[key] = value

    def peek(self, key: str) -> bytes | None:
        return self.values.get(key)

    async def flush(self) -> None:
        """Saved values are durable at once here."""


async def _drop(
    topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> Awaitable[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


async def _no_rewind(offsets: dict[tuple[str, int], int]) -> None:
    raise AssertionError(f"no gaps in this input: {offsets}")


def summary(site_id: str, rng: random.Random) -> SiteSummary:
    return SiteSummary(
        site_id,
        NOW,
        tuple(
            SiteScore(site_id, wave, composite, rng.uniform(30, 90), rng.uniform(2.5, 4.5))
            for wave in WAVES
            for composite in Composite
        ),
    )


class Stage:
    def __init__(self) -> None:
        self.driver = CrossDriver(
            topic=TOPIC,
            store=MemoryTable(),
            outbox=KafkaOutbox(_drop, benchmarks="b", summaries="s", deadletter="d"),
            min_sites=10,
            now=lambda: NOW,
            rewind=_no_rewind,
        )
        self.offset = 0

    def records(self, summaries: Sequence[SiteSummary]) -> list[InputRecord]:
        out = []
        for item in summaries:
            out.append(
                InputRecord(TOPIC, 0, self.offset, item.site_id.encode(), encode_summary(item))
            )
            self.offset += 1
        return out

    async def batch(self, summaries: Sequence[SiteSummary]) -> float:
        records = self.records(summaries)
        started = time.perf_counter()
        await self.driver.process(records)
        return time.perf_counter() - started


async def measure_sites(sites: int, budget_s: float) -> dict[str, float]:
    """Batches of one for about `budget_s` (at least two), and the pure recomputation as often."""
    rng = random.Random(sites)
    site_ids = [f"site-{n:04d}" for n in range(1, sites + 1)]
    stage = Stage()
    bulk = await stage.batch([summary(s, rng) for s in site_ids])
    one_at_a_time: list[float] = []
    while len(one_at_a_time) < 2 or sum(one_at_a_time) < budget_s:
        one_at_a_time.append(await stage.batch([summary(rng.choice(site_ids), rng)]))
    scores = {s: summary(s, rng).scores for s in site_ids}
    started = time.perf_counter()
    for _ in one_at_a_time:
        for wave in WAVES:
            wave_cells(
                wave,
                {s: tuple(x for x in v if x.wave == wave) for s, v in scores.items()},
                min_sites=10,
            )
    pure = (time.perf_counter() - started) / len(one_at_a_time)
    return {
        "bulk_s": bulk,
        "one_s": sum(one_at_a_time) / len(one_at_a_time),
        "pure_s": pure,
    }


def run(result: ScenarioResult, site_counts: Sequence[int], budget_s: float) -> dict[int, float]:
    """Per site count, the summaries per second one at a time (returned, for the scaling notes)."""
    result.parameters.update(site_counts=list(site_counts), seconds_of_batches_of_one=budget_s)
    ceilings: dict[int, float] = {}
    for sites in site_counts:
        say(f"cross-site stage: {sites} sites")
        figures = asyncio.run(measure_sites(sites, budget_s))
        ceilings[sites] = 1 / figures["one_s"]
        result.add(
            f"{sites} sites, one summary per batch",
            1 / figures["one_s"],
            "summaries/s",
            "pure recomputation of the waves",
            1 / figures["pure_s"],
        )
        result.add(
            f"{sites} sites, all in one batch",
            sites / figures["bulk_s"],
            "summaries/s",
            "pure recomputation of the waves",
            sites / figures["pure_s"],
        )
    return ceilings
