"""What the cluster routes report and steer (`/cluster`, `/collections/{c}/cluster`, shard
keys, collection info), with the method names the single-node Client answers them by, so the
same REST handlers serve both (issue 19's api/routes/cluster.py calls these).

Peers are the placement slots (a node's `hybrid_slot_*` resource or its Ray node id), each
with a stable id; the coordinator reports itself as one more peer holding no shard. There is
no Raft here: the GCS is the consensus, so `raft_info` reports one term and the GCS as leader.
"""

from __future__ import annotations

import datetime
import zlib
from typing import TYPE_CHECKING, Any, Optional

from hybrid import models as m
from hybrid.cluster.meta import DEAD
from hybrid.errors import BadRequest

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

STATUS_ORDER = {"green": 0, "grey": 1, "yellow": 2, "red": 3}


def peer_id(slot: str) -> int:
    return zlib.crc32(slot.encode()) + 1  # never 0


class StatusMixin:
    def _me(self: "ClusterClient") -> int:
        return peer_id("coordinator:" + self.ray.get_runtime_context().get_node_id())

    def cluster_status(self: "ClusterClient") -> dict:
        me = self._me()
        peers = {str(peer_id(slot)): {"uri": f"ray://{slot}"} for slot in self.slots()}
        peers[str(me)] = {"uri": "ray://coordinator"}
        return {"status": "enabled", "peer_id": me, "peers": peers,
                "raft_info": {"term": 1, "commit": 0, "pending_operations": 0, "leader": me, "role": "Leader",
                              "is_voter": True},
                "consensus_thread_status": {"consensus_thread_status": "working",
                                            "last_update": datetime.datetime.now(datetime.timezone.utc).isoformat()},
                "message_send_failures": {}}

    def collection_cluster_info(self: "ClusterClient", collection_name: str) -> dict:
        layout = self.layout(collection_name)
        remote = [{"shard_id": s.shard_id, "shard_key": s.shard_key, "peer_id": peer_id(r.slot), "state": r.state}
                  for s in layout.shards for r in s.replicas]
        for shard in remote:
            if shard["shard_key"] is None:
                del shard["shard_key"]
        transfers = [{k: v for k, v in t.items() if k != "replica_id"} for t in layout.transfers]
        return {"peer_id": self._me(), "shard_count": len(layout.shards), "local_shards": [],
                "remote_shards": remote, "shard_transfers": transfers}

    def list_shard_keys(self: "ClusterClient", collection_name: str) -> dict:
        layout = self.layout(collection_name)
        keys = list(dict.fromkeys(s.shard_key for s in layout.shards if s.shard_key is not None))
        return {"shard_keys": [{"key": k} for k in keys]} if layout.sharding_method == "custom" else {}

    def recover_current_peer(self: "ClusterClient") -> bool:
        self.recover()
        return True

    def remove_peer(self: "ClusterClient", peer: int, force: Any = None, timeout: Optional[int] = None) -> bool:
        raise BadRequest("peers are Ray nodes here: remove the node from the Ray cluster")

    def cluster_telemetry(self: "ClusterClient", details_level: Optional[int] = None,
                          timeout: Optional[int] = None) -> dict:
        return {"cluster": self.cluster_status()}

    def get_collection(self: "ClusterClient", collection_name: str) -> m.CollectionInfo:
        """One replica per shard reports; counts are summed, the worst status wins, and the
        config carries the collection's sharding parameters."""
        layout = self.layout(collection_name)
        parts = self.on_shards(layout, layout.shards, lambda h, _: h.read.remote("get_collection", {}))
        if not parts:  # a custom-sharded collection without shard keys yet
            self.planning.view(layout)
            info = m.to_builtins(self.planning.client.get_collection(layout.name))
        else:
            info = dict(parts[0])
            info["status"] = max((p["status"] for p in parts), key=lambda s: STATUS_ORDER.get(s, 3))
            for count in ("points_count", "indexed_vectors_count", "segments_count"):
                info[count] = sum(p.get(count) or 0 for p in parts)
        params = info.setdefault("config", {}).setdefault("params", {})
        params.update(shard_number=len(layout.shards) if layout.sharding_method == "custom" else layout.shard_number,
                      replication_factor=layout.replication_factor,
                      write_consistency_factor=layout.write_consistency_factor, sharding_method=layout.sharding_method)
        return m.convert(info, m.CollectionInfo, "collection")


    def get_optimizations(self: "ClusterClient", collection_name: str, completed_limit: Optional[int] = None,
                          with_: Any = None) -> Any:
        """Every live replica's optimizer, merged as Qdrant merges its replicas and shards
        (collection_ops.rs `optimizations`): summary counts summed, lists joined, running and
        completed newest first, completed cut at `completed_limit` (16 by default, as one node)."""
        from hybrid.optimizations import OptimizationsResponse

        layout = self.layout(collection_name)
        kwargs = {"completed_limit": completed_limit, "with_": with_}
        parts = []
        for shard in layout.shards:
            for r in [r for r in shard.replicas if r.state != DEAD]:
                try:
                    ref = self.handle(layout, shard.shard_id, r.replica_id).read.remote("get_optimizations", kwargs)
                    parts.append(self.get(ref))  # a bad argument raises here, as on one node
                except self.dead_errors():
                    self.mark(layout, shard.shard_id, r.replica_id, DEAD)
        merged: dict = {"summary": {}, "running": []}
        for part in parts:
            for key, count in part["summary"].items():
                merged["summary"][key] = merged["summary"].get(key, 0) + count
            for key in ("running", "queued", "completed", "idle_segments"):
                if part.get(key) is not None:
                    merged.setdefault(key, []).extend(part[key])
        for key in ("running", "completed"):
            if key in merged:
                merged[key].sort(key=lambda job: job["progress"].get("started_at") or "", reverse=True)
        if "completed" in merged:
            merged["completed"] = merged["completed"][:16 if completed_limit is None else completed_limit]
        if not parts:  # no live replica (or no shard key yet): nothing runs anywhere
            merged["summary"] = dict.fromkeys(("queued_optimizations", "queued_segments", "queued_points",
                                               "idle_segments"), 0)
        return m.convert(merged, OptimizationsResponse, "optimizations")
