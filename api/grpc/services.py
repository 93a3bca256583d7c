"""Qdrant's `Qdrant`, `Collections` and `Snapshots` services (each RPC is the REST route of
api/routes/), and `add_to`, which registers them with `Points` on a server."""

from __future__ import annotations

from typing import Any

import grpc
from qdrant_client import grpc as g

from api import schemas as s
from api.grpc.convert import as_rest, body, given, rest, rest_many, to_grpc, to_rest
from api.grpc.points import Points
from api.grpc.gateway import Gateway, rpc
from hybrid.errors import BadRequest
from api.routes import cluster, collections, service, snapshots


def named(r: Any) -> dict[str, Any]:
    return {"collection_name": r.collection_name}


def nothing(r: Any) -> dict[str, Any]:
    return {}


def create_collection(r: g.CreateCollection) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "data": body(
        s.CreateCollection, vectors=given(r, "vectors_config", to_rest.convert_vectors_config),
        sparse_vectors=given(r, "sparse_vectors_config", to_rest.convert_sparse_vector_config),
        hnsw_config=given(r, "hnsw_config", to_rest.convert_hnsw_config_diff),
        optimizers_config=given(r, "optimizers_config", to_rest.convert_optimizers_config_diff),
        wal_config=given(r, "wal_config", to_rest.convert_wal_config_diff),
        quantization_config=given(r, "quantization_config", to_rest.convert_quantization_config),
        on_disk_payload=given(r, "on_disk_payload"), shard_number=given(r, "shard_number"),
        payload=given(r, "payload", to_rest.convert_payload_storage_params),
        replication_factor=given(r, "replication_factor"),
        write_consistency_factor=given(r, "write_consistency_factor"),
        sharding_method=given(r, "sharding_method", to_rest.convert_sharding_method),
        strict_mode_config=given(r, "strict_mode_config", to_rest.convert_strict_mode_config),
        metadata=to_rest.convert_payload(r.metadata) if len(r.metadata) else None)}


def update_collection(r: g.UpdateCollection) -> dict[str, Any]:
    return {"collection_name": r.collection_name,
            "data": body(s.UpdateCollection, **dict(to_rest.convert_update_collection(r)))}


def update_aliases(r: g.ChangeAliases) -> dict[str, Any]:
    return {"data": body(s.ChangeAliases, actions=[to_rest.convert_alias_operations(a) for a in r.actions])}


def done(result: bool, elapsed: float) -> g.CollectionOperationResponse:
    return g.CollectionOperationResponse(result=result, time=elapsed)


def aliases(result: Any, elapsed: float) -> g.ListAliasesResponse:
    return g.ListAliasesResponse(aliases=[to_grpc.convert_alias_description(a) for a in
                                          rest_many(rest.AliasDescription, result.aliases)], time=elapsed)


def cluster_update(r: g.UpdateCollectionClusterSetupRequest) -> dict[str, Any]:
    operation = r.WhichOneof("operation")
    if operation is None:
        raise BadRequest("UpdateCollectionClusterSetupRequest: operation is required")
    return {"collection_name": r.collection_name,
            "data": body(dict[str, Any], **dict(to_rest.convert_cluster_operations(getattr(r, operation))))}


def shard_key(r: Any) -> dict[str, Any]:
    """REST's shard-key body: the key of a Create/DeleteShardKeyRequest."""
    key = given(r.request, "shard_key", to_rest.convert_shard_key) if r.HasField("request") else None
    return {"collection_name": r.collection_name, "data": body(dict[str, Any], shard_key=key)}


def cluster_info(info: Any, elapsed: float) -> g.CollectionClusterInfoResponse:
    reply = to_grpc.convert_collection_cluster_info(as_rest(rest.CollectionClusterInfo, info))
    reply.time = elapsed
    return reply


def shard_keys(result: Any, elapsed: float) -> g.ListShardKeysResponse:
    keys = as_rest(rest.ShardKeysResponse, result).shard_keys or []  # None: no custom sharding
    return g.ListShardKeysResponse(shard_keys=[g.ShardKeyDescription(key=to_grpc.convert_shard_key(k.key))
                                               for k in keys], time=elapsed)


