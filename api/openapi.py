"""Our OpenAPI document (served at /openapi.json, browsable at /docs).

It is generated from the route handlers and the request/response Structs, so it always matches
what the server accepts. The description lists where we differ from Qdrant's API.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from api.settings import Settings

DESCRIPTION = """\
A Qdrant-compatible REST API (Qdrant's v1.18 routes, including the legacy search, recommend
and discover routes) over the `hybrid` engine. Responses use Qdrant's envelopes:
`{"result", "status": "ok", "time"}` and `{"status": {"error"}, "time"}`.

Extensions of this engine:
- **BM25 query**: `{"query": {"bm25": {"text": "...", "field": "title", "k1": 1.2, "b": 0.75}}}`
  ranks points by BM25 over a payload field that has a full-text index.
- **Linear fusion**: `{"query": {"linear": {"weights": [0.7, 0.3], "normalization": "minmax"}}}`
  fuses the prefetches' normalised scores (`minmax` or `zscore`) with convex weights.
- **RRF parameters**: `{"query": {"rrf": {"k": 60, "weights": [1, 2]}}}`.
- **explain**: `"explain": true` on a query adds per-branch scores and ranks to each point, and
  the printed query plan (leaf searches and merges) as `result.plan`.

Authentication (when the server has keys): `api-key: <key>` or `Authorization: Bearer <key>`.
The read-only key may call every read route (including POST searches), not writes.
"""


#: Swagger UI's files come from the swagger-ui-py package and are served by us, so /docs works offline.
ASSETS = "/docs/assets"


def _swagger_ui_files() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"


def docs_assets_router() -> Router:
    """`/docs/assets/*`: Swagger UI's JS, CSS and icon, from the installed package (no CDN)."""
    return create_static_files_router(path=ASSETS, directories=[_swagger_ui_files()], name="docs-assets",
                                      include_in_schema=False)


def openapi_config(settings: Settings) -> OpenAPIConfig:
    security = {"api-key": SecurityScheme(type="apiKey", name="api-key", security_scheme_in="header"),
                "bearer": SecurityScheme(type="http", scheme="bearer")}
    return OpenAPIConfig(
        title="hybrid (Qdrant-compatible)", version=settings.version, description=DESCRIPTION,
        path="/docs", render_plugins=[SwaggerRenderPlugin(
            path="/", js_url=f"{ASSETS}/swagger-ui-bundle.js", css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>")],
        components=Components(security_schemes=security),
        security=[{"api-key": []}, {"bearer": []}] if settings.auth_enabled else None,
        use_handler_docstrings=True,
    )
