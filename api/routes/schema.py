"""Vector names of a live collection (Qdrant 1.20's create/delete_vector_name) and the global
resource quota (GET/PUT /quotas). Engine calls only: hybrid/vector_names.py, hybrid/quotas.py."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from litestar import delete, get, put
from litestar.params import JSONBody

from api import schemas as s
from api.auth import READ, WRITE, access
from api.responses import Envelope, as_builtin, ok
from api.routes.params import CollectionName, Flag, PathName, Rt, Timeout, Wait
from api.routes.points import acknowledged
from api.runtime import Runtime
from hybrid import models as m
from hybrid.errors import BadRequest
from hybrid.quotas import QuotaConfig, QuotaStatus

VECTOR = "/collections/{collection_name:str}/vectors/{vector_name:str}"


def engine(rt: Runtime, name: str) -> Any:
    """The client's method `name`; a 400 naming it where the client has none (a cluster)."""
    method = getattr(rt.client, name, None)
    if method is None:
        raise BadRequest(f"{name} is not available on a cluster yet")
    return method


@put(VECTOR, opt=access(WRITE), tags=["Collections"], summary="Create a vector name", status_code=200)
async def create_vector_name(rt: Rt, collection_name: CollectionName, vector_name: PathName,
                             data: JSONBody[s.VectorNameConfig], wait: Wait = None,
                             timeout: Timeout = None) -> Envelope[m.UpdateResult]:
    """Add a dense or sparse vector to a collection; existing points have none of it."""
    t0 = perf_counter()
    result = await rt.call(engine(rt, "create_vector_name"), rt.resolve(collection_name), vector_name,
                           as_builtin(data))
    return ok(acknowledged(result, wait), t0)


@delete(VECTOR, opt=access(WRITE), tags=["Collections"], summary="Delete a vector name", status_code=200)
async def delete_vector_name(rt: Rt, collection_name: CollectionName, vector_name: PathName, wait: Wait = None,
                             timeout: Timeout = None) -> Envelope[m.UpdateResult]:
    """Drop a vector, with every point's vector of it and its indexes."""
    t0 = perf_counter()
    result = await rt.call(engine(rt, "delete_vector_name"), rt.resolve(collection_name), vector_name)
    return ok(acknowledged(result, wait), t0)


@get("/quotas", opt=access(READ), tags=["Quotas"], summary="Get global quotas")
async def get_quotas(rt: Rt) -> Envelope[QuotaStatus]:
    """The resource quota in effect and this node's usage it is measured against."""
    t0 = perf_counter()
    return ok(m.with_defaults(await rt.call(engine(rt, "get_quotas"))), t0)  # `enabled: false` shown, as Qdrant


@put("/quotas", opt=access(WRITE), tags=["Quotas"], summary="Set global quotas", status_code=200)
async def update_quotas(rt: Rt, data: JSONBody[QuotaConfig], wait: Flag = None) -> Envelope[bool]:
    """Replace the resource quota (persisted with the data folder)."""
    t0 = perf_counter()
    return ok(await rt.call(engine(rt, "update_quotas"), data), t0)


ROUTES = [create_vector_name, delete_vector_name, get_quotas, update_quotas]
