"""Service routes: version, health probes, Prometheus metrics, telemetry, issues and our OpenAPI document."""

from __future__ import annotations

from time import perf_counter
from litestar import Request, delete, get
from litestar.response import Response

from api.auth import PUBLIC, READ, WRITE, access
from api.responses import Envelope, ok
from api.routes.params import DetailsLevel, Flag, Rt, Timeout
from hybrid import models as m

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


@get("/telemetry", opt=access(READ), tags=["Service"], summary="Telemetry of this node")
async def telemetry(rt: Rt, details_level: DetailsLevel = None, anonymize: Flag = None,
                    timeout: Timeout = None) -> Envelope[dict]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.telemetry, details_level or 0, rt.settings.version), t0)


@get("/issues", opt=access(READ), tags=["Beta"], summary="Performance issues found")
async def get_issues(rt: Rt) -> Envelope[m.IssuesReport]:
    t0 = perf_counter()
    return ok(rt.client.get_issues(), t0)


@delete("/issues", opt=access(WRITE), tags=["Beta"], summary="Clear the issues found", status_code=200)
async def clear_issues(rt: Rt) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(rt.client.clear_issues(), t0)


@get("/openapi.json", opt=access(PUBLIC), tags=["Service"], summary="OpenAPI document", include_in_schema=False,
     sync_to_thread=False)
def openapi_json(request: Request) -> dict:
    return request.app.openapi_schema.to_schema()


ROUTES = [root, healthz, livez, readyz, metrics, telemetry, get_issues, clear_issues, openapi_json]
