"""The gRPC server: Qdrant's services (api/grpc/services.py, points.py, dispatched by
api/grpc/gateway.py) on grpc.aio in the REST server's own event loop."""

from __future__ import annotations

import logging
from typing import Optional

import grpc

from api.grpc import services
from api.grpc.gateway import Gateway
from api.metrics import GrpcMetricsInterceptor
from api.runtime import Runtime

log = logging.getLogger("hybrid.api")


class GrpcServer:
    """Started and stopped by the REST app's lifespan, so both share one loop and one Runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.server: Optional[grpc.aio.Server] = None

    async def start(self) -> None:
        settings = self.rt.settings
        self.server = grpc.aio.server(interceptors=[GrpcMetricsInterceptor(self.rt.metrics)], options=[
            ("grpc.max_receive_message_length", settings.max_request_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0)])  # a port in use is an error, not a shared port
        services.add_to(self.server, Gateway(self.rt))
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        self.server.add_insecure_port(f"{host}:{settings.grpc_port}")
        await self.server.start()
        log.info("gRPC on %s:%d", settings.host, settings.grpc_port)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=5)  # RPCs in flight finish before the client closes
            self.server = None
