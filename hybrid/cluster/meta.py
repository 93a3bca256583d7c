"""Cluster metadata: collections, their shards, where each replica lives and its state.

It lives in Ray's GCS key-value store (`ray.experimental.internal_kv`), not in a coordinator:
the GCS is the one process every Ray node already depends on, so the layout survives any
coordinator's restart and every coordinator of the cluster reads the same one. A change is a
read-modify-write of one key (a collection's layout, or the alias table) made atomic across
coordinators, threads and the health loop by a compare-and-set (`Metadata.transact`): the
GCS has none, so every write goes through one detached named actor that runs them one at a time
(`LayoutKeeper`; it holds no state, so Ray restarts it anywhere when its node dies). Reads go to
the GCS directly.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Optional, Protocol, Union

import msgspec

from hybrid.errors import AlreadyExists, CollectionNotFound, Unavailable

ACTIVE, DEAD, PARTIAL = "Active", "Dead", "Partial"  # Qdrant's ReplicaState names
NAMESPACE = "hybrid"  # the Ray namespace of the replica actors (named, detached)
PREFIX = b"hybrid/cluster/collections/"
KEEPER = "hybrid/layout-keeper"  # the actor that serialises metadata writes
TRIES = 200  # compare-and-set attempts before a change is refused (503)


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
    def keys(self, prefix: bytes) -> list[bytes]: ...
    def swap(self, key: bytes, expected: Optional[bytes], new: Optional[bytes]) -> bool:
        """Store `new` (None: delete) when the key holds `expected` (None: absent), atomically."""


class LayoutKeeper:
    """Compare-and-set over the GCS key-value store, one call at a time (a Ray actor)."""

    def swap(self, key: bytes, expected: Optional[bytes], new: Optional[bytes]) -> bool:
        from ray.experimental import internal_kv

        if internal_kv._internal_kv_get(key) != expected:
            return False
        if new is None:
            internal_kv._internal_kv_del(key)
        else:
            internal_kv._internal_kv_put(key, new, overwrite=True)
        return True


class RayKV:
    """The GCS key-value store of the connected Ray cluster; writes through the `LayoutKeeper`."""

    def __init__(self) -> None:
        import ray
        from ray.experimental import internal_kv

        self.ray, self.kv = ray, internal_kv
        self.keeper_class = ray.remote(num_cpus=0, max_restarts=-1)(LayoutKeeper)
        self.keeper: Any = None

    def get(self, key: bytes) -> Optional[bytes]:
        return self.kv._internal_kv_get(key)

    def keys(self, prefix: bytes) -> list[bytes]:
        return list(self.kv._internal_kv_list(prefix))

    def swap(self, key: bytes, expected: Optional[bytes], new: Optional[bytes]) -> bool:
        errors = (self.ray.exceptions.RayActorError, self.ray.exceptions.GetTimeoutError)
        for _ in range(3):
            if self.keeper is None:  # one per cluster, whoever asks first creates it
                self.keeper = self.keeper_class.options(name=KEEPER, namespace=NAMESPACE, lifetime="detached",
                                                        get_if_exists=True).remote()
            try:
                return self.ray.get(self.keeper.swap.remote(key, expected, new), timeout=60)
            except errors:
                self.keeper = None
                if self.get(key) == new:  # it was written before the keeper died
                    return True
        raise Unavailable("the cluster metadata keeper does not answer")


class MemoryKV:
    """A store in this process (tests, and a coordinator without Ray)."""

    def __init__(self) -> None:
        import threading

        self.data: dict[bytes, bytes] = {}
        self.lock = threading.Lock()

    def get(self, key: bytes) -> Optional[bytes]:
        return self.data.get(key)

    def keys(self, prefix: bytes) -> list[bytes]:
        return [k for k in list(self.data) if k.startswith(prefix)]

    def swap(self, key: bytes, expected: Optional[bytes], new: Optional[bytes]) -> bool:
        with self.lock:
            if self.data.get(key) != expected:
                return False
            if new is None:
                self.data.pop(key, None)
            else:
                self.data[key] = new
            return True


class Metadata:
    """Typed access to the layouts in a store; every change is atomic (`transact`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def transact(self, key: bytes, change: Callable[[Optional[bytes]], Optional[bytes]]) -> Optional[bytes]:
        """Store `change(what the key holds)` (None: delete) unless another writer changed the
        key meanwhile; then again on what it holds now. `change` may run more than once, so
        it must do nothing else; what it raises aborts the change. The stored value."""
        for attempt in range(TRIES):
            raw = self.store.get(key)
            new = change(raw)
            if new == raw or self.store.swap(key, raw, new):
                return new
            time.sleep(random.uniform(0, 0.001) * min(attempt + 1, 20))  # writers in lockstep would starve one
        raise Unavailable(f"the cluster metadata {key.decode()!r} changed concurrently {TRIES} times: retry")

    def get(self, name: str) -> Optional[Layout]:
        raw = self.store.get(PREFIX + name.encode())
        return None if raw is None else msgspec.json.decode(raw, type=Layout)

    def create(self, layout: Layout) -> None:
        def change(raw: Optional[bytes]) -> bytes:
            if raw is not None:
                raise AlreadyExists(layout.name)
            return msgspec.json.encode(layout)

        self.transact(PREFIX + layout.name.encode(), change)

    def update(self, name: str, change: Callable[[Layout], Any]) -> Layout:
        """Apply `change` (it edits the layout in place; it may raise to refuse) to the
        collection's layout as stored now, atomically: the layout stored."""

        def step(raw: Optional[bytes]) -> bytes:
            if raw is None:
                raise CollectionNotFound(name)
            layout = msgspec.json.decode(raw, type=Layout)
            change(layout)
            return msgspec.json.encode(layout)

        return msgspec.json.decode(self.transact(PREFIX + name.encode(), step), type=Layout)

    def delete(self, name: str) -> Optional[Layout]:
        """Forget the collection: its layout as it was (None: there was none)."""
        gone: list[bytes] = []

        def step(raw: Optional[bytes]) -> None:
            gone[:] = [] if raw is None else [raw]
            return None

        self.transact(PREFIX + name.encode(), step)
        return msgspec.json.decode(gone[0], type=Layout) if gone else None

    def names(self) -> list[str]:
        return sorted(k[len(PREFIX):].decode() for k in self.store.keys(PREFIX))

    def set_state(self, name: str, shard_id: int, replica_id: int, state: str) -> Optional[Layout]:
        def change(layout: Layout) -> None:
            for shard in layout.shards:
                for r in shard.replicas if shard.shard_id == shard_id else ():
                    if r.replica_id == replica_id:
                        r.state = state

        try:
            return self.update(name, change)
        except CollectionNotFound:
            return None
