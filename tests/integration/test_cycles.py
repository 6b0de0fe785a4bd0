"""Survey cycles in the registry, over a real gRPC socket against the real broker: `jedi cycle`
registers, lists and shows a cycle; a bad cycle is refused with every field error at once and
nothing is written; only a coordinator registers; a site sees only its own cycles, naming no
peer; the change is on the audit trail; a restarted ingest reads the cycles back from the
compacted topic."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from jedi.v1 import audit_trail_pb2, ingest_pb2, ingest_pb2_grpc, registry_pb2
from services.ingest.server import IngestServer
from shared.audit_trail import entry_from_proto
from shared.clients import call_metadata, open_channel
from shared.convert_cycles import cycle_from_proto, cycle_to_proto
from shared.domain.cycles import SurveyCycle
from shared.domain.trail import RegistryChange
from tests.support.ingest import running_ingest
from tests.support.kafka import read_topic, records_written


@pytest.fixture
async def ingest(tmp_path):
    async with running_ingest(tmp_path) as harness:
        yield harness


def good_cycle(harness, cycle_id: str = "2026") -> SurveyCycle:
    instrument = harness.dataset.instrument
    return SurveyCycle(
        cycle_id=cycle_id,
        name=f"{cycle_id} culture survey",
        instrument_id=instrument.instrument_id,
        instrument_version=instrument.version,
        site_ids=("site-north", "site-south"),
        opens_at=datetime(2026, 3, 1, tzinfo=UTC),
        closes_at=datetime(2026, 5, 1, tzinfo=UTC),
        interim_releases=(datetime(2026, 4, 1, tzinfo=UTC),),
        approval_deadline=datetime(2026, 5, 15, tzinfo=UTC),
    )


async def jedi(harness, api_key: str, *argv: str) -> tuple[int, str, str]:
    """`jedi cycle ...` as a process against the harness's ingest."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "cycle",
        *argv,
        "--address",
        f"127.0.0.1:{harness.server.port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "JEDI_API_KEY": api_key},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    found = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [v.field for v in bad.field_violations]
    return found


async def test_create_list_and_show_with_the_cli(ingest, tmp_path):
    coordinator = ingest.keys.coordinator
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps({"cycle_id": "2026", "name": "2026 culture survey"}))
    instrument = ingest.dataset.instrument
    status, out, err = await jedi(
        ingest,
        coordinator,
        "create",
        "--file",
        str(path),
        f"--instrument={instrument.instrument_id}@{instrument.version}",
        "--sites=site-north,site-south",
        "--opens=2026-03-01T00:00:00Z",
        "--closes=2026-05-01T00:00:00Z",
        "--release=2026-04-01T00:00:00Z",
        "--approval-deadline=2026-05-15T00:00:00Z",
    )
    assert status == 0, err
    assert "registered cycle 2026" in out

    status, out, err = await jedi(ingest, coordinator, "list")
    assert status == 0, err
    assert "2026 culture survey" in out and "2026-03-01T00:00:00Z" in out

    status, out, err = await jedi(ingest, coordinator, "show", "2026", "--json")
    assert status == 0, err
    shown = json.loads(out)
    assert shown["site_ids"] == ["site-north", "site-south"]
    assert shown["interim_releases"] == ["2026-04-01T00:00:00Z"]
    assert shown["approval_deadline"] == "2026-05-15T00:00:00Z"

    status, out, err = await jedi(ingest, coordinator, "show", "2025")
    assert status == 1
    assert "NOT_FOUND" in err

    # On the compacted topic, keyed by cycle id, and on the audit trail as a registry change.
    (record,) = await read_topic(ingest.settings.kafka_bootstrap_servers, ingest.topics.cycles.name)
    assert record.key == b"2026"
    assert cycle_from_proto(registry_pb2.SurveyCycle.FromString(record.value)) == (
        good_cycle(ingest),
        [],
    )
    trail = await read_topic(
        ingest.settings.kafka_bootstrap_servers, ingest.topics.audit_trail.name
    )
    changes = [entry_from_proto(audit_trail_pb2.AuditEvent.FromString(r.value)) for r in trail]
    assert [
        (e.principal, e.detail) for e in changes if e.detail == RegistryChange("cycle", "2026")
    ] == [("coordinator", RegistryChange("cycle", "2026"))]


