"""The demo's check: the query service serves, in every cell, what the batch reference computes.

It follows `Watch` as a coordinator (every cell, and every release status) until the latest
releases cover every event the demo sent (each demo site's covered counts, per wave and for the
interventions, at least what the demo sent) and their cells equal `compute_benchmarks` over the
events those releases cover, in the order the sites sent them. It prints its progress while it
waits.

The platform may hold more than the demo's events: a site's own upload (the README's `jedi push`
example on site-north), or `make bench`'s sites. The demo cannot compute a reference for events it
did not send, so it compares the cells of the demo sites whose releases cover exactly the demo's
events, and the cross-site distributions and ranks only when every released site is such a demo
site; it says which it left out.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jedi.v1 import benchmarks_pb2, common_pb2, query_pb2, query_pb2_grpc
from services.cli import query as query_cli
from services.cli import tables
from shared.clients import call_metadata, open_channel
from shared.convert_benchmarks import cell_from_proto
from shared.demo_dataset import DemoDataset
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.domain.publication.reference import released_reference
from shared.domain.releases import covered_events, event_counts, scope_of, site_scope
from shared.domain.suppression import DEFAULT_MIN_CELL_SIZE, DEFAULT_MIN_SITES

Event = SurveyResponse | InterventionEvent


def site_events(dataset: DemoDataset, site_id: str) -> list[Event]:
    """A site's events in the order it sends them: incident steps in lifecycle order, as a
    site's system would send them."""
    every: list[Event] = [*dataset.responses, *dataset.interventions]
    return sorted((e for e in every if e.site_id == site_id), key=_sent_at)


def _sent_at(event: Event) -> datetime:
    return event.occurred_at if isinstance(event, InterventionEvent) else event.submitted_at


def sent_in_order(dataset: DemoDataset) -> list[Event]:
    """Every event of the demo in the order it pushes them: site after site."""
    return [event for site in dataset.sites for event in site_events(dataset, site.site_id)]


@dataclass
class WatchedState:
    """What a coordinator's Watch has shown so far: cells by key, release statuses by scope."""

    cells: dict[str, benchmarks_pb2.BenchmarkCell] = field(default_factory=dict)
    releases: dict[str, benchmarks_pb2.ReleaseStatus] = field(default_factory=dict)

    def apply(self, message: query_pb2.WatchResponse) -> None:
        for cell in message.cells:
            self.cells[cell.key] = cell
        for key in message.withdrawn_keys:
            self.cells.pop(key, None)
        for status in message.releases:
            self.releases[status.scope] = status

    def received(self) -> dict[tuple[str, str], int]:
        """Events the processor has received per (site, wave or "interventions")."""
        counts: dict[tuple[str, str], int] = {}
        for status in self.releases.values():
            if status.site_id:
                for component in {*status.covered, *status.held_back}:
                    total = status.covered.get(component, 0) + status.held_back.get(component, 0)
                    if total:
                        counts[(status.site_id, component)] = total
        return counts

    def site_releases(self) -> list[benchmarks_pb2.ReleaseStatus]:
        return [status for _, status in sorted(self.releases.items()) if status.site_id]


@dataclass(frozen=True)
class Coverage:
    """How far the latest releases cover what the demo sent."""

    sent: int  # the demo's distinct events
    covered: int  # of those, covered by the latest releases (at most `sent` per site and wave)
    settled: bool  # what still waits is fewer than k per site and wave: never released alone
    exact_sites: frozenset[str]  # demo sites whose releases cover the demo's events and no other
    other_sites: frozenset[str]  # released sites that are not the demo's, or hold more than it sent

    @property
    def complete(self) -> bool:
        """Everything the demo sent is released, but for fewer than k per site and wave (those
        wait for k more: the calendar releases a wave only with k new responses)."""
        return self.settled

    @property
    def whole_platform(self) -> bool:
        """Whether the platform's releases cover the demo's events and nothing else."""
        return self.complete and not self.other_sites


def coverage(state: WatchedState, sent: Mapping[tuple[str, str], int]) -> Coverage:
    released = {status.site_id: dict(status.covered) for status in state.site_releases()}
    demo_sites = {site_id for site_id, _ in sent}
    covered = sum(
        min(count, released.get(site_id, {}).get(component, 0))
        for (site_id, component), count in sent.items()
    )
    own = {site_id: {c: n for (s, c), n in sent.items() if s == site_id} for site_id in demo_sites}
    received = state.received()
    exact = frozenset(
        site_id
        for site_id in demo_sites
        if {c: n for (s, c), n in received.items() if s == site_id} == own[site_id]
    )
    other = frozenset(site_id for site_id in released if site_id not in exact)
    settled = all(
        count - min(count, released.get(site_id, {}).get(component, 0)) < DEFAULT_MIN_CELL_SIZE
        for (site_id, component), count in sent.items()
    )
    return Coverage(sum(sent.values()), covered, settled, exact, other)


def matches_reference(
    state: WatchedState,
    dataset: DemoDataset,
    arrivals: Sequence[Event],
    sites: frozenset[str] | None = None,
) -> bool:
    """Whether the watched cells equal the batch reference over what the latest releases cover:
    of every scope, or (`sites`) of those sites' own scopes only."""
    statuses = [
        status
        for status in state.releases.values()
        if status.number and (sites is None or status.site_id in sites)
    ]
    stamps = {status.as_of.ToDatetime(tzinfo=UTC) for status in statuses}
    if len(stamps) != 1:
        return False
    covered = covered_events({s.site_id: dict(s.covered) for s in statuses if s.site_id}, arrivals)
    reference = released_reference(
        state.cells.keys(),
        dataset.sites,
        [dataset.instrument],
        covered,
        min_cell_size=DEFAULT_MIN_CELL_SIZE,
        min_sites=DEFAULT_MIN_SITES,
        as_of=stamps.pop(),
    )
    shown = {key: cell_from_proto(cell) for key, cell in state.cells.items()}
    expected = reference.by_key()
    if sites is not None:
        scopes = {site_scope(site_id) for site_id in sites}
        shown = {key: cell for key, cell in shown.items() if scope_of(cell) in scopes}
        expected = {key: cell for key, cell in expected.items() if scope_of(cell) in scopes}
    return shown == expected


