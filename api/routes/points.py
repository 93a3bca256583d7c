"""Point writes (upsert, delete, payload, vectors, batch) and reads (retrieve, scroll, count).

Writes take Qdrant's `wait` flag. The engine applies a write before it answers either way (so
a rejected write is reported, never half-applied); `wait=false` only changes the reported
status to `acknowledged`, as Qdrant reports it.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Optional

import msgspec
from litestar import get, post, put
from litestar.params import JSONBody

from api import schemas as s
from api.auth import READ, WRITE, access
from api.responses import Envelope, ok
from api.routes.params import CollectionName, Consistency, PathName, Rt, Timeout, Wait, read_options
from api.runtime import Runtime
from hybrid import models as m
from hybrid.errors import PointNotFound
from hybrid.ids import normalize_id

TAGS = ["Points"]
POINTS = "/collections/{collection_name:str}/points"


def acknowledged(result: m.UpdateResult, wait: Optional[bool]) -> m.UpdateResult:
    return result if wait else msgspec.structs.replace(result, status="acknowledged")


async def _write(rt: Runtime, wait: Optional[bool], method: Any, collection_name: str, *args: Any,
                 **kwargs: Any) -> Envelope[m.UpdateResult]:
    t0 = perf_counter()
    result = await rt.call(method, rt.resolve(collection_name), *args, **kwargs)
    return ok(acknowledged(result, wait), t0)


@put(POINTS, opt=access(WRITE), tags=TAGS, summary="Upsert points (list or batch form)", status_code=200)
async def upsert_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.UpsertPoints],
                        wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.upsert, collection_name, data.data(),
                        **({"shard_key_selector": data.shard_key} if data.shard_key is not None else {}))


@post(f"{POINTS}/delete", opt=access(WRITE), tags=TAGS, summary="Delete points by ids or filter", status_code=200)
async def delete_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Selector],
                        wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.delete, collection_name, data.selector())


@post(f"{POINTS}/payload", opt=access(WRITE), tags=TAGS, summary="Set payload keys", status_code=200)
async def set_payload(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SetPayload],
                      wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.set_payload, collection_name, data.payload, data.selector(),
                        key=data.key)


@put(f"{POINTS}/payload", opt=access(WRITE), tags=TAGS, summary="Overwrite the payload", status_code=200)
async def overwrite_payload(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SetPayload],
                            wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.overwrite_payload, collection_name, data.payload, data.selector())


@post(f"{POINTS}/payload/delete", opt=access(WRITE), tags=TAGS, summary="Delete payload keys", status_code=200)
async def delete_payload(rt: Rt, collection_name: CollectionName, data: JSONBody[s.DeletePayload],
                         wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.delete_payload, collection_name, data.keys, data.selector())


@post(f"{POINTS}/payload/clear", opt=access(WRITE), tags=TAGS, summary="Clear the payload", status_code=200)
async def clear_payload(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Selector],
                        wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.clear_payload, collection_name, data.selector())


@put(f"{POINTS}/vectors", opt=access(WRITE), tags=TAGS, summary="Update vectors", status_code=200)
async def update_vectors(rt: Rt, collection_name: CollectionName, data: JSONBody[s.UpdateVectors],
                         wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.update_vectors, collection_name, data.points)


@post(f"{POINTS}/vectors/delete", opt=access(WRITE), tags=TAGS, summary="Delete named vectors", status_code=200)
async def delete_vectors(rt: Rt, collection_name: CollectionName, data: JSONBody[s.DeleteVectors],
                         wait: Wait = None) -> Envelope[m.UpdateResult]:
    return await _write(rt, wait, rt.client.delete_vectors, collection_name, data.vector, data.selector())


@post(f"{POINTS}/batch", opt=access(WRITE), tags=TAGS, summary="Several updates in order", status_code=200)
async def batch_update(rt: Rt, collection_name: CollectionName, data: JSONBody[s.UpdateOperations],
                       wait: Wait = None) -> Envelope[list[m.UpdateResult]]:
    t0 = perf_counter()
    results = await rt.call(rt.client.batch_update_points, rt.resolve(collection_name), data.operations)
    return ok([acknowledged(r, wait) for r in results], t0)


def _point_id(text: str) -> Any:
    return normalize_id(int(text) if text.isdigit() else text, "id")


def _one_point(rt: Runtime, name: str, point_id: Any, options: dict) -> m.Record:
    found = rt.client.retrieve(name, [point_id], with_payload=True, with_vectors=True, **options)
    if not found:
        raise PointNotFound(point_id)
    return found[0]


@get(f"{POINTS}/{{id:str}}", opt=access(READ), tags=TAGS, summary="One point with payload and vectors")
async def get_point(rt: Rt, collection_name: CollectionName, id: PathName,  # Qdrant's parameter name
                    consistency: Consistency = None, timeout: Timeout = None) -> Envelope[m.Record]:
    t0 = perf_counter()
    return ok(await rt.call(_one_point, rt, rt.resolve(collection_name), _point_id(id),
                            read_options(consistency, timeout)), t0)


@post(POINTS, opt=access(READ), tags=TAGS, summary="Retrieve points by ids", status_code=200)
async def get_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Retrieve], consistency: Consistency = None,
                     timeout: Timeout = None) -> Envelope[list[m.Record]]:
    t0 = perf_counter()
    found = await rt.call(rt.client.retrieve, rt.resolve(collection_name), data.ids,
                          with_payload=data.with_payload, with_vectors=data.with_vector,
                          **read_options(consistency, timeout))
    return ok(found, t0)


@post(f"{POINTS}/scroll", opt=access(READ), tags=TAGS, summary="Page through points in id order", status_code=200)
async def scroll_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Scroll], consistency: Consistency = None,
                        timeout: Timeout = None) -> Envelope[m.ScrollResult]:
    t0 = perf_counter()
    kwargs: dict[str, Any] = read_options(consistency, timeout)
    if data.order_by is not None:
        kwargs["order_by"] = data.order_by
    points, next_offset = await rt.call(
        rt.client.scroll, rt.resolve(collection_name), scroll_filter=data.filter,
        limit=10 if data.limit is None else data.limit, offset=data.offset, with_payload=data.with_payload,
        with_vectors=data.with_vector, **kwargs)
    return ok(m.ScrollResult(points=points, next_page_offset=next_offset), t0)


@post(f"{POINTS}/count", opt=access(READ), tags=TAGS, summary="Count points matching a filter", status_code=200)
async def count_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Count], consistency: Consistency = None,
                       timeout: Timeout = None) -> Envelope[m.CountResult]:
    t0 = perf_counter()
    result = await rt.call(rt.client.count, rt.resolve(collection_name), count_filter=data.filter,
                           exact=True if data.exact is None else data.exact, **read_options(consistency, timeout))
    return ok(result, t0)


ROUTES = [upsert_points, delete_points, set_payload, overwrite_payload, delete_payload, clear_payload,
          update_vectors, delete_vectors, batch_update, get_point, get_points, scroll_points, count_points]
