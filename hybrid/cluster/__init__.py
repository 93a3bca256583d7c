"""Distributed collections on Ray (`hybrid serve --cluster`): shards, replicas, one merge.

- routing.py: which shard holds a point (auto: hash ring; custom: shard keys)
- meta.py: collections' layouts in the GCS key-value store (survive coordinator restarts), changed
  atomically across coordinators through one compare-and-set actor
- replica.py + oplog.py: a shard replica (Ray actor over an embedded collection) and its log
- coordinator.py: ClusterClient, writes and failure handling; scatter.py + tree.py: reads

Nothing here is imported outside cluster mode, so the single-node server never imports Ray.
"""
