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
from typing import TYPE_CHECKING, Any

from hybrid import models as m
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
        return {"peer_id": self._me(), "shard_count": len(layout.shards), "local_shards": [],
                "remote_shards": remote, "shard_transfers": []}

    def list_shard_keys(self: "ClusterClient", collection_name: str, **_unused: Any) -> dict:
        layout = self.layout(collection_name)
        keys = list(dict.fromkeys(s.shard_key for s in layout.shards if s.shard_key is not None))
        return {"shard_keys": [{"key": k} for k in keys]} if layout.sharding_method == "custom" else {}

    def recover_current_peer(self: "ClusterClient") -> bool:
        self.recover()
        return True

    def remove_peer(self: "ClusterClient", peer: int, force: Any = None, **_unused: Any) -> bool:
        raise BadRequest("peers are Ray nodes here: remove the node from the Ray cluster")

    def cluster_collection_update(self: "ClusterClient", collection_name: str, operation: Any, **_unused: Any) -> bool:
        raise BadRequest("moving, replicating and dropping shards by hand is not supported yet: replicas are placed "
                         "at creation and come back with their node")

    def cluster_telemetry(self: "ClusterClient", **_unused: Any) -> dict:
        return {"cluster": self.cluster_status()}

    def resolve_alias(self: "ClusterClient", name: str) -> str:
        return name  # aliases are not distributed yet

    def get_aliases(self: "ClusterClient", **_unused: Any) -> m.CollectionsAliasesResponse:
        return m.CollectionsAliasesResponse(aliases=[])

    def drop_aliases_of(self: "ClusterClient", collection_name: str) -> None:
        pass  # no aliases to drop

    def get_collection_aliases(self: "ClusterClient", collection_name: str, **_unused: Any) -> Any:
        return self.get_aliases()

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


def _not_distributed(name: str) -> Any:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise BadRequest(f"{name} is not available on a cluster collection yet")

    refuse.__name__ = name
    return refuse


#: Client methods the REST routes call that a cluster does not offer yet: refused by name (400),
#: never a 500 for a missing attribute.
NOT_DISTRIBUTED = ("update_collection_aliases", "update_collection", "batch_update_points", "get_optimizations",
                   "create_snapshot", "list_snapshots", "delete_snapshot", "recover_snapshot", "restore_snapshot",
                   "snapshot_file", "snapshots_path", "create_full_snapshot", "list_full_snapshots")
for _name in NOT_DISTRIBUTED:
    setattr(StatusMixin, _name, _not_distributed(_name))
