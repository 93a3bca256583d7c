"""What a single-node server reports about itself: cluster and shard layout, telemetry, issues.

`ServiceMixin` is mixed into `hybrid.Client` (qdrant-client method names). A client is one node
holding each collection as one local shard (id 0), so cluster status is "disabled", and cluster
changes (moving shards, shard keys, peers) answer `StandaloneMode` (405), as a Qdrant started
without distributed mode answers. Distributed mode (hybrid/cluster/) replaces these answers.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

from hybrid import models as m
from hybrid.errors import StandaloneMode

if TYPE_CHECKING:
    from hybrid.collection import Collection
    from hybrid.quotas import QuotaManager

#: The one shard of every collection on a single node.
LOCAL_SHARD = 0


class ServiceMixin:
    """Single-node answers to Qdrant's cluster, shard-key, telemetry and issues operations."""

    if TYPE_CHECKING:
        def _get(self, name: str) -> "Collection": ...
        def get_collections(self) -> m.CollectionsResponse: ...
        def get_collection(self, collection_name: str) -> m.CollectionInfo: ...
        def count(self, collection_name: str, **kw: Any) -> m.CountResult: ...
        quota: QuotaManager

    @property
    def peer_id(self) -> int:
        """This node's id (random per client, as a fresh Qdrant node picks one)."""
        if "_peer_id" not in self.__dict__:
            self.__dict__["_peer_id"] = uuid.uuid4().int >> 65
            self.__dict__["_started"] = datetime.now(timezone.utc)
        return self.__dict__["_peer_id"]

    def cluster_status(self) -> m.ClusterStatusDisabled:
        return m.ClusterStatusDisabled(status="disabled")

    def collection_cluster_info(self, collection_name: str) -> m.CollectionClusterInfo:
        self._get(collection_name)
        points = self.count(collection_name, exact=True).count
        return m.CollectionClusterInfo(peer_id=self.peer_id, shard_count=1, remote_shards=[], shard_transfers=[],
                                     local_shards=[m.LocalShardInfo(shard_id=LOCAL_SHARD, points_count=points, state="Active")])

    def list_shard_keys(self, collection_name: str, timeout: Optional[int] = None) -> m.ShardKeysResponse:
        self._get(collection_name)
        return m.ShardKeysResponse()

    def create_shard_key(self, collection_name: str, shard_key: Any, shards_number: Optional[int] = None,
                         replication_factor: Optional[int] = None, placement: Optional[list[int]] = None,
                         initial_state: Any = None, timeout: Optional[int] = None) -> bool:
        raise StandaloneMode()

    def delete_shard_key(self, collection_name: str, shard_key: Any, timeout: Optional[int] = None) -> bool:
        raise StandaloneMode()

    def cluster_collection_update(self, collection_name: str, cluster_operation: Any,
                                  timeout: Optional[int] = None) -> bool:
        raise StandaloneMode()

    def recover_current_peer(self) -> bool:
        raise StandaloneMode()

    def remove_peer(self, peer_id: int, force: Optional[bool] = None, timeout: Optional[int] = None) -> bool:
        raise StandaloneMode()

    def cluster_telemetry(self, details_level: Optional[int] = None, timeout: Optional[int] = None) -> Any:
        raise StandaloneMode()

    def telemetry(self, details_level: int = 0, version: Optional[str] = None) -> dict:
        """Qdrant's TelemetryData, the parts a single node has: app, collections (and with
        `details_level` >= 1 each collection's point count), the quota and its verdicts."""
        names = [c.name for c in self.get_collections().collections]
        collections: dict[str, Any] = {"number_of_collections": len(names)}
        if details_level >= 1:  # Qdrant's aggregated form of each collection
            collections["collections"] = [self._aggregated(n) for n in names]
        node = str(uuid.UUID(int=self.peer_id))
        quota = {"config": m.with_defaults(self.quota.config), "exceeded": m.to_builtins(self.quota.exceeded())}
        return {"id": node, "collections": collections, "quota": quota,
                "app": {"name": "hybrid", "version": version or "", "startup": self.__dict__["_started"].isoformat()}}

    def _aggregated(self, name: str) -> dict:
        info = self.get_collection(name)
        return {"vectors": info.points_count or 0, "optimizers_status": info.optimizer_status,
                "params": m.with_defaults(info.config.params)}

    def get_issues(self) -> m.IssuesReport:
        """Performance issues found (Qdrant's beta /issues): this engine reports none yet."""
        return m.IssuesReport(issues=[])

    def clear_issues(self) -> bool:
        return True
