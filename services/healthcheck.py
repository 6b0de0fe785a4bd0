"""`python -m services.healthcheck [HOST:PORT [SERVICE]]`: exit 0 when the gRPC server is SERVING.

Without an address it checks the service in its own container: 127.0.0.1 on `JEDI_PORT`
(the Docker Compose healthcheck of every gRPC service).
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str]) -> int:
    address = argv[0] if argv else f"127.0.0.1:{os.environ['JEDI_PORT']}"
    service = argv[1] if len(argv) > 1 else ""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]  # types-grpcio-health-checking declares HealthStub without its methods
                health_pb2.HealthCheckRequest(service=service), timeout=3
            )
        except grpc.RpcError as error:
            print(f"{address}: {error.code().name}", file=sys.stderr)
            return 1
    print(f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
