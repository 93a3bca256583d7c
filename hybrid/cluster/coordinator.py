"""The coordinator: qdrant-client's method names over a Ray cluster of shard replicas.

`ClusterClient` keeps no state of its own besides handles: the layout of every collection is in
the GCS (hybrid.cluster.meta), the data in the replica actors (hybrid.cluster.replica), so any
number of coordinators can serve one cluster and a restarted one carries on. Writes are split
by shard (hybrid.cluster.routing) and sent to each shard's primary; reads scatter to one replica
per shard (or more, by read `consistency`) and merge here (hybrid.cluster.scatter).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from typing import Any, Optional, Sequence

from hybrid import models as m
from hybrid.cluster import scatter
from hybrid.cluster.reads import PlanningViews
from hybrid.cluster.meta import DEAD, NAMESPACE, Layout, Metadata, RayKV, ReplicaInfo, ShardInfo
from hybrid.cluster.replica import Replica
from hybrid.cluster.health import HealthMixin
from hybrid.cluster.status import StatusMixin
from hybrid.cluster.aliases import AliasMixin
from hybrid.cluster.snapshots import ClusterSnapshotMixin
from hybrid.cluster.transfer import TransferMixin
from hybrid.cluster.writes import WriteMixin, refuse_unsupported
from hybrid.cluster.routing import HashRing, normalize_shard_key, selector_keys
from hybrid.config import schema_from_request
from hybrid.errors import AlreadyExists, CollectionNotFound, HybridError, Unavailable, ValidationError
from hybrid.names import check_name

_log = logging.getLogger("hybrid.cluster")
SLOT_PREFIX = "hybrid_slot_"
CALL_TIMEOUT_S = 120.0


class ClusterClient(scatter.ReadMixin, WriteMixin, TransferMixin, AliasMixin, ClusterSnapshotMixin, StatusMixin,
                    HealthMixin):
    def __init__(self, address: Optional[str] = None, data_root: str = "cluster_data", health_interval: float = 2.0,
                 inference: Any = None) -> None:
        import ray

        if not ray.is_initialized():  # no address: a new local cluster, never one found lying around
            local = {"object_store_memory": 200 * 1024**2} if not address else {}
            ray.init(address=address or "local", namespace=NAMESPACE, include_dashboard=False, log_to_driver=False,
                     **local)
        self.ray = ray
        self.meta = Metadata(RayKV())
        self.root = str(data_root)
        self.infer = inference
        self.oplog_retain = 1000  # operations each replica keeps for catching up peers (then a snapshot)
        self.remote_replica = ray.remote(num_cpus=0, max_concurrency=8, max_restarts=0)(Replica)
        self._handles: dict[str, Any] = {}
        self._transfers: list[threading.Thread] = []
        self.planning = PlanningViews()
        self._stop = threading.Event()
        self._health = None
        if health_interval > 0:
            self._health = threading.Thread(target=self._health_loop, args=(health_interval,), daemon=True,
                                            name="hybrid-cluster-health")
            self._health.start()

    # ------------------------------------------------------------------ nodes and actors
    def slots(self) -> list[str]:
        """Where replicas can go: each alive node's `hybrid_slot_*` resource (a name that stays
        with the machine across restarts), else its Ray node id."""
        out = []
        for node in self.ray.nodes():
            if node.get("Alive"):
                named = sorted(k for k in node.get("Resources", {}) if k.startswith(SLOT_PREFIX))
                out.extend(named or [f"node:{node['NodeID']}"])
        return sorted(out)

    def _spawn(self, layout: Layout, shard_id: int, replica: ReplicaInfo) -> Any:
        name = layout.actor_name(shard_id, replica.replica_id)
        options: dict[str, Any] = dict(name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True)
        if replica.slot.startswith("node:"):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(replica.slot[5:], soft=False)
        else:
            options["resources"] = {replica.slot: 0.001}
        handle = self.remote_replica.options(**options).remote(
            layout.folder(self.root, shard_id, replica.replica_id), layout.name, layout.config, tuple(layout.updates),
            self.oplog_retain)
        self._handles[name] = handle
        return handle

    def handle(self, layout: Layout, shard_id: int, replica_id: int) -> Any:
        name = layout.actor_name(shard_id, replica_id)
        if name not in self._handles:
            self._handles[name] = self.ray.get_actor(name, namespace=NAMESPACE)
        return self._handles[name]

    def mark(self, layout: Layout, shard_id: int, replica_id: int, state: str) -> None:
        if state == DEAD:
            self._handles.pop(layout.actor_name(shard_id, replica_id), None)
            _log.warning("replica %d of shard %d of %r is dead", replica_id, shard_id, layout.name)
        self.meta.set_state(layout.name, shard_id, replica_id, state)
        for r in layout.shard(shard_id).replicas:
            if r.replica_id == replica_id:
                r.state = state

    def get(self, ref: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        """ray.get that re-raises the engine's own errors (4xx) as themselves."""
        try:
            return self.ray.get(ref, timeout=timeout)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, HybridError):
                raise exc.cause from None
            raise

    def dead_errors(self) -> tuple:
        e = self.ray.exceptions
        return (e.RayActorError, e.GetTimeoutError, ValueError)  # ValueError: a named actor that is gone

    # ------------------------------------------------------------------ collections
    def layout(self, name: str) -> Layout:
        layout = self.meta.get(name) or self.meta.get(self.resolve_alias(name))
        if layout is None:
            raise CollectionNotFound(name)
        return layout

    def create_collection(self, collection_name: str, vectors_config: Any = None, sparse_vectors_config: Any = None,
                          shard_number: Optional[int] = None, replication_factor: Optional[int] = None,
                          write_consistency_factor: Optional[int] = None, sharding_method: Any = None,
                          **kwargs: Any) -> bool:
        check_name(collection_name)
        config = {"vectors_config": m.to_builtins(vectors_config), "sparse_vectors_config": m.to_builtins(sparse_vectors_config),
                  **{k: m.to_builtins(v) for k, v in kwargs.items() if v is not None and k != "timeout"}}
        schema_from_request(**config)  # the engine's validation, before anything is placed
        method = m.to_builtins(sharding_method) or "auto"
        if method not in ("auto", "custom"):
            raise ValidationError("sharding_method", "expected 'auto' or 'custom'")
        layout = Layout(collection_name, uuid.uuid4().hex[:12], config, _positive(shard_number, 1, "shard_number"),
                        _positive(replication_factor, 1, "replication_factor"),
                        _positive(write_consistency_factor, 1, "write_consistency_factor"), method)
        if self.meta.get(collection_name) is not None:
            raise AlreadyExists(collection_name)
        if method == "auto":
            self._add_shards(layout, layout.shard_number, layout.replication_factor, None)
        try:
            self.meta.create(layout)  # atomic: another coordinator may have created it meanwhile
        except AlreadyExists:
            for shard in layout.shards:  # ours were never used (their actor names carry our uid)
                self._drop_replicas(layout, shard)
            raise
        return True

    def _add_shards(self, layout: Layout, count: int, replication: int, key: Any) -> list[ShardInfo]:
        """New shards with replicas spread over the slots (replica r of shard s on slot s+r)."""
        slots = self.slots()
        if replication > len(slots):
            raise ValidationError("replication_factor", f"{replication} replicas need as many nodes; {len(slots)} are alive")
        first = max((s.shard_id for s in layout.shards), default=-1) + 1
        added = []
        for shard_id in range(first, first + count):
            replicas = [ReplicaInfo(r, slots[(shard_id + r) % len(slots)]) for r in range(replication)]
            added.append(ShardInfo(shard_id, replicas, key))
        handles = [self._spawn(layout, s.shard_id, r) for s in added for r in s.replicas]
        self.get([h.last_seq.remote() for h in handles])  # every replica opened its folder
        layout.shards.extend(added)
        return added

    def delete_collection(self, collection_name: str, timeout: Optional[int] = None) -> bool:
        layout = self.meta.delete(collection_name)
        if layout is None:
            return False
        for shard in layout.shards:
            self._drop_replicas(layout, shard)
        return True

    def _drop_replicas(self, layout: Layout, shard: ShardInfo) -> None:
        for r in shard.replicas:
            try:
                handle = self.handle(layout, shard.shard_id, r.replica_id)
                self.get(handle.drop.remote(), timeout=30)
                self.ray.kill(handle)
            except self.dead_errors():
                pass  # a dead replica's folder stays on its node
            self._handles.pop(layout.actor_name(shard.shard_id, r.replica_id), None)

    def collection_exists(self, collection_name: str) -> bool:
        return self.meta.get(collection_name) is not None

    def get_collections(self) -> m.CollectionsResponse:
        return m.CollectionsResponse([m.CollectionDescription(n) for n in self.meta.names()])

    def create_shard_key(self, collection_name: str, shard_key: Any, shards_number: Optional[int] = None,
                         replication_factor: Optional[int] = None, placement: Any = None,
                         timeout: Optional[int] = None) -> bool:
        refuse_unsupported(placement=placement)
        layout = self.layout(collection_name)
        key = normalize_shard_key(m.to_builtins(shard_key))
        if layout.sharding_method != "custom":
            raise ValidationError("shard_key", "shard keys need a collection created with sharding_method 'custom'")
        if any(s.shard_key == key for s in layout.shards):
            raise AlreadyExists(f"shard key {key!r}")
        added = self._add_shards(layout, _positive(shards_number, 1, "shards_number"),
                                 _positive(replication_factor, layout.replication_factor, "replication_factor"), key)

        def change(now: Layout) -> None:
            if any(s.shard_key == key for s in now.shards):
                raise AlreadyExists(f"shard key {key!r}")
            if {s.shard_id for s in now.shards} & {s.shard_id for s in added}:
                raise Unavailable(f"the shards of {collection_name!r} changed meanwhile: retry")
            now.shards.extend(added)

        try:
            self.meta.update(layout.name, change)
        except HybridError:  # drop ours, unless a concurrent creation placed the same shard ids (same actors)
            now = self.meta.get(layout.name)
            taken = {s.shard_id for s in now.shards} if now is not None and now.uid == layout.uid else set()
            for shard in added:
                if shard.shard_id not in taken:
                    self._drop_replicas(layout, shard)
            raise
        return True

    def delete_shard_key(self, collection_name: str, shard_key: Any, timeout: Optional[int] = None) -> bool:
        layout = self.layout(collection_name)
        key = normalize_shard_key(m.to_builtins(shard_key))
        gone: list[ShardInfo] = []

        def change(now: Layout) -> None:
            gone[:] = [s for s in now.shards if s.shard_key == key]
            if not gone:
                raise ValidationError("shard_key", f"no shard key {key!r}")
            now.shards = [s for s in now.shards if s.shard_key != key]

        layout = self.meta.update(layout.name, change)
        for shard in gone:
            self._drop_replicas(layout, shard)
        return True

    # ------------------------------------------------------------------ routing
    def target_shards(self, layout: Layout, selector: Any, field: str = "shard_key_selector") -> list[ShardInfo]:
        if selector is None:
            return list(layout.shards)
        if layout.sharding_method != "custom":
            raise ValidationError(field, "shard keys need a collection created with sharding_method 'custom'")
        keys = selector_keys(selector, field)
        missing = [k for k in keys if not any(s.shard_key == k for s in layout.shards)]
        if missing:
            raise ValidationError(field, f"no shard key {missing[0]!r} in collection {layout.name!r}")
        return [s for s in layout.shards if s.shard_key in keys]

    def route(self, layout: Layout, ids: Sequence[Any], selector: Any) -> dict[int, list[int]]:
        """{shard id: positions in `ids`}: by the ring of the targeted shards (per shard key)."""
        shards = self.target_shards(layout, selector)
        if layout.sharding_method == "custom" and selector is None:
            raise ValidationError("shard_key_selector", "writes to a custom-sharded collection need a shard key")
        out: dict[int, list[int]] = defaultdict(list)
        by_key: dict[Any, list[int]] = defaultdict(list)
        for s in shards:
            by_key[s.shard_key].append(s.shard_id)
        for shard_ids in by_key.values():  # with several keys a point goes to each key's shards
            for pos, shard_id in enumerate(HashRing(shard_ids).route(ids).tolist()):
                out[shard_id].append(pos)
        return out

    def close(self, grpc_grace: Optional[float] = None) -> None:
        self._stop.set()
        self.wait_for_transfers()
        if self._health is not None:
            self._health.join(timeout=30)


def _positive(value: Any, default: int, field: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, "must be a positive integer")
    return value
