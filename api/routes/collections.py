"""Collections, aliases and payload indexes."""

from __future__ import annotations

from time import perf_counter
from typing import Annotated, Optional

from litestar import delete, get, patch, post, put
from litestar.params import JSONBody, QueryParameter

from api import schemas as s
from api.auth import READ, WRITE, access
from api.responses import Envelope, as_builtin, ok
from api.routes.params import CollectionName, PathName, Rt, Wait
from api.routes.points import acknowledged
from api.runtime import Runtime
from hybrid import models as m
from hybrid.optimizations import OptimizationsResponse
from hybrid.errors import ValidationError

TAGS = ["Collections"]
NAME = "/collections/{collection_name:str}"


@get("/collections", opt=access(READ), tags=TAGS, summary="List collections")
async def get_collections(rt: Rt) -> Envelope[m.CollectionsResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.get_collections), t0)


@get(NAME, opt=access(READ), tags=TAGS, summary="Collection info")
async def get_collection(rt: Rt, collection_name: CollectionName) -> Envelope[m.CollectionInfo]:
    """Collection configuration (every field, as Qdrant reports it), counts and payload indexes."""
    t0 = perf_counter()
    info = m.with_defaults(await rt.call(rt.client.get_collection, rt.resolve(collection_name)))
    vectors = info["config"]["params"].get("vectors")
    if isinstance(vectors, dict) and list(vectors) == [""]:  # Qdrant shows the unnamed vector's params bare
        info["config"]["params"]["vectors"] = vectors[""]
    return ok(info, t0)


@put(NAME, opt=access(WRITE), tags=TAGS, summary="Create a collection", status_code=200)
async def create_collection(rt: Rt, collection_name: CollectionName, data: JSONBody[s.CreateCollection]) -> Envelope[bool]:
    t0 = perf_counter()
    if data.init_from is not None:
        raise ValidationError("init_from", "initialising from another collection is not supported; use snapshots")
    created = await rt.call(
        rt.client.create_collection, collection_name, vectors_config=data.vectors,
        sparse_vectors_config=as_builtin(data.sparse_vectors), hnsw_config=data.hnsw_config,
        optimizers_config=data.optimizers_config, quantization_config=data.quantization_config,
        on_disk_payload=data.on_disk_payload, payload=as_builtin(data.payload), metadata=data.metadata,
        **{k: v for k, v in (("shard_number", data.shard_number), ("replication_factor", data.replication_factor),
                             ("write_consistency_factor", data.write_consistency_factor),
                             ("sharding_method", data.sharding_method)) if v is not None})  # cluster mode
    return ok(created, t0)


@patch(NAME, opt=access(WRITE), tags=TAGS, summary="Update collection parameters", status_code=200)
async def update_collection(rt: Rt, collection_name: CollectionName, data: JSONBody[s.UpdateCollection]) -> Envelope[bool]:
    t0 = perf_counter()
    done = await rt.call(
        rt.client.update_collection, rt.resolve(collection_name), optimizers_config=data.optimizers_config,
        collection_params=data.params, vectors_config=data.vectors, hnsw_config=data.hnsw_config,
        quantization_config=data.quantization_config, sparse_vectors_config=data.sparse_vectors,
        metadata=data.metadata)
    return ok(done, t0)


def _delete_collection(rt: Runtime, name: str) -> bool:
    deleted = rt.client.delete_collection(name)
    if deleted:
        rt.client.drop_aliases_of(name)
    return deleted


@delete(NAME, opt=access(WRITE), tags=TAGS, summary="Delete a collection", status_code=200)
async def delete_collection(rt: Rt, collection_name: CollectionName) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(_delete_collection, rt, collection_name), t0)


@get(f"{NAME}/exists", opt=access(READ), tags=TAGS, summary="Whether a collection exists")
async def collection_exists(rt: Rt, collection_name: CollectionName) -> Envelope[m.CollectionExistence]:
    t0 = perf_counter()
    return ok(m.CollectionExistence(rt.client.collection_exists(rt.resolve(collection_name))), t0)


@post("/collections/aliases", opt=access(WRITE), tags=["Aliases"], summary="Create, delete, rename aliases",
      status_code=200)
async def update_aliases(rt: Rt, data: JSONBody[s.ChangeAliases]) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.update_collection_aliases, data.actions), t0)


@get(f"{NAME}/aliases", opt=access(READ), tags=["Aliases"], summary="Aliases of a collection")
async def get_collection_aliases(rt: Rt, collection_name: CollectionName) -> Envelope[m.CollectionsAliasesResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.get_collection_aliases, rt.resolve(collection_name)), t0)


@get("/aliases", opt=access(READ), tags=["Aliases"], summary="All aliases")
async def get_collections_aliases(rt: Rt) -> Envelope[m.CollectionsAliasesResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.get_aliases), t0)


@put(f"{NAME}/index", opt=access(WRITE), tags=["Indexes"], summary="Create a payload index", status_code=200)
async def create_field_index(rt: Rt, collection_name: CollectionName, data: JSONBody[s.CreateFieldIndex],
                       wait: Wait = None) -> Envelope[m.UpdateResult]:
    t0 = perf_counter()
    result = await rt.call(rt.client.create_payload_index, rt.resolve(collection_name), data.field_name,
                           field_schema=data.field_schema)
    return ok(acknowledged(result, wait), t0)


@delete(f"{NAME}/index/{{field_name:str}}", opt=access(WRITE), tags=["Indexes"], summary="Delete a payload index",
        status_code=200)
async def delete_field_index(rt: Rt, collection_name: CollectionName, field_name: PathName,
                       wait: Wait = None) -> Envelope[m.UpdateResult]:
    t0 = perf_counter()
    result = await rt.call(rt.client.delete_payload_index, rt.resolve(collection_name), field_name)
    return ok(acknowledged(result, wait), t0)


OptionalFields = Annotated[Optional[str], QueryParameter(
    name="with", description="Comma-separated optional fields: queued, completed, idle_segments")]
CompletedLimit = Annotated[int, QueryParameter(ge=0, description="Most completed optimizations listed (with=completed)")]


@get(f"{NAME}/optimizations", opt=access(READ), tags=TAGS, summary="Get optimization progress")
async def get_optimizations(rt: Rt, collection_name: CollectionName, with_fields: OptionalFields = None,
                            completed_limit: CompletedLimit = 16) -> Envelope[OptimizationsResponse]:
    """Running optimizations, and on request the queue, the completed ones and the idle segments."""
    t0 = perf_counter()
    fields = [f.strip() for f in (with_fields or "").split(",") if f.strip()]
    return ok(await rt.call(rt.client.get_optimizations, rt.resolve(collection_name), with_=fields,
                            completed_limit=completed_limit), t0)


ROUTES = [get_collections, get_collection, get_optimizations, create_collection, update_collection, delete_collection,
          collection_exists, update_aliases, get_collection_aliases, get_collections_aliases, create_field_index,
          delete_field_index]
