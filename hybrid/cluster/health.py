"""Failure handling: replicas that cannot be reached are marked dead (by a probe here, or by
any read or write that fails on them), and those whose node is alive again are respawned on it
with their folder, caught up from the shard primary's operation log and turned active."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hybrid.cluster.meta import ACTIVE, DEAD, NAMESPACE, PARTIAL, Layout, ReplicaInfo, ShardInfo

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

_log = logging.getLogger("hybrid.cluster")


class HealthMixin:
    def recover(self: "ClusterClient") -> int:
        """Probe every replica; mark the unreachable dead; bring back those whose node is
        alive again: respawn on its slot (same folder), catch up from the primary's operation
        log, then active. Returns how many replicas turned active."""
        back = 0
        slots = set(self.slots())
        for name in self.meta.names():
            layout = self.meta.get(name)
            if layout is None:
                continue
            for shard in layout.shards:
                for r in shard.replicas:
                    if r.state != DEAD:
                        try:
                            self.get(self.handle(layout, shard.shard_id, r.replica_id).last_seq.remote(), timeout=10)
                        except self.dead_errors():
                            self.mark(layout, shard.shard_id, r.replica_id, DEAD)
                for r in shard.replicas:
                    if r.state == DEAD and r.slot in slots and self._revive(layout, shard, r):
                        back += 1
        return back

    def _revive(self: "ClusterClient", layout: Layout, shard: ShardInfo, replica: ReplicaInfo) -> bool:
        primary = next((r for r in shard.replicas if r.state == ACTIVE), None)
        try:
            handle = self._spawn(layout, shard.shard_id, replica)
            self.get(handle.last_seq.remote(), timeout=60)
            self.mark(layout, shard.shard_id, replica.replica_id, PARTIAL)
            if primary is not None:
                self.get(self.handle(layout, shard.shard_id, primary.replica_id).sync_peer.remote(
                    layout.actor_name(shard.shard_id, replica.replica_id), NAMESPACE))
            self.mark(layout, shard.shard_id, replica.replica_id, ACTIVE)
            _log.info("replica %d of shard %d of %r is active again", replica.replica_id, shard.shard_id, layout.name)
            return True
        except self.dead_errors() + (self.ray.exceptions.RayTaskError,) as exc:
            _log.warning("replica %d of shard %d of %r did not come back: %r", replica.replica_id, shard.shard_id,
                         layout.name, exc)
            self.mark(layout, shard.shard_id, replica.replica_id, DEAD)
            return False

    def _health_loop(self: "ClusterClient", interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.recover()
            except Exception:  # noqa: BLE001 - the loop must outlive one failed round
                _log.exception("cluster health round failed")
