"""Cluster and shard-key routes. Each calls one Client method: on a single node these answer
as a Qdrant without distributed mode does (status "disabled", one local shard, 405 for
changes); distributed mode replaces the Client methods, not these handlers."""

from __future__ import annotations

from time import perf_counter
from typing import Annotated, Any, Optional

from litestar import delete, get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.auth import READ, WRITE, access
from api.responses import Envelope, ok
from api.routes.params import CollectionName, DetailsLevel, Rt, Timeout
from hybrid import models as m

TAGS = ["Distributed"]
NAME = "/collections/{collection_name:str}"
PeerId = Annotated[int, PathParameter(ge=0, description="Id of the peer")]
Force = Annotated[Optional[bool], QueryParameter(description="Remove the peer even when it holds shards")]
Body = JSONBody[dict[str, Any]]


@get("/cluster", opt=access(READ), tags=TAGS, summary="Cluster status")
async def cluster_status(rt: Rt) -> Envelope[m.ClusterStatusDisabled]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.cluster_status), t0)


@get("/cluster/telemetry", opt=access(READ), tags=TAGS, summary="Telemetry of every peer")
async def cluster_telemetry(rt: Rt, details_level: DetailsLevel = None, timeout: Timeout = None) -> Envelope[Any]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.cluster_telemetry, details_level=details_level), t0)


@post("/cluster/recover", opt=access(WRITE), tags=TAGS, summary="Recover this peer from consensus", status_code=200)
async def recover_current_peer(rt: Rt) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.recover_current_peer), t0)


@delete("/cluster/peer/{peer_id:int}", opt=access(WRITE), tags=TAGS, summary="Remove a peer", status_code=200)
async def remove_peer(rt: Rt, peer_id: PeerId, force: Force = None, timeout: Timeout = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.remove_peer, peer_id, force=force), t0)


@get(f"{NAME}/cluster", opt=access(READ), tags=TAGS, summary="Shards of a collection")
async def collection_cluster_info(rt: Rt, collection_name: CollectionName) -> Envelope[m.CollectionClusterInfo]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.collection_cluster_info, rt.resolve(collection_name)), t0)


@post(f"{NAME}/cluster", opt=access(WRITE), tags=TAGS, summary="Move, replicate or drop shards", status_code=200)
async def update_collection_cluster(rt: Rt, collection_name: CollectionName, data: Body,
                                    timeout: Timeout = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.cluster_collection_update, rt.resolve(collection_name), data), t0)


@get(f"{NAME}/shards", opt=access(READ), tags=TAGS, summary="Shard keys of a collection")
async def list_shard_keys(rt: Rt, collection_name: CollectionName) -> Envelope[m.ShardKeysResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.list_shard_keys, rt.resolve(collection_name)), t0)


@put(f"{NAME}/shards", opt=access(WRITE), tags=TAGS, summary="Create a shard key", status_code=200)
async def create_shard_key(rt: Rt, collection_name: CollectionName, data: Body,
                           timeout: Timeout = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.create_shard_key, rt.resolve(collection_name), data.get("shard_key"),
                            shards_number=data.get("shards_number"), replication_factor=data.get("replication_factor"),
                            placement=data.get("placement")), t0)


@post(f"{NAME}/shards/delete", opt=access(WRITE), tags=TAGS, summary="Delete a shard key", status_code=200)
async def delete_shard_key(rt: Rt, collection_name: CollectionName, data: Body,
                           timeout: Timeout = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.delete_shard_key, rt.resolve(collection_name), data.get("shard_key")), t0)


ROUTES = [cluster_status, cluster_telemetry, recover_current_peer, remove_peer, collection_cluster_info,
          update_collection_cluster, list_shard_keys, create_shard_key, delete_shard_key]
