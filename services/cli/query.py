"""`jedi query`: scorecards, comparisons and the rest from the query service, printed as tables.

The address and API key come from --address / --api-key or JEDI_QUERY_ADDRESS / JEDI_API_KEY.
Lists are read page after page to the end. Exits 1 when the service refuses the call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypedDict, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from jedi.v1 import query_pb2, query_pb2_grpc
from services.cli import tables
from services.cli.arguments import readable_file
from shared.clients import call_metadata, open_channel
from shared.domain.benchmark_set import Measure
from shared.domain.model import Composite, GroupDimension, Wave
from shared.proto_enums import value_name

_WAVES = [wave.value for wave in Wave]
_COMPOSITES = [composite.value for composite in Composite]


class CallOptions(TypedDict):
    metadata: Sequence[tuple[str, str]]
    timeout: float


if TYPE_CHECKING:  # the async stub exists in the generated type stubs only
    Stub = query_pb2_grpc.BenchmarkServiceAsyncStub
    Command = Callable[[Stub, argparse.Namespace, CallOptions], Awaitable[str]]


class _Page(Protocol):
    @property
    def next_page_token(self) -> str: ...


class _PagedRequest(Protocol):
    page_token: str


P = TypeVar("P", bound=_Page)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("query", help="read benchmarks from the query service")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--address", default=os.environ.get("JEDI_QUERY_ADDRESS", "127.0.0.1:50061")
    )
    common.add_argument(
        "--api-key", default=os.environ.get("JEDI_API_KEY"), help="default: $JEDI_API_KEY"
    )
    common.add_argument("--ca-file", type=readable_file, help="CA bundle: connect with TLS")
    common.add_argument(
        "--timeout", type=float, default=10.0, help="deadline of each call, seconds"
    )
    commands = parser.add_subparsers(dest="query", required=True)

    def command(name: str, help_text: str, run: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, parents=[common])
        sub.set_defaults(handler=lambda arguments: asyncio.run(_call(run, arguments)))
        return sub

    sub = command("scorecard", "one site's scorecard for a wave", _scorecard)
    sub.add_argument("--site", default="", help="site id (a site's key: its own by default)")
    sub.add_argument("--wave", required=True, choices=_WAVES)
    sub = command("compare", "coordinators: every site on one composite", _compare)
    sub.add_argument("--composite", required=True, choices=_COMPOSITES)
    sub.add_argument("--wave", required=True, choices=_WAVES)
    sub.add_argument("--measure", choices=["percent_positive", "mean"])
    sub.add_argument("--sites", default="", help="comma-separated site ids (default: all)")
    sub = command("distribution", "the anonymous cross-site distribution", _distribution)
    sub.add_argument("--wave", required=True, choices=_WAVES)
    sub.add_argument("--composite", choices=_COMPOSITES)
    sub.add_argument("--measure", choices=["percent_positive", "mean"])
    sub.add_argument("--site", default="", help="also this site's percentile ranks")
    sub = command("disparities", "disparity gaps, largest significant first", _disparities)
    sub.add_argument("--site", default="")
    sub.add_argument("--wave", choices=_WAVES)
    sub.add_argument("--composite", choices=_COMPOSITES)
    sub.add_argument("--dimension", choices=[d.value for d in GroupDimension])
    sub.add_argument("--all", action="store_true", help="include gaps that are not significant")
    sub = command("trend", "a site's composites over the waves", _trend)
    sub.add_argument("--site", default="")
    sub.add_argument("--composite", choices=_COMPOSITES)
    sub.add_argument("--dimension", default="")
    sub.add_argument("--group", default="")
    sub = command("reach", "a site's intervention reach", _reach)
    sub.add_argument("--site", default="")
    sub.add_argument("--metric", default="")
    command("sites", "the sites you may see", _sites)
    command("composites", "the composites and their waves", _composites)
    sub = command("watch", "follow benchmark changes live", _watch)
    sub.add_argument("--site", default="")
    sub.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=[name.removeprefix("CELL_KIND_").lower() for name in query_pb2.CellKind.keys()[1:]],
    )
    sub.add_argument("--wave", choices=_WAVES)
    sub.add_argument("--composite", choices=_COMPOSITES)
    sub.add_argument("--count", type=int, default=0, help="stop after this many change messages")


async def _call(run: Command, arguments: argparse.Namespace) -> int:
    async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
        stub: Stub = query_pb2_grpc.BenchmarkServiceStub(channel)
        options = CallOptions(metadata=call_metadata(arguments.api_key), timeout=arguments.timeout)
        try:
            print(await run(stub, arguments, options))
        except grpc.aio.AioRpcError as error:
            print(describe_error(error), file=sys.stderr)
            return 1
        except BrokenPipeError:  # piped into `head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def describe_error(error: grpc.aio.AioRpcError) -> str:
    lines = [f"error: {error.code().name}: {error.details()}"]
    status = rpc_status.from_call(error)  # type: ignore[arg-type]  # an AioRpcError is the call itself: it has the trailing metadata from_call reads
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


async def all_pages(
    method: Callable[..., Awaitable[P]], request: _PagedRequest, options: CallOptions
) -> list[P]:
    replies: list[P] = []
    while True:
        reply = await method(request, **options)
        replies.append(reply)
        if not reply.next_page_token:
            return replies
        request.page_token = reply.next_page_token


async def _scorecard(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.GetSiteScorecardRequest(site_id=a.site, wave=value_name(Wave, a.wave))
    return tables.scorecard(await stub.GetSiteScorecard(request, **options))


async def _compare(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.CompareSitesRequest(
        composite=value_name(Composite, a.composite),
        wave=value_name(Wave, a.wave),
        measure=value_name(Measure, a.measure),
        site_ids=[s.strip() for s in a.sites.split(",") if s.strip()],
    )
    replies = await all_pages(stub.CompareSites, request, options)
    return tables.comparison(replies, request.composite, request.wave)


async def _distribution(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.GetDistributionRequest(
        wave=value_name(Wave, a.wave),
        composite=value_name(Composite, a.composite),
        measure=value_name(Measure, a.measure),
        site_id=a.site,
    )
    return tables.distribution(await stub.GetDistribution(request, **options))


async def _disparities(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.ListDisparitiesRequest(
        site_id=a.site,
        wave=value_name(Wave, a.wave),
        composite=value_name(Composite, a.composite),
        dimension=value_name(GroupDimension, a.dimension),
        include_not_significant=a.all,
    )
    return tables.disparities(await all_pages(stub.ListDisparities, request, options))


async def _trend(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.GetTrendRequest(
        site_id=a.site,
        composite=value_name(Composite, a.composite),
        dimension=a.dimension,
        group=a.group,
    )
    return tables.trend(await stub.GetTrend(request, **options))


async def _reach(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.GetInterventionReachRequest(site_id=a.site, metric=a.metric)
    return tables.reach(await stub.GetInterventionReach(request, **options))


async def _sites(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    return tables.sites(await all_pages(stub.ListSites, query_pb2.ListSitesRequest(), options))


async def _composites(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    return tables.composites(
        await all_pages(stub.ListComposites, query_pb2.ListCompositesRequest(), options)
    )


async def _watch(stub: Stub, a: argparse.Namespace, options: CallOptions) -> str:
    request = query_pb2.WatchRequest(
        site_id=a.site,
        kinds=[f"CELL_KIND_{k.upper()}" for k in a.kind],
        wave=value_name(Wave, a.wave),
        composite=value_name(Composite, a.composite),
    )
    changes = 0
    async for message in stub.Watch(
        request, metadata=options["metadata"]
    ):  # no deadline: it follows
        print(tables.watch_line(message), flush=True)
        changes += message.phase == query_pb2.WATCH_PHASE_CHANGE
        if a.count and changes >= a.count:
            break
    return f"{changes} change messages"