async def test_a_bad_cycle_is_refused_with_every_field_error_and_nothing_is_written(ingest):
    servers = ingest.settings.kafka_bootstrap_servers
    bad = dataclasses.replace(
        good_cycle(ingest),
        cycle_id="",
        instrument_version=99,
        site_ids=("site-north", "site-nowhere", "site-north"),
        interim_releases=(datetime(2026, 6, 1, tzinfo=UTC),),
        approval_deadline=datetime(2026, 4, 1, tzinfo=UTC),
    )
    message = cycle_to_proto(bad)
    message.ClearField("name")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ingest.stub.PutCycle(
            ingest_pb2.PutCycleRequest(cycle=message),
            metadata=call_metadata(ingest.keys.coordinator),
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(refused.value) == [
        "cycle.cycle_id",
        "cycle.name",
        "cycle.instrument_version",
        "cycle.site_ids[1]",
        "cycle.site_ids[2]",
        "cycle.interim_releases[0]",
        "cycle.approval_deadline",
    ]
    assert await records_written(servers, ingest.topics.cycles.name) == 0

    # The CLI prints each of them.
    status, _, err = await jedi(
        ingest,
        ingest.keys.coordinator,
        "create",
        "--id=2026",
        "--name=2026",
        "--instrument=nope@1",
        "--sites=site-nowhere",
        "--opens=2026-05-01T00:00:00Z",
        "--closes=2026-03-01T00:00:00Z",
    )
    assert status == 1
    assert "INVALID_ARGUMENT" in err
    for field in ("cycle.instrument_id", "cycle.site_ids[0]", "cycle.closes_at"):
        assert f"  {field}: " in err, err
    assert await records_written(servers, ingest.topics.cycles.name) == 0


async def test_only_a_coordinator_registers_and_a_site_sees_only_its_own_cycles(ingest):
    north = call_metadata(ingest.keys.sites["site-north"])
    east = call_metadata(ingest.keys.sites["site-east"])
    cycle = cycle_to_proto(good_cycle(ingest))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ingest.stub.PutCycle(ingest_pb2.PutCycleRequest(cycle=cycle), metadata=north)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
        await ingest.stub.ListCycles(ingest_pb2.ListCyclesRequest())
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED

    await ingest.stub.PutCycle(
        ingest_pb2.PutCycleRequest(cycle=cycle), metadata=call_metadata(ingest.keys.coordinator)
    )
    listed = await ingest.stub.ListCycles(ingest_pb2.ListCyclesRequest(), metadata=north)
    assert [list(c.site_ids) for c in listed.cycles] == [["site-north"]]  # no peer named
    shown = await ingest.stub.GetCycle(ingest_pb2.GetCycleRequest(cycle_id="2026"), metadata=north)
    assert list(shown.cycle.site_ids) == ["site-north"]
    assert shown.cycle.name == "2026 culture survey"
    assert not (await ingest.stub.ListCycles(ingest_pb2.ListCyclesRequest(), metadata=east)).cycles
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await ingest.stub.GetCycle(ingest_pb2.GetCycleRequest(cycle_id="2026"), metadata=east)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_restarted_ingest_still_lists_the_cycles(ingest):
    coordinator = call_metadata(ingest.keys.coordinator)
    first, second = good_cycle(ingest, "2026"), good_cycle(ingest, "2025")
    second = dataclasses.replace(
        second,
        opens_at=datetime(2025, 3, 1, tzinfo=UTC),
        closes_at=datetime(2025, 5, 1, tzinfo=UTC),
        interim_releases=(),
        approval_deadline=None,
    )
    for cycle in (first, second):
        await ingest.stub.PutCycle(
            ingest_pb2.PutCycleRequest(cycle=cycle_to_proto(cycle)), metadata=coordinator
        )
    # Replacing a cycle keeps one entry for its id: the latest.
    renamed = dataclasses.replace(first, name="2026 culture survey (extended)")
    await ingest.stub.PutCycle(
        ingest_pb2.PutCycleRequest(cycle=cycle_to_proto(renamed)), metadata=coordinator
    )
    await ingest.server.stop()
    restarted = IngestServer(dataclasses.replace(ingest.settings, port=0))
    await restarted.start()
    ingest.server = restarted
    async with open_channel(f"127.0.0.1:{restarted.port}") as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        listed = await stub.ListCycles(ingest_pb2.ListCyclesRequest(), metadata=coordinator)
    assert [cycle_from_proto(c) for c in listed.cycles] == [(second, []), (renamed, [])]