def snapshot(description: Any) -> g.SnapshotDescription:
    return to_grpc.convert_snapshot_description(as_rest(rest.SnapshotDescription, description))


def created(result: Any, elapsed: float) -> g.CreateSnapshotResponse:
    return g.CreateSnapshotResponse(snapshot_description=snapshot(result), time=elapsed)


def listed(result: Any, elapsed: float) -> g.ListSnapshotsResponse:
    return g.ListSnapshotsResponse(snapshot_descriptions=[snapshot(d) for d in result], time=elapsed)


def deleted(result: Any, elapsed: float) -> g.DeleteSnapshotResponse:
    return g.DeleteSnapshotResponse(time=elapsed)


class Collections(g.CollectionsServicer):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    Get = rpc(collections.get_collection, named, lambda info, elapsed: g.GetCollectionInfoResponse(
        result=to_grpc.convert_collection_info(as_rest(rest.CollectionInfo, info)), time=elapsed))
    List = rpc(collections.get_collections, nothing, lambda result, elapsed: g.ListCollectionsResponse(
        collections=[to_grpc.convert_collection_description(c) for c in
                     rest_many(rest.CollectionDescription, result.collections)], time=elapsed))
    Create = rpc(collections.create_collection, create_collection, done)
    Update = rpc(collections.update_collection, update_collection, done)
    Delete = rpc(collections.delete_collection, named, done)
    UpdateAliases = rpc(collections.update_aliases, update_aliases, done)
    ListCollectionAliases = rpc(collections.get_collection_aliases, named, aliases)
    ListAliases = rpc(collections.get_collections_aliases, nothing, aliases)
    CollectionExists = rpc(collections.collection_exists, named, lambda result, elapsed: g.CollectionExistsResponse(
        result=g.CollectionExists(exists=result.exists), time=elapsed))
    CollectionClusterInfo = rpc(cluster.collection_cluster_info, named, cluster_info)
    UpdateCollectionClusterSetup = rpc(cluster.update_collection_cluster, cluster_update,
                                       lambda result, elapsed: g.UpdateCollectionClusterSetupResponse(
                                           result=result, time=elapsed))
    CreateShardKey = rpc(cluster.create_shard_key, shard_key, lambda result, elapsed: g.CreateShardKeyResponse(
        result=result, time=elapsed))
    DeleteShardKey = rpc(cluster.delete_shard_key, shard_key, lambda result, elapsed: g.DeleteShardKeyResponse(
        result=result, time=elapsed))
    ListShardKeys = rpc(cluster.list_shard_keys, named, shard_keys)


class Snapshots(g.SnapshotsServicer):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    Create = rpc(snapshots.create_snapshot, named, created)
    List = rpc(snapshots.list_snapshots, named, listed)
    Delete = rpc(snapshots.delete_snapshot, lambda r: {"collection_name": r.collection_name,
                                                       "snapshot_name": r.snapshot_name}, deleted)
    CreateFull = rpc(snapshots.create_full_snapshot, nothing, created)
    ListFull = rpc(snapshots.list_full_snapshots, nothing, listed)
    DeleteFull = rpc(snapshots.delete_full_snapshot, lambda r: {"snapshot_name": r.snapshot_name}, deleted)


class Qdrant(g.QdrantServicer):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    HealthCheck = rpc(service.root, nothing, lambda info, elapsed: g.HealthCheckReply(
        title=info["title"], version=info["version"], commit=info.get("commit")))


def add_to(server: grpc.aio.Server, gateway: Gateway) -> None:
    g.add_QdrantServicer_to_server(Qdrant(gateway), server)
    g.add_CollectionsServicer_to_server(Collections(gateway), server)
    g.add_PointsServicer_to_server(Points(gateway), server)
    g.add_SnapshotsServicer_to_server(Snapshots(gateway), server)
