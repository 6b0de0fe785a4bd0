"""`jedi cycle create|list|show`: survey cycles in ingest's registry (PutCycle, ListCycles, GetCycle).

`create` takes a JSON file (`--file`, the `jedi.v1.SurveyCycle` message in protobuf's JSON
mapping: snake_case or lowerCamelCase names, RFC 3339 times) or flags, or both: a flag given
replaces that field of the file. Registering is for coordinators; a site lists and shows the
cycles it takes part in. The address and API key come from --address / --api-key or
JEDI_INGEST_ADDRESS / JEDI_API_KEY. Exits 1 when ingest refuses the call (every field error of a
refused cycle is printed), 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from jedi.v1 import ingest_pb2, ingest_pb2_grpc, registry_pb2
from services.cli.arguments import readable_file
from services.cli.push import add_connection_arguments
from services.cli.query import describe_error
from services.cli.tables import render
from shared.clients import call_metadata, open_channel


class BadCycleInput(Exception):
    """The file or flags do not make a SurveyCycle message; the message says why."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cycle", help="register and read survey cycles")
    common = argparse.ArgumentParser(add_help=False)
    add_connection_arguments(common)
    common.add_argument("--timeout", type=float, default=30.0, help="deadline of the call, seconds")
    commands = parser.add_subparsers(dest="cycle_command", required=True)

    create = commands.add_parser(
        "create",
        parents=[common],
        help="register a survey cycle, or replace one (coordinators)",
        description="A JSON file, flags, or both (a flag replaces that field of the file).",
    )
    create.add_argument("--file", type=readable_file, help="the cycle as JSON (SurveyCycle)")
    create.add_argument("--id", dest="cycle_id", help='the cycle id, e.g. "2026"')
    create.add_argument("--name", help='e.g. "2026 culture survey"')
    create.add_argument("--instrument", help="the instrument version: <instrument id>@<version>")
    create.add_argument("--sites", help="the sites taking part, comma-separated")
    create.add_argument("--opens", help="when it opens (RFC 3339, e.g. 2026-03-01T00:00:00Z)")
    create.add_argument("--closes", help="when it closes (RFC 3339)")
    create.add_argument(
        "--release",
        action="append",
        help="an interim release time (RFC 3339); repeat for each, in order",
    )
    create.add_argument(
        "--no-releases", action="store_true", help="no interim release (clears the file's)"
    )
    create.add_argument("--approval-deadline", help="when sites' approvals are due (RFC 3339)")
    create.set_defaults(handler=lambda a: _run(a, _create))

    listing = commands.add_parser("list", parents=[common], help="the cycles you may see")
    listing.set_defaults(handler=lambda a: _run(a, _list))

    show = commands.add_parser("show", parents=[common], help="one cycle in full")
    show.add_argument("cycle_id")
    show.add_argument(
        "--json", action="store_true", help="print it as JSON, the form `create --file` reads"
    )
    show.set_defaults(handler=lambda a: _run(a, _show))


def cycle_message(arguments: argparse.Namespace) -> registry_pb2.SurveyCycle:
    """The SurveyCycle the file and flags describe (flags win)."""
    fields: dict[str, Any] = {}
    if arguments.file is not None:
        fields = _read_file(arguments.file)
    if arguments.cycle_id is not None:
        fields["cycle_id"] = arguments.cycle_id
    if arguments.name is not None:
        fields["name"] = arguments.name
    if arguments.instrument is not None:
        instrument_id, at, version = arguments.instrument.rpartition("@")
        if not at or not version.isdigit():
            raise BadCycleInput(f"--instrument {arguments.instrument!r}: give <id>@<version>")
        fields["instrument_id"], fields["instrument_version"] = instrument_id, int(version)
    if arguments.sites is not None:
        fields["site_ids"] = [s.strip() for s in arguments.sites.split(",") if s.strip()]
    for flag, field in (
        ("opens", "opens_at"),
        ("closes", "closes_at"),
        ("approval_deadline", "approval_deadline"),
    ):
        if getattr(arguments, flag) is not None:
            fields[field] = getattr(arguments, flag)
    if arguments.no_releases:
        fields["interim_releases"] = []
    if arguments.release:
        fields["interim_releases"] = list(arguments.release)
    fields = {_snake(name): value for name, value in fields.items()}
    try:
        return json_format.ParseDict(fields, registry_pb2.SurveyCycle())
    except json_format.ParseError as error:
        raise BadCycleInput(str(error)) from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadCycleInput(f"{path}: {error}") from None
    if not isinstance(loaded, dict):
        raise BadCycleInput(f"{path}: a JSON object (one SurveyCycle) is expected")
    return loaded


