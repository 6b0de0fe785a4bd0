"""What every gRPC service here shares: authentication, rich errors, health and reflection."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from shared.auth import API_KEY_METADATA, CredentialStore, Principal


async def authenticate(
    context: grpc.aio.ServicerContext[Any, Any], store: CredentialStore
) -> Principal:
    """The caller's principal; aborts with UNAUTHENTICATED for a missing or unknown key."""
    metadata = dict(context.invocation_metadata() or ())
    api_key = metadata.get(API_KEY_METADATA)
    principal = store.authenticate(api_key if isinstance(api_key, str) else None)
    if principal is None:
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            f"missing or unknown API key in the '{API_KEY_METADATA}' metadata",
        )
        raise AssertionError("unreachable: abort raises")
    return principal


async def abort_bad_request(
    context: grpc.aio.ServicerContext[Any, Any], message: str, violations: Iterable[tuple[str, str]]
) -> NoReturn:
    """Abort with INVALID_ARGUMENT and a google.rpc.BadRequest naming each bad field."""
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=field, description=reason)
                for field, reason in violations
            ]
        )
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[detail])
    await context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("unreachable: abort raises")


def add_health_and_reflection(
    server: grpc.aio.Server, service_names: Iterable[str]
) -> health.aio.HealthServicer:
    """Register grpc.health.v1 (every service NOT_SERVING until set) and server reflection."""
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    return health_servicer


async def set_serving(
    health_servicer: health.aio.HealthServicer, names: Iterable[str], serving: bool
) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", *names):
        await health_servicer.set(name, status)


def bind(
    server: grpc.aio.Server, address: str, cert_file: Path | None, key_file: Path | None
) -> int:
    """Listen on `address`, with TLS when a certificate and key are configured."""
    if cert_file and key_file:
        credentials = grpc.ssl_server_credentials([(key_file.read_bytes(), cert_file.read_bytes())])
        return server.add_secure_port(address, credentials)
    return server.add_insecure_port(address)
