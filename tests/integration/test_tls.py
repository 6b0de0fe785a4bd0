"""Ingest and query served over TLS on a real socket, with a test CA (trustme).

A client trusting the CA talks to both (the harness registers the dataset through the TLS
channel, the CLI reads with `--ca-file`); a plaintext client and a client trusting another CA
get no answer at all.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
import pytest_asyncio
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services import cli
from shared.clients import open_channel
from shared.convert import event_to_proto
from tests.support.ingest import running_ingest
from tests.support.query import running_query


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """The CA bundle, and a server certificate for 127.0.0.1 with its key."""
    directory = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1", "localhost")
    files = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key", "other_ca")}
    authority.cert_pem.write_to_path(str(files["ca"]))
    server_cert.private_key_pem.write_to_path(str(files["key"]))
    files["cert"].write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
    trustme.CA().cert_pem.write_to_path(str(files["other_ca"]))
    return files


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ingest(tmp_path_factory, tls_files):
    async with running_ingest(
        tmp_path_factory.mktemp("ingest"),
        ca_file=tls_files["ca"],
        tls_cert_file=tls_files["cert"],
        tls_key_file=tls_files["key"],
    ) as harness:
        yield harness


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def query(tmp_path_factory, tls_files):
    async with running_query(
        tmp_path_factory.mktemp("query"),
        ca_file=tls_files["ca"],
        tls_cert_file=tls_files["cert"],
        tls_key_file=tls_files["key"],
    ) as harness:
        yield harness


async def health(address: str, **channel_options) -> health_pb2.HealthCheckResponse:
    async with open_channel(address, **channel_options) as channel:
        return await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )


async def test_ingest_accepts_events_over_tls(ingest):
    events = [event_to_proto(event) for event in ingest.dataset.responses[:5]]
    answer = await ingest.submit(events)
    assert answer.accepted_count == 5, answer


async def test_query_answers_the_cli_over_tls(query, tls_files, capsys):
    status = await asyncio.to_thread(
        cli.main,
        [
            "query",
            "sites",
            "--address",
            query.address,
            "--ca-file",
            str(tls_files["ca"]),
            "--api-key",
            query.key("coordinator"),
        ],
    )
    assert status == 0 and "Northern University Hospital" in capsys.readouterr().out


@pytest.mark.parametrize("service", ["ingest", "query"])
async def test_plaintext_and_untrusted_clients_get_no_answer(service, request, tls_files):
    harness = request.getfixturevalue(service)
    address = f"127.0.0.1:{harness.server.port}"
    assert (
        await health(address, ca_file=tls_files["ca"])
    ).status == health_pb2.HealthCheckResponse.SERVING
    for channel_options in ({}, {"ca_file": tls_files["other_ca"]}):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health(address, **channel_options)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, channel_options
