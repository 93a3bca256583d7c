"""The web dashboard at `/dashboard` (Qdrant serves its web UI there too).

Pages are Jinja templates over a few vanilla JS files; every asset is served from
`api/dashboard/static`, so the dashboard works offline. The pages themselves are public and hold
no data: the browser fetches everything through the REST API with the key the user typed (kept in
localStorage), so the REST API's key checks decide what a read-only key can do. Besides the pages
there are three dashboard routes: which access the presented key grants (to hide write buttons),
and the evaluation reports (api/dashboard/evaluations.py).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Response
from litestar.static_files import create_static_files_router

from api.auth import PUBLIC, READ, WRITE, KeyGuard, access, presented_key
from api.dashboard import evaluations
from api.routes.params import PathName, Rt
from hybrid.inference import BM25, DEFAULT_MODELS

HERE = Path(__file__).parent
PREFIX = "/dashboard"
#: Page name -> title, in navigation order.
PAGES = {"collections": "Collections", "points": "Points", "console": "Console",
         "playground": "Hybrid playground", "evaluations": "Evaluations"}

#: The playground's default server-side embedding models, per kind of vector.
MODELS = {"dense": DEFAULT_MODELS[0], "sparse": BM25}

_templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


@get("/", opt=access(PUBLIC), include_in_schema=False, sync_to_thread=False)
def home() -> Redirect:
    return Redirect(f"{PREFIX}/collections")


@get("/{page:str}", opt=access(PUBLIC), include_in_schema=False, sync_to_thread=False)
def page(page: PathName) -> Response[str]:
    if page not in PAGES:
        raise NotFoundException(f"no dashboard page {page!r}")
    html = _templates.get_template(f"{page}.html").render(page=page, pages=PAGES, prefix=PREFIX,
                                                                 models=MODELS)
    return Response(html, media_type="text/html")


@get("/api/access", opt=access(READ), include_in_schema=False, sync_to_thread=False)
def granted_access(rt: Rt, request: Request) -> dict:
    """`{"access": "write" | "read"}` for the presented key (the guard already refused bad keys)."""
    settings = rt.settings
    if not settings.auth_enabled:
        return {"access": WRITE}
    return {"access": KeyGuard(settings).granted(presented_key(request.headers) or "") or READ}


def router() -> Router:
    static = create_static_files_router(path="/static", directories=[HERE / "static"], opt=access(PUBLIC),
                                        name="dashboard-static")
    return Router(PREFIX, route_handlers=[home, granted_access, *evaluations.ROUTES, page, static],
                  include_in_schema=False)
