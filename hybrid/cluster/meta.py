"""Cluster metadata: collections, their shards, where each replica lives and its state.

It lives in Ray's GCS key-value store (`ray.experimental.internal_kv`), not in a coordinator
or a named actor: the GCS is the one process every Ray node already depends on (an actor would
be one more thing to place, restart and lose with its node), so the layout survives any
coordinator's restart and every coordinator of the cluster reads the same one. Writes are
whole-layout replacements of one collection's key; replica states are the only thing changed
concurrently, and each change is idempotent (dead -> dead, active -> active).
"""

from __future__ import annotations

from typing import Optional, Protocol, Union

import msgspec

ACTIVE, DEAD, PARTIAL = "Active", "Dead", "Partial"  # Qdrant's ReplicaState names
NAMESPACE = "hybrid"  # the Ray namespace of the replica actors (named, detached)
PREFIX = b"hybrid/cluster/collections/"


class ReplicaInfo(msgspec.Struct):
    replica_id: int
    slot: str  # where it runs: a node's `hybrid_slot_*` resource, or "node:<ray node id>"
    state: str = ACTIVE


class ShardInfo(msgspec.Struct):
    shard_id: int
    replicas: list[ReplicaInfo]
    shard_key: Optional[Union[int, str]] = None


class Layout(msgspec.Struct):
    name: str
    uid: str  # distinguishes a recreated collection's actors and folders from the old ones
    config: dict  # create_collection keyword arguments, as builtins
    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    sharding_method: str = "auto"
    shards: list[ShardInfo] = msgspec.field(default_factory=list)
    field_indexes: dict = msgspec.field(default_factory=dict)  # payload indexes: every shard has them
    updates: list = msgspec.field(default_factory=list)  # update_collection calls after creation, in order
    transfers: list = msgspec.field(default_factory=list)  # shard transfers under way (hybrid.cluster.transfer)

    def actor_name(self, shard_id: int, replica_id: int) -> str:
        return f"hybrid/{self.name}/{self.uid}/{shard_id}/{replica_id}"

    def folder(self, root: str, shard_id: int, replica_id: int) -> str:
        return f"{root}/{self.name}-{self.uid}/shard_{shard_id}/replica_{replica_id}"

    def shard(self, shard_id: int) -> ShardInfo:
        return next(s for s in self.shards if s.shard_id == shard_id)


class Store(Protocol):
    def get(self, key: bytes) -> Optional[bytes]: ...
    def put(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...
    def keys(self, prefix: bytes) -> list[bytes]: ...


class RayKV:
    """The GCS key-value store of the connected Ray cluster."""

    def __init__(self) -> None:
        from ray.experimental import internal_kv

        self.kv = internal_kv

    def get(self, key: bytes) -> Optional[bytes]:
        return self.kv._internal_kv_get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.kv._internal_kv_put(key, value, overwrite=True)

    def delete(self, key: bytes) -> None:
        self.kv._internal_kv_del(key)

    def keys(self, prefix: bytes) -> list[bytes]:
        return list(self.kv._internal_kv_list(prefix))


class Metadata:
    """Typed access to the layouts in a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, name: str) -> Optional[Layout]:
        raw = self.store.get(PREFIX + name.encode())
        return None if raw is None else msgspec.json.decode(raw, type=Layout)

    def put(self, layout: Layout) -> None:
        self.store.put(PREFIX + layout.name.encode(), msgspec.json.encode(layout))

    def delete(self, name: str) -> None:
        self.store.delete(PREFIX + name.encode())

    def names(self) -> list[str]:
        return sorted(k[len(PREFIX):].decode() for k in self.store.keys(PREFIX))

    def set_state(self, name: str, shard_id: int, replica_id: int, state: str) -> Optional[Layout]:
        layout = self.get(name)
        if layout is None:
            return None
        for r in layout.shard(shard_id).replicas:
            if r.replica_id == replica_id:
                r.state = state
        self.put(layout)
        return layout
