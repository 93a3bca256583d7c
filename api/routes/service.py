"""Service routes: version, health probes, Prometheus metrics and our OpenAPI document."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response

from api.auth import PUBLIC, READ, access
from api.routes.params import Rt

TITLE = "hybrid - vector search engine (Qdrant-compatible REST API)"


@get("/", opt=access(PUBLIC), summary="Version", tags=["Service"], sync_to_thread=False)
def root(rt: Rt) -> dict:
    """Qdrant-compatible version info; clients read `version` to check compatibility."""
    return {"title": TITLE, "version": rt.settings.version, "commit": None}


@get("/healthz", opt=access(PUBLIC), tags=["Service"], media_type="text/plain", sync_to_thread=False)
def healthz() -> str:
    return "healthz check passed"


@get("/livez", opt=access(PUBLIC), tags=["Service"], media_type="text/plain", sync_to_thread=False)
def livez() -> str:
    return "livez check passed"


@get("/readyz", opt=access(PUBLIC), tags=["Service"], media_type="text/plain", sync_to_thread=False)
def readyz() -> str:
    return "all shards are ready"


@get("/metrics", opt=access(READ), tags=["Service"], summary="Prometheus metrics")
async def metrics(rt: Rt) -> Response[str]:
    text = await rt.call(rt.metrics.render, rt.client, rt.settings.version)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


@get("/openapi.json", opt=access(PUBLIC), tags=["Service"], summary="OpenAPI document", include_in_schema=False,
     sync_to_thread=False)
def openapi_json(request: Request) -> dict:
    return request.app.openapi_schema.to_schema()


ROUTES = [root, healthz, livez, readyz, metrics, openapi_json]
