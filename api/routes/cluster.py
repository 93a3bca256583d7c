"""Cluster and shard-key routes (Qdrant's "Distributed" tag), registered in cluster mode: each
calls one method of hybrid.cluster.ClusterClient (hybrid.cluster.status) by the name the
single-node Client would answer it by."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from litestar import get, post, put
from litestar.params import JSONBody

from api.auth import READ, WRITE, access
from api.responses import Envelope, ok
from api.routes.params import CollectionName, Rt

TAGS = ["Distributed"]
NAME = "/collections/{collection_name:str}"
Body = JSONBody[dict[str, Any]]


@get("/cluster", opt=access(READ), tags=TAGS, summary="Cluster status")
async def cluster_status(rt: Rt) -> Envelope[Any]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.cluster_status), t0)


@post("/cluster/recover", opt=access(WRITE), tags=TAGS, summary="Bring back replicas whose node returned",
      status_code=200)
async def recover_current_peer(rt: Rt) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.recover_current_peer), t0)


@get(f"{NAME}/cluster", opt=access(READ), tags=TAGS, summary="Shards of a collection")
async def collection_cluster_info(rt: Rt, collection_name: CollectionName) -> Envelope[Any]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.collection_cluster_info, rt.resolve(collection_name)), t0)


@post(f"{NAME}/cluster", opt=access(WRITE), tags=TAGS, summary="Move, replicate or drop shards", status_code=200)
async def update_collection_cluster(rt: Rt, collection_name: CollectionName, data: Body) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.cluster_collection_update, rt.resolve(collection_name), data), t0)


@get(f"{NAME}/shards", opt=access(READ), tags=TAGS, summary="Shard keys of a collection")
async def list_shard_keys(rt: Rt, collection_name: CollectionName) -> Envelope[Any]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.list_shard_keys, rt.resolve(collection_name)), t0)


@put(f"{NAME}/shards", opt=access(WRITE), tags=TAGS, summary="Create a shard key", status_code=200)
async def create_shard_key(rt: Rt, collection_name: CollectionName, data: Body) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.create_shard_key, rt.resolve(collection_name), data.get("shard_key"),
                            shards_number=data.get("shards_number"), replication_factor=data.get("replication_factor"),
                            placement=data.get("placement")), t0)


@post(f"{NAME}/shards/delete", opt=access(WRITE), tags=TAGS, summary="Delete a shard key", status_code=200)
async def delete_shard_key(rt: Rt, collection_name: CollectionName, data: Body) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.delete_shard_key, rt.resolve(collection_name), data.get("shard_key")), t0)


ROUTES = [cluster_status, recover_current_peer, collection_cluster_info, update_collection_cluster, list_shard_keys,
          create_shard_key, delete_shard_key]
