"""Qdrant's `POST /collections/{c}/cluster` operations: move_shard, replicate_shard,
abort_transfer, drop_replica (and the shard-key ones, which are create/delete_shard_key).

A transfer adds a replica of the shard on the target peer in state Partial (it already receives
the shard's writes, forwarded by the primary), records the transfer in the layout (so every
coordinator's `collection_cluster_info` lists it, as Qdrant's does), and returns; a background
thread then has the shard's primary bring the new replica up to date under its write lock (the
operation log, or a snapshot of the shard: `method` "snapshot" asks for one), turns it Active
and, for a move, drops the source replica. An aborted transfer drops the new replica. The source
is checked to hold an Active replica, but the data comes from the shard's primary, which
sequences the writes (in Qdrant it streams from the source peer). This is how an operator
re-creates the replicas of a node that never comes back: replicate each of its shards to
another peer, then drop the dead replica.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Optional

from hybrid import models as m
from hybrid.cluster.meta import ACTIVE, DEAD, NAMESPACE, PARTIAL, Layout, ReplicaInfo
from hybrid.cluster.status import peer_id
from hybrid.errors import BadRequest, CollectionNotFound, HybridError, ValidationError

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

_log = logging.getLogger("hybrid.cluster")
METHODS = ("stream_records", "snapshot", "wal_delta")
NOT_YET = ("restart_transfer", "start_resharding", "abort_resharding", "replicate_points")


class TransferMixin:
    def cluster_collection_update(self: "ClusterClient", collection_name: str, cluster_operation: Any,
                                  timeout: Optional[int] = None) -> bool:
        op = m.to_builtins(cluster_operation)
        if not isinstance(op, dict) or len(op) != 1:
            raise ValidationError("operation", "expected exactly one cluster operation")
        kind, body = next(iter(op.items()))
        if kind in NOT_YET:
            raise BadRequest(f"{kind} is not supported on this cluster yet")
        if not isinstance(body, dict):
            raise ValidationError(kind, "must be an object")
        if kind == "create_sharding_key":
            return self.create_shard_key(collection_name, body.get("shard_key"), shards_number=body.get("shards_number"),
                                         replication_factor=body.get("replication_factor"),
                                         placement=body.get("placement"))
        if kind == "drop_sharding_key":
            return self.delete_shard_key(collection_name, body.get("shard_key"))
        layout = self.layout(collection_name)
        shard = _shard(layout, body.get("shard_id"), f"{kind}.shard_id")
        if kind == "drop_replica":
            return self._drop_replica(layout, shard.shard_id, body.get("peer_id"))
        if kind not in ("move_shard", "replicate_shard", "abort_transfer"):
            raise ValidationError("operation", f"unknown cluster operation {kind!r}")
        source = _replica_on(shard, body.get("from_peer_id"), f"{kind}.from_peer_id")
        if kind == "abort_transfer":
            return self._abort(layout, shard.shard_id, body)
        return self._start_transfer(layout, shard.shard_id, source, body, move=kind == "move_shard", where=kind)

    # ------------------------------------------------------------------ transfers
    def _start_transfer(self: "ClusterClient", layout: Layout, shard_id: int, source: ReplicaInfo, body: dict,
                        move: bool, where: str) -> bool:
        method = body.get("method")
        if method is not None and method not in METHODS:
            raise ValidationError(f"{where}.method", f"expected one of {', '.join(METHODS)}")
        if source.state != ACTIVE:
            raise BadRequest(f"shard {shard_id} on peer {body['from_peer_id']} is {source.state}, not Active")
        slots = {peer_id(slot): slot for slot in self.slots()}
        target = slots.get(body.get("to_peer_id"))
        if target is None:
            raise ValidationError(f"{where}.to_peer_id", f"no live peer {body.get('to_peer_id')!r}")
        shard = layout.shard(shard_id)
        if any(r.slot == target for r in shard.replicas):
            raise BadRequest(f"peer {body['to_peer_id']} already holds a replica of shard {shard_id}")
        if any(t["shard_id"] == shard_id for t in layout.transfers):
            raise BadRequest(f"shard {shard_id} is already being transferred")
        replica = ReplicaInfo(max(r.replica_id for r in shard.replicas) + 1, target, PARTIAL)
        transfer = {"shard_id": shard_id, "from": peer_id(source.slot), "to": peer_id(target), "sync": not move,
                    "method": method or "stream_records", "replica_id": replica.replica_id}
        self._spawn(layout, shard_id, replica)

        def change(now: Layout) -> None:  # the checks again, on the layout as stored now
            held = now.shard(shard_id).replicas
            if any(t["shard_id"] == shard_id for t in now.transfers) or any(r.slot == target for r in held):
                raise BadRequest(f"shard {shard_id} is already being transferred")
            if any(r.replica_id == replica.replica_id for r in held):
                raise BadRequest(f"the replicas of shard {shard_id} changed meanwhile: retry")
            held.append(replica)
            now.transfers.append(transfer)

        try:
            layout = self.meta.update(layout.name, change)
        except HybridError:
            now = self.meta.get(layout.name)
            if now is None or now.uid != layout.uid or all(r.replica_id != replica.replica_id
                                                           for r in now.shard(shard_id).replicas):
                self._drop_actor(layout, shard_id, replica.replica_id)  # not someone else's replica
            raise
        thread = threading.Thread(target=self._transfer, args=(layout.name, transfer, source.replica_id),
                                  daemon=True, name=f"hybrid-transfer-{shard_id}")
        self._transfers.append(thread)
        thread.start()
        return True

    def _transfer(self: "ClusterClient", name: str, transfer: dict, source_id: int) -> None:
        shard_id, replica_id = transfer["shard_id"], transfer["replica_id"]
        try:
            layout = self.layout(name)
            primary = next(r for r in layout.shard(shard_id).replicas if r.state == ACTIVE)
            how = self.get(self.handle(layout, shard_id, primary.replica_id).sync_peer.remote(
                layout.actor_name(shard_id, replica_id), NAMESPACE, transfer["method"] == "snapshot"))
            _log.info("shard %d of %r copied to peer %d (%s)", shard_id, name, transfer["to"], how)
        except (HybridError, StopIteration, *self.dead_errors(), self.ray.exceptions.RayTaskError) as exc:
            _log.warning("transfer of shard %d of %r to peer %d failed: %r", shard_id, name, transfer["to"], exc)
            self._end_transfer(name, transfer, keep=False)
            return
        layout = self._end_transfer(name, transfer, keep=True)
        if layout is not None and not transfer["sync"]:
            try:
                self._drop_replica(layout, shard_id, transfer["from"])
            except HybridError as exc:  # e.g. the source was dropped meanwhile: the copy stands
                _log.warning("the source of a move of shard %d of %r stays: %s", shard_id, name, exc)

    def _end_transfer(self: "ClusterClient", name: str, transfer: dict, keep: bool) -> Optional[Layout]:
        """Remove the transfer from the layout; the new replica turns Active (keep, and the
        transfer was not aborted meanwhile) or is dropped."""
        kept, dropped = [False], [False]

        def change(layout: Layout) -> None:
            live = transfer in layout.transfers
            layout.transfers = [t for t in layout.transfers if t != transfer]
            shard = layout.shard(transfer["shard_id"])
            replica = next((r for r in shard.replicas if r.replica_id == transfer["replica_id"]), None)
            kept[0], dropped[0] = replica is not None and keep and live, replica is not None
            if kept[0]:
                replica.state = ACTIVE
            else:
                shard.replicas = [r for r in shard.replicas if r is not replica]

        try:
            layout = self.meta.update(name, change)
        except CollectionNotFound:
            return None
        if kept[0]:
            return layout
        if dropped[0]:
            self._drop_actor(layout, transfer["shard_id"], transfer["replica_id"])
        return None

    def _abort(self: "ClusterClient", layout: Layout, shard_id: int, body: dict) -> bool:
        transfer = next((t for t in layout.transfers if t["shard_id"] == shard_id and t["from"] == body["from_peer_id"]
                         and t["to"] == body.get("to_peer_id")), None)
        if transfer is None:
            raise BadRequest(f"no transfer of shard {shard_id} from peer {body['from_peer_id']} to peer "
                             f"{body.get('to_peer_id')}")
        self._end_transfer(layout.name, transfer, keep=False)
        return True

    # ------------------------------------------------------------------ replicas
    def _drop_replica(self: "ClusterClient", layout: Layout, shard_id: int, peer: Any) -> bool:
        dropped: list[ReplicaInfo] = []

        def change(now: Layout) -> None:  # checked on the layout as stored now
            shard = now.shard(shard_id)
            replica = _replica_on(shard, peer, "drop_replica.peer_id")
            if not any(r is not replica and r.state == ACTIVE for r in shard.replicas):
                raise BadRequest(f"the replica of shard {shard_id} on peer {peer} is its last active one")
            if any(t["shard_id"] == shard_id for t in now.transfers):
                raise BadRequest(f"shard {shard_id} is being transferred: abort the transfer first")
            shard.replicas = [r for r in shard.replicas if r is not replica]
            dropped[:] = [replica]

        layout = self.meta.update(layout.name, change)
        replica = dropped[0]
        if replica.state != DEAD:
            self._drop_actor(layout, shard_id, replica.replica_id)
        return True

    def _drop_actor(self: "ClusterClient", layout: Layout, shard_id: int, replica_id: int) -> None:
        try:
            handle = self.handle(layout, shard_id, replica_id)
            self.get(handle.drop.remote(), timeout=30)
            self.ray.kill(handle)
        except (HybridError, *self.dead_errors(), self.ray.exceptions.RayTaskError) as exc:
            _log.warning("replica %d of shard %d of %r was not dropped: %r", replica_id, shard_id, layout.name, exc)
        self._handles.pop(layout.actor_name(shard_id, replica_id), None)

    def wait_for_transfers(self: "ClusterClient", timeout: float = 120.0) -> None:
        """Until the transfers this coordinator started have ended (tests, shutdown)."""
        for thread in list(self._transfers):
            thread.join(timeout)
        self._transfers = [t for t in self._transfers if t.is_alive()]


def _shard(layout: Layout, shard_id: Any, field: str) -> Any:
    shard = next((s for s in layout.shards if s.shard_id == shard_id), None)
    if shard is None:
        raise ValidationError(field, f"no shard {shard_id!r} in collection {layout.name!r}")
    return shard


def _replica_on(shard: Any, peer: Any, field: str) -> ReplicaInfo:
    replica = next((r for r in shard.replicas if peer_id(r.slot) == peer), None)
    if replica is None:
        raise ValidationError(field, f"peer {peer!r} holds no replica of shard {shard.shard_id}")
    return replica
