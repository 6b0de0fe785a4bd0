"""What the benchmarks topic shows a reader: its records as releases and progress, the latest
release of each scope, the events those cover, and the batch reference they must equal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from jedi.v1 import benchmarks_pb2
from shared.convert_releases import progress_from_proto, release_from_proto
from shared.domain.benchmark_set import BenchmarkSet, Cell
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse
from shared.domain.releases import Release, ReleaseProgress, covered_events

Event = SurveyResponse | InterventionEvent


@dataclass(frozen=True)
class Published:
    """One record of the benchmarks topic: a release, or the progress of one (or a tombstone)."""

    key: str
    release: Release | None = None
    progress: ReleaseProgress | None = None
    trace_id: str | None = None  # of the W3C traceparent header, if any

    @classmethod
    def of(
        cls, key: bytes, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> Published:
        parent = dict(headers).get("traceparent")
        trace_id = parent.decode().split("-")[1] if parent else None
        if value is None:
            return cls(key.decode(), trace_id=trace_id)
        message = benchmarks_pb2.BenchmarkRecord.FromString(value)
        if message.WhichOneof("record") == "release":
            return cls(key.decode(), release=release_from_proto(message.release), trace_id=trace_id)
        return cls(key.decode(), progress=progress_from_proto(message.progress), trace_id=trace_id)


@dataclass(frozen=True)
class ShownCell:
    """A cell as the latest release of its scope shows it."""

    key: str
    cell: Cell
    as_of: datetime
    revision: int  # the release number


def latest_releases(records: Iterable[Published]) -> dict[str, Release]:
    """The latest release of every scope (the highest number; a replay may repeat one)."""
    view: dict[str, Release] = {}
    for record in records:
        release = record.release
        if release is not None and (
            release.scope not in view or release.number >= view[release.scope].number
        ):
            view[release.scope] = release
    return view


def latest(records: Iterable[Published]) -> dict[str, ShownCell]:
    """Every cell the latest releases show, by key."""
    return {
        cell.key: ShownCell(cell.key, cell, release.as_of, release.number)
        for release in latest_releases(records).values()
        for cell in release.cells
    }


def batch_reference(
    sites: Iterable[Site],
    instruments: Iterable[Instrument],
    events: Sequence[Event],
    *,
    k: int,
    min_sites: int,
    as_of: datetime,
) -> BenchmarkSet:
    """`compute_benchmarks` over a mixed list of events."""
    return compute_benchmarks(
        sites,
        instruments,
        [e for e in events if isinstance(e, SurveyResponse)],
        [e for e in events if isinstance(e, InterventionEvent)],
        min_cell_size=k,
        min_sites=min_sites,
        as_of=as_of,
    )


def releases_of(records: Iterable[Published]) -> list[Release]:
    return [record.release for record in records if record.release is not None]


def covered_by(releases: Mapping[str, Release], arrivals: Iterable[Event]) -> list[Event]:
    """The events the latest site releases (by scope) cover, in the order they were sent."""
    covered = {
        scope.removeprefix("site/"): release.covered
        for scope, release in releases.items()
        if scope.startswith("site/")
    }
    return covered_events(covered, arrivals)
