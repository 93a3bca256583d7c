"""The REST server: `create_app` builds the Litestar app over an embedded Client; `serve` runs it.

The app is a thin shell (DESIGN.md section 1): routes decode Qdrant-shaped requests, call
qdrant-client-named Client methods in worker threads, and wrap results in Qdrant's envelopes.
Shutdown closes the Client it opened, which flushes and releases the data folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import anyio.to_thread
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide

from api import dashboard
from api.auth import KeyGuard
from api.limits import check_json_body
from api.metrics import MetricsMiddleware
from api.openapi import docs_assets_router, openapi_config
from api.responses import handle_exception
from api.routes import cluster, collections, points, query, schema, service, snapshots
from api.runtime import Runtime
from api.settings import Settings
from hybrid import Client

log = logging.getLogger("hybrid.api")
CORS = CORSConfig(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


def open_client(settings: Settings) -> Client:
    """The Client a server owns: persistent under `settings.data`, else in memory; documents
    in queries and points are embedded server-side, through the shared embedding cache."""
    from hybrid.embed import open_default_cache
    from hybrid.inference import Inference

    return Client(path=settings.data, inference=Inference(open_default_cache()))


def create_app(client: Optional[Client] = None, settings: Optional[Settings] = None,
               owned: Optional[bool] = None) -> Litestar:
    """The app. Without `client`, it opens one from `settings`. It closes the client on shutdown
    when it owns it (by default: when it opened it)."""
    settings = settings or Settings()
    owned = client is None if owned is None else owned
    rt = Runtime(client if client is not None else open_client(settings), settings)

    grpc_server = None
    if settings.grpc_port:  # imported only when on: grpcio and the protocol code load in ~0.5 s
        from api.grpc.server import GrpcServer

        grpc_server = GrpcServer(rt)

    async def close_client() -> None:
        if owned:
            await anyio.to_thread.run_sync(rt.client.close)
            log.info("data flushed, client closed")

    app = Litestar(
        route_handlers=[*service.ROUTES, *collections.ROUTES, *schema.ROUTES, *points.ROUTES, *query.ROUTES,
                        *cluster.ROUTES, snapshots.router(settings.max_snapshot_bytes), docs_assets_router(),
                        dashboard.router()],
        dependencies={"rt": Provide(lambda: rt, use_cache=True, sync_to_thread=False)},
        guards=[KeyGuard(settings)] if settings.auth_enabled else [],
        exception_handlers={Exception: handle_exception},
        before_request=check_json_body,
        cors_config=CORS,  # as Qdrant's default (enable_cors): any origin, method and header
        middleware=[MetricsMiddleware(rt.metrics)],
        openapi_config=openapi_config(settings),
        request_max_body_size=settings.max_request_bytes,
        on_startup=[grpc_server.start] if grpc_server else [],
        on_shutdown=[grpc_server.stop, close_client] if grpc_server else [close_client],
        signature_types=[Runtime],
        logging_config=None,  # the host process (uvicorn, tests) configures logging
    )
    app.state.runtime = rt
    return app


def limit_blas_threads(threads: int) -> None:
    """One BLAS thread per engine call: the server already runs calls in parallel, and BLAS's own
    threads then only contend (measured: 10x fewer dense queries/s with OpenBLAS's default)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy is loaded already, so the environment variable no longer helps
        log.warning("threadpoolctl is not installed: BLAS keeps its default thread count")
        return
    threadpool_limits(limits=threads, user_api="blas")


def serve(host: Optional[str] = None, port: Optional[int] = None, data: Optional[str | Path] = None,
          api_key: Optional[str] = None, read_only_api_key: Optional[str] = None,
          settings: Optional[Settings] = None, client: Any = None, **options: Any) -> None:
    """Run the server until SIGINT/SIGTERM (then finish requests in flight and close the Client).

    Without `settings`, unset arguments fall back to `HYBRID_*` environment variables, then to
    Settings defaults. Before it listens it opens the collections and (unless `warm_up` is off)
    loads the text models, logging each step, so the first request never waits for them."""
    import time

    import uvicorn

    if settings is None:
        settings = Settings.from_env(host=host, port=port, data=data, api_key=api_key,
                                     read_only_api_key=read_only_api_key, **options)
    level = settings.log_level.lower()
    if level == "trace" and settings.auth_enabled:
        level = "debug"  # uvicorn's trace level logs request headers, which carry the API keys
    logging.basicConfig(level=level.upper() if level != "trace" else logging.DEBUG,
                        format="%(levelname)s:     %(name)s - %(message)s")
    limit_blas_threads(settings.blas_threads)
    start = time.perf_counter()
    log.info("opening %s ...", settings.data or "in-memory data")
    client = client if client is not None else open_client(settings)  # given: a cluster coordinator
    log.info("%d collection(s) open in %.1f s", len(client.get_collections().collections), time.perf_counter() - start)
    if client.infer.cache is not None:
        log.info(client.infer.cache.describe())
    if settings.warm_up:
        warm_up(client.infer)
    app = create_app(client, settings, owned=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=level,
                            timeout_graceful_shutdown=30, server_header=False)
    log.info("serving %s on %s:%d, gRPC %s (auth %s)", settings.data or "in-memory data", settings.host,
             settings.port, settings.grpc_port or "off", "on" if settings.auth_enabled else "off")
    uvicorn.Server(config).run()


def warm_up(inference: Any) -> None:
    """Load the default text models now: loading takes seconds (longer than qdrant-client's 5 s
    default timeout on a busy machine), which a first query would otherwise wait for."""
    import time

    from hybrid.errors import ModelUnavailable
    from hybrid.inference import DEFAULT_MODELS

    start = time.perf_counter()
    log.info("loading text models for server-side inference (%s) ...", ", ".join(DEFAULT_MODELS))
    try:
        inference.warm(DEFAULT_MODELS)
    except ModelUnavailable as exc:
        log.warning("text models not loaded (%s); text queries will report it", exc)
        return
    log.info("text models ready in %.1f s", time.perf_counter() - start)
