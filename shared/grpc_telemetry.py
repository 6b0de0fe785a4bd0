"""Telemetry of the gRPC servers, one interceptor per concern.

Tracing is OpenTelemetry's own gRPC instrumentation: a server span per call, continuing the
W3C trace context the client sent in the metadata (health checks are left out). Metrics are one
interceptor that counts every call of the service by RPC and status code, and times each call
whose response is a single message (a response stream lasts as long as its subscriber).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import structlog
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from prometheus_client import Counter, Histogram

log = structlog.get_logger(__name__)

Behaviour = Callable[..., Any]  # a handler's coroutine function or async generator function
Request = TypeVar("Request")
Response = TypeVar("Response")
Context = grpc.aio.ServicerContext[Any, Any]


def instrumented_server(
    service_name: str, requests: Counter, request_seconds: Histogram
) -> grpc.aio.Server:
    """A gRPC server that traces every call and measures those of `service_name`."""
    return grpc.aio.server(
        interceptors=[
            aio_server_interceptor(  # type: ignore[no-untyped-call]  # the instrumentation is untyped
                filter_=filters.negate(filters.health_check())
            ),
            RpcMetricsInterceptor(service_name, requests, request_seconds),
        ]
    )


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts the service's calls by (rpc, code) and times unary responses by rpc."""

    def __init__(self, service_name: str, requests: Counter, request_seconds: Histogram) -> None:
        self._prefix = f"/{service_name}/"
        self._requests = requests
        self._seconds = request_seconds

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Request, Response] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Request, Response] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(self._prefix):
            return handler
        rpc = method.removeprefix(self._prefix)
        if handler.response_streaming:
            wrap = grpc.unary_stream_rpc_method_handler
            if handler.request_streaming:
                wrap = grpc.stream_stream_rpc_method_handler
            streaming: Behaviour | None = handler.stream_stream or handler.unary_stream
            if streaming is None:
                return handler
            observed = self._observe_stream(rpc, streaming)
        else:
            wrap = grpc.unary_unary_rpc_method_handler
            if handler.request_streaming:
                wrap = grpc.stream_unary_rpc_method_handler
            unary: Behaviour | None = handler.stream_unary or handler.unary_unary
            if unary is None:
                return handler
            observed = self._observe_unary(rpc, unary)
        return wrap(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _observe_unary(self, rpc: str, behaviour: Behaviour) -> Behaviour:
        async def observed(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await behaviour(request, context)
            except BaseException as error:
                code = _failure_code(error, context, rpc)
                raise
            finally:
                self._requests.labels(rpc, code.name).inc()
                self._seconds.labels(rpc).observe(time.perf_counter() - started)

        return observed

    def _observe_stream(self, rpc: str, behaviour: Behaviour) -> Behaviour:
        async def observed(request: Any, context: Context) -> AsyncIterator[Any]:
            code = grpc.StatusCode.OK
            try:
                async for response in behaviour(request, context):
                    yield response
            except BaseException as error:
                code = _failure_code(error, context, rpc)
                raise
            finally:
                self._requests.labels(rpc, code.name).inc()

        return observed


def _failure_code(error: BaseException, context: Context, rpc: str) -> grpc.StatusCode:
    """The status a call ends with when its handler raised `error`."""
    if isinstance(error, grpc.aio.AbortError):
        return _status_code(context)
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):
        return grpc.StatusCode.CANCELLED
    log.error("rpc_failed", rpc=rpc, exc_info=error)
    return grpc.StatusCode.UNKNOWN  # what gRPC answers for an exception a handler lets out


def _status_code(context: Context) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