def _snake(name: str) -> str:
    """A lowerCamelCase JSON name as the proto field's name, so a flag replaces it."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _run(
    arguments: argparse.Namespace, command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
) -> int:
    if not arguments.api_key:
        print("jedi cycle: no API key: pass --api-key or set JEDI_API_KEY", file=sys.stderr)
        return 2
    try:
        status = asyncio.run(command(arguments))
    except BadCycleInput as error:
        print(f"jedi cycle: {error}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as error:
        print(describe_error(error), file=sys.stderr)
        return 1
    return status


async def _create(arguments: argparse.Namespace) -> int:
    message = cycle_message(arguments)
    async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).PutCycle(
            ingest_pb2.PutCycleRequest(cycle=message),
            metadata=call_metadata(arguments.api_key),
            timeout=arguments.timeout,
        )
    print(f"registered cycle {reply.cycle.cycle_id}")
    print(describe_cycle(reply.cycle))
    return 0


async def _list(arguments: argparse.Namespace) -> int:
    async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).ListCycles(
            ingest_pb2.ListCyclesRequest(),
            metadata=call_metadata(arguments.api_key),
            timeout=arguments.timeout,
        )
    print(cycles_table(reply.cycles))
    return 0


async def _show(arguments: argparse.Namespace) -> int:
    async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).GetCycle(
            ingest_pb2.GetCycleRequest(cycle_id=arguments.cycle_id),
            metadata=call_metadata(arguments.api_key),
            timeout=arguments.timeout,
        )
    if arguments.json:
        print(json_format.MessageToJson(reply.cycle, preserving_proto_field_name=True, indent=2))
    else:
        print(describe_cycle(reply.cycle))
    return 0


def cycles_table(cycles: Sequence[registry_pb2.SurveyCycle]) -> str:
    if not cycles:
        return "no survey cycles registered"
    return render(
        ["cycle", "name", "instrument", "sites", "opens", "closes", "releases", "approval due"],
        [
            (
                c.cycle_id,
                c.name,
                f"{c.instrument_id}@{c.instrument_version}",
                len(c.site_ids),
                _time(c.opens_at),
                _time(c.closes_at),
                len(c.interim_releases),
                _time(c.approval_deadline) if c.HasField("approval_deadline") else "—",
            )
            for c in cycles
        ],
    )


def describe_cycle(cycle: registry_pb2.SurveyCycle) -> str:
    releases = [_time(t) for t in cycle.interim_releases]
    deadline = _time(cycle.approval_deadline) if cycle.HasField("approval_deadline") else "none"
    lines = [
        f"cycle:             {cycle.cycle_id}",
        f"name:              {cycle.name}",
        f"instrument:        {cycle.instrument_id}@{cycle.instrument_version}",
        f"opens:             {_time(cycle.opens_at)}",
        f"closes:            {_time(cycle.closes_at)} (the final release)",
        f"interim releases:  {', '.join(releases) if releases else 'none'}",
        f"approval deadline: {deadline}",
        f"sites ({len(cycle.site_ids)}):",
        *(f"  {site_id}" for site_id in cycle.site_ids),
    ]
    return "\n".join(lines)


def _time(stamp: Timestamp) -> str:
    text: str = stamp.ToJsonString()
    return text