async def wait_for_the_reference(
    stub: query_pb2_grpc.BenchmarkServiceAsyncStub,
    metadata: tuple[tuple[str, str], ...],
    dataset: DemoDataset,
    arrivals: Sequence[Event],
    *,
    wait_s: float,
) -> WatchedState | None:
    """The watched state once it equals the reference; None after `wait_s` (progress on the way)."""
    state = WatchedState()
    sent = event_counts(arrivals)
    started = last_report = time.monotonic()
    checked_versions: set[int] = set()

    async def follow() -> WatchedState:
        nonlocal last_report
        async for message in stub.Watch(query_pb2.WatchRequest(), metadata=metadata):
            state.apply(message)
            if message.phase == query_pb2.WATCH_PHASE_SNAPSHOT:
                continue
            now = coverage(state, sent)
            if now.complete and message.view_version not in checked_versions:
                checked_versions.add(message.view_version)
                if now.whole_platform:
                    if matches_reference(state, dataset, arrivals):
                        return state
                elif matches_reference(state, dataset, arrivals, now.exact_sites):
                    return state
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                print(
                    f"demo: the releases cover {now.covered} of the {now.sent} events the demo "
                    f"sent ({len(now.exact_sites)} of {len({s for s, _ in sent})} sites exactly); "
                    f"{sum(state.received().values())} events received in all; waiting",
                    flush=True,
                )
        raise RuntimeError("the Watch stream ended")

    try:
        return await asyncio.wait_for(follow(), max(wait_s - (time.monotonic() - started), 0.1))
    except TimeoutError:
        return None


def releases_table(state: WatchedState) -> str:
    """Each site's latest release: number, when it was cut, and the events it covers and holds back."""
    lines = [f"{'site':<14}{'release':>8}  {'cut at (UTC)':<21}{'covered':<50}held back"]
    for status in state.site_releases():
        cut_at = status.cut_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")
        covered = ", ".join(f"{name} {count}" for name, count in sorted(status.covered.items()))
        waiting = (
            ", ".join(f"{name} {count}" for name, count in sorted(status.held_back.items()))
            or "none"
        )
        lines.append(f"{status.site_id:<14}{status.number:>8}  {cut_at:<21}{covered:<50}{waiting}")
    cross = [status for status in state.releases.values() if not status.site_id]
    lines.append(
        f"cross-site: {len(cross)} waves, release numbers "
        + ", ".join(f"{s.scope} {s.number}" for s in sorted(cross, key=lambda s: s.scope))
    )
    return "\n".join(lines)


async def print_demo_report(
    address: str,
    coordinator_key: str,
    site_key: str,
    site_id: str,
    dataset: DemoDataset,
    *,
    wait_s: float = 900.0,
) -> int:
    """Waits until every cell served equals the batch reference over what the releases cover,
    then prints the releases, a coordinator's comparison and one site's scorecard (read with that
    site's key)."""
    arrivals = sent_in_order(dataset)
    async with open_channel(address) as channel:
        stub = query_pb2_grpc.BenchmarkServiceStub(channel)
        coordinator = call_metadata(coordinator_key)
        started = time.monotonic()
        state = await wait_for_the_reference(stub, coordinator, dataset, arrivals, wait_s=wait_s)
        if state is None:
            print(
                f"demo: the query service does not serve the batch reference after {wait_s:.0f} s; giving up",
                file=sys.stderr,
            )
            return 1
        now = coverage(state, event_counts(arrivals))
        if now.whole_platform:
            print(
                f"demo: the query service agrees with the batch reference on all {len(state.cells)} cells, "
                f"distributions and ranks included ({time.monotonic() - started:.1f} s after the push)\n"
            )
        else:
            print(
                "demo: the releases cover every event the demo sent; the platform holds other data "
                f"too (sites {', '.join(sorted(now.other_sites))}: more events than the demo sent, "
                "or not the demo's), so the query service was compared with the batch reference on "
                f"the cells of the {len(now.exact_sites)} other demo sites, not on those sites nor "
                f"on the cross-site distributions ({time.monotonic() - started:.1f} s after the push)\n"
            )
        print(releases_table(state))
        print()
        wave = max(
            (
                cell.composite.wave
                for cell in state.cells.values()
                if cell.WhichOneof("cell") == "composite"
            ),
            default=common_pb2.WAVE_BASELINE,
        )
        request = query_pb2.CompareSitesRequest(composite=common_pb2.COMPOSITE_BELONGING, wave=wave)
        options: query_cli.CallOptions = {"metadata": coordinator, "timeout": 30.0}
        print(
            tables.comparison(
                await query_cli.all_pages(stub.CompareSites, request, options),
                request.composite,
                request.wave,
            )
        )
        print()
        scorecard = await stub.GetSiteScorecard(
            query_pb2.GetSiteScorecardRequest(wave=request.wave),
            metadata=call_metadata(site_key),
            timeout=30.0,
        )
        own = state.releases.get(f"site/{site_id}")
        if own is not None:
            cut_at = own.cut_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")
            print(f"{site_id}: release {own.number}, cut at {cut_at} UTC")
        print(tables.scorecard(scorecard))
        print(f"(read with {site_id}'s own key: its peers appear only as the median and IQR)")
    return 0
