"""A reader of the benchmarks topic from its beginning: every record ever written, the latest
view, and the wait until it equals the batch reference over what the latest releases cover."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType

from aiokafka import TopicPartition

from services.processor.topics import ProcessorTopics
from shared.domain.benchmark_set import BenchmarkSet, Cell
from shared.domain.model import Instrument, Site
from shared.domain.publication.reference import released_reference
from shared.domain.releases import event_counts
from shared.kafka import make_consumer, topic_partitions
from tests.support.processor_process import uncommitted_inputs
from tests.support.published import (
    Event,
    Published,
    ShownCell,
    covered_by,
    latest,
    latest_releases,
)
from tests.support.waiting import eventually

READ_TO_END_S = 60  # to read what the topic held at one moment


async def partitions_once_created(
    servers: str, topic: str, *, wait_s: float = 20
) -> list[TopicPartition]:
    """The topic's partitions, waiting for it to be created (by the processor) for up to `wait_s`."""

    async def partitions() -> list[TopicPartition]:
        try:
            return await topic_partitions(servers, [topic])
        except RuntimeError:  # not created yet
            return []

    return await eventually(partitions, wait_s, what=f"topic {topic} to exist", interval=0.2)


class BenchmarksFollower:
    """Follows the benchmarks topic from its beginning: every record ever written, and the latest view."""

    def __init__(self, servers: str, topic: str) -> None:
        self._servers = servers
        self._topic = topic
        self.records: list[Published] = []
        self.view: dict[str, ShownCell] = {}
        self._consumer = make_consumer(servers)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> BenchmarksFollower:
        await self._consumer.start()
        try:
            self._partitions = await partitions_once_created(self._servers, self._topic)
            self._consumer.assign(self._partitions)
            await self._consumer.seek_to_beginning(*self._partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> int:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        count = 0
        for records in batches.values():
            for record in records:
                self.records.append(Published.of(record.key, record.value, record.headers))
                count += 1
        if count:
            self.view = latest(self.records)
        return count

    async def read_to_end(self) -> None:
        """Until every record written before the call has been read."""
        ends = await self._consumer.end_offsets(self._partitions)
        async with asyncio.timeout(READ_TO_END_S):
            for tp, end in ends.items():
                while await self._consumer.position(tp) < end:
                    await self.poll()

    def cells(self) -> dict[str, Cell]:
        return {key: record.cell for key, record in self.view.items()}

    def as_of(self) -> set[datetime]:
        return {record.as_of for record in self.view.values()}

    async def wait_for(
        self,
        sites: Sequence[Site],
        instruments: Sequence[Instrument],
        arrivals: Sequence[Event],
        *,
        processor: ProcessorTopics,
        timeout: float,
        alive: Callable[[], bool] = lambda: True,
        k: int = 10,
        min_sites: int = 10,
        ticking: bool = False,
    ) -> None:
        """Until the processor is done (its group has committed every input partition to its
        end, so whatever those records cause is on the topic, and this reader has read that far),
        it has received every event of `arrivals` (in the order sent: the releases' covered and
        held-back counts say so), and the view equals the batch reference over the events the
        latest releases cover.

        `ticking`: the processor's site-changes topic is never committed to its end (with a
        release period of a second or two its timer forwards every site each period, so a few of
        those records are always in flight); only the event and summary partitions must be."""
        sent = event_counts(arrivals)

        async def settled() -> str:
            """What is still missing ("" once nothing is)."""
            if not alive():
                raise AssertionError("the processor exited")
            uncommitted = await uncommitted_inputs(self._servers, processor)
            if ticking:
                ticks = processor.site_changes.name
                uncommitted = {tp: n for tp, n in uncommitted.items() if tp[0] != ticks}
            await self.read_to_end()
            if uncommitted:
                return f"uncommitted input records {uncommitted}"
            if self.received() != sent:
                return f"received {self.received()} of {sent}"
            stamps = self.as_of()
            if len(stamps) != 1:
                return f"cells carry as_of {sorted(stamps)}; {len(self.view)} cells"
            latest = latest_releases(self.records)
            reference = released_reference(
                latest,
                sites,
                instruments,
                covered_by(latest, arrivals),
                min_cell_size=k,
                min_sites=min_sites,
                as_of=next(iter(stamps)),
            )
            return self.describe_difference(reference)

        await eventually(
            settled,
            timeout,
            what="the benchmarks topic to equal the batch reference",
            until=nothing_missing,
            interval=0.5,
        )

    def received(self) -> dict[tuple[str, str], int]:
        """Events the processor has received, per (site, wave or "interventions"): covered by the
        latest release of each site plus held back as the latest progress of that release (or the
        release itself) says. A release and its progress have different keys, so they may be read
        in either order."""
        releases = {
            scope: release
            for scope, release in latest_releases(self.records).items()
            if scope.startswith("site/")
        }
        held_back = {scope: release.held_back for scope, release in releases.items()}
        for record in self.records:
            progress = record.progress
            if (
                progress is not None
                and progress.scope in releases
                and (progress.release_number == releases[progress.scope].number)
            ):
                held_back[progress.scope] = progress.held_back
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for scope, release in releases.items():
            for parts in (release.covered, held_back[scope]):
                for component, n in parts.items():
                    counts[(scope.removeprefix("site/"), component)] += n
        return {key: n for key, n in counts.items() if n}

    async def wait_until(
        self, condition: Callable[[dict[str, ShownCell]], bool], *, timeout: float, what: str
    ) -> None:
        async def view() -> dict[str, ShownCell]:
            await self.poll()
            return self.view

        await eventually(
            view,
            timeout,
            what=what,
            until=condition,
            interval=0,  # poll() itself waits up to 200 ms for records
        )

    async def wait_for_registry(self, sites: Iterable[Site], *, timeout: float) -> None:
        """Until every site's (empty) reach cells are out: the processor forwarded the registry."""
        keys = [f"reach/{site.site_id}/community_partnerships" for site in sites]
        await self.wait_until(
            lambda view: all(key in view for key in keys),
            timeout=timeout,
            what="every site's reach cells",
        )

    def describe_difference(self, reference: BenchmarkSet) -> str:
        """ "" when the view shows exactly the reference's cells, else how they differ."""
        expected, shown = reference.by_key(), self.cells()
        if shown == expected:
            return ""
        missing, extra = sorted(set(expected) - set(shown)), sorted(set(shown) - set(expected))
        differ = sorted(key for key in set(expected) & set(shown) if expected[key] != shown[key])
        return (
            f"{len(shown)} cells shown, {len(expected)} expected; missing {len(missing)} "
            f"{missing[:5]}, unexpected {len(extra)} {extra[:5]}, different {len(differ)} {differ[:5]}"
        )


def nothing_missing(missing: str) -> bool:
    return not missing
