"""Server-Sent Events for one open page: the view rebuilt from the query service each time the
user's own Watch stream reports a change to it, never more often than once per coalescing window.

What counts as a change is the view's: the pages of cells rebuild when matching cells change or
go (a release whose cells are all unchanged, or a progress update, leaves them alone); the live
status rebuilds on the release statuses the stream carries (`status_messages`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import structlog

from jedi.v1 import common_pb2, query_pb2
from services.dashboard import metrics
from services.dashboard.release_status import ReleaseBoard
from services.dashboard.views import Json

log = structlog.get_logger(__name__)
K = query_pb2


def watch_request(view: str, *, site_id: str, wave: common_pb2.Wave) -> query_pb2.WatchRequest:
    """The cells a view is built from: a change to any of them rebuilds it."""
    if view == "overview":
        return K.WatchRequest(
            kinds=[K.CELL_KIND_COMPOSITE, K.CELL_KIND_DISTRIBUTION, K.CELL_KIND_RANK], wave=wave
        )
    if view == "scorecard":
        return K.WatchRequest(
            site_id=site_id,
            wave=wave,
            kinds=[
                K.CELL_KIND_COMPOSITE,
                K.CELL_KIND_RESPONSE,
                K.CELL_KIND_DISTRIBUTION,
                K.CELL_KIND_RANK,
                K.CELL_KIND_DISPARITY,
                K.CELL_KIND_CHANGE,
            ],
        )
    if view == "interventions":
        return K.WatchRequest(site_id=site_id, kinds=[K.CELL_KIND_REACH])
    # status: the stream's release statuses, and no cells (response cells have no composite,
    # so none matches; the statuses follow the user's scopes whatever the cell filter).
    return K.WatchRequest(kinds=[K.CELL_KIND_RESPONSE], composite=common_pb2.COMPOSITE_BELONGING)


MessageFilter = Callable[[query_pb2.WatchResponse], bool]


def cell_messages(message: query_pb2.WatchResponse) -> bool:
    """Whether a message changes a page built from cells: the end of the snapshot, or cells
    published anew or withdrawn."""
    if message.phase == K.WATCH_PHASE_SNAPSHOT_COMPLETE:
        return True
    return message.phase == K.WATCH_PHASE_CHANGE and bool(message.cells or message.withdrawn_keys)


def status_messages(board: ReleaseBoard) -> MessageFilter:
    """The live status: every status a message carries goes to the board; a change rebuilds."""

    def changes(message: query_pb2.WatchResponse) -> bool:
        changed = board.apply(message.releases)
        return message.phase == K.WATCH_PHASE_SNAPSHOT_COMPLETE or changed

    return changes


def sse(event: str, data: Json | str) -> str:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {text}\n\n"


@dataclass
class _Follow:
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    version: int = 0
    ended: str | None = None


async def view_events(
    *,
    view: str,
    build: Callable[[], Awaitable[Json]],
    watch: AsyncIterable[query_pb2.WatchResponse],
    signed_in: Callable[[], bool],
    coalesce_s: float,
    keepalive_s: float,
    changes: MessageFilter = cell_messages,
) -> AsyncIterator[str]:
    follow = _Follow()

    async def follower() -> None:
        try:
            async for message in watch:
                if changes(message):
                    follow.version = message.view_version
                    follow.changed.set()
            follow.ended = "the benchmark stream ended"
        except grpc.aio.AioRpcError as error:
            follow.ended = f"the benchmark stream stopped ({error.code().name})"
        follow.changed.set()

    task = asyncio.create_task(follower(), name=f"dashboard-watch-{view}")
    metrics.STREAMS.inc()
    try:
        yield "retry: 2000\n\n"
        while True:
            try:
                await asyncio.wait_for(follow.changed.wait(), keepalive_s)
            except TimeoutError:
                if not signed_in():
                    yield sse("signedout", "{}")
                    return
                yield ": keepalive\n\n"
                continue
            if not signed_in():
                yield sse("signedout", "{}")
                return
            if follow.ended:
                yield sse("offline", {"message": follow.ended})
                return
            await asyncio.sleep(coalesce_s)  # let the rest of one publication arrive
            follow.changed.clear()
            started = time.perf_counter()
            try:
                payload = await build()
            except grpc.aio.AioRpcError as error:
                yield sse("problem", {"code": error.code().name, "message": error.details() or ""})
                return
            except LookupError as error:
                yield sse("problem", {"code": "NOT_FOUND", "message": str(error)})
                return
            metrics.VIEW_BUILD_SECONDS.labels(view).observe(time.perf_counter() - started)
            payload["view_version"] = follow.version
            yield sse("view", payload)
    finally:
        metrics.STREAMS.dec()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
