"""Why a query is refused, as gRPC statuses with google.rpc error details."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import any_pb2, duration_pb2, message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "query.jedi.v1"


class QueryError(Exception):
    """A refusal the servicer turns into a status: a code, a message and typed details."""

    def __init__(
        self, code: grpc.StatusCode, message_text: str, details: Iterable[message.Message] = ()
    ) -> None:
        super().__init__(message_text)
        self.code = code
        self.message_text = message_text
        self.details = tuple(details)

    def to_status(self) -> grpc.Status:
        packed = []
        for detail in self.details:
            container = any_pb2.Any()
            container.Pack(detail)
            packed.append(container)
        status = status_pb2.Status(
            code=getattr(code_pb2, self.code.name),
            message=self.message_text,
            details=packed,
        )
        return rpc_status.to_status(status)


def bad_argument(*violations: tuple[str, str]) -> QueryError:
    """INVALID_ARGUMENT with a google.rpc.BadRequest naming each bad field."""
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=reason)
            for field, reason in violations
        ]
    )
    summary = "; ".join(f"{field}: {reason}" for field, reason in violations)
    return QueryError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {summary}", [detail])


def permission_denied(reason: str, message_text: str) -> QueryError:
    """PERMISSION_DENIED with a google.rpc.ErrorInfo; never says whether what was asked for exists."""
    detail = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    return QueryError(grpc.StatusCode.PERMISSION_DENIED, message_text, [detail])


def not_found(resource_type: str, name: str) -> QueryError:
    detail = error_details_pb2.ResourceInfo(resource_type=resource_type, resource_name=name)
    return QueryError(grpc.StatusCode.NOT_FOUND, f"no {resource_type} {name!r}", [detail])


def unavailable(message_text: str, retry_after_s: float) -> QueryError:
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(int(retry_after_s * 1000))
    return QueryError(
        grpc.StatusCode.UNAVAILABLE, message_text, [error_details_pb2.RetryInfo(retry_delay=delay)]
    )
