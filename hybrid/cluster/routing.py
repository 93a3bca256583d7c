"""Which shard holds a point: Qdrant's two sharding methods.

- `auto`: a consistent hash ring (after Qdrant's `HashRingRouter::fair` with
  `HASH_RING_SHARD_SCALE` = 100 virtual nodes per shard). A point's id is hashed with a stable
  hash (BLAKE2b of its sortable id key, so 7 and "7" never collide with a UUID) and goes to the
  first ring position at or after its hash. Adding a shard moves only about 1/n of the points.
- `custom`: shards belong to a shard key (`PUT /collections/{c}/shards`); a write names its key
  (`shard_key`), and within a key's shards points are again routed by the ring of those shards.
  A read with `shard_key_selector` reads only the named keys' shards, without it all shards.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from hybrid.errors import ValidationError
from hybrid.ids import PointId, id_key_bytes

RING_SCALE = 100  # virtual nodes per shard, as Qdrant's HASH_RING_SHARD_SCALE


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class HashRing:
    """A fair ring over shard ids: `route(ids)` gives each id's shard id."""

    def __init__(self, shard_ids: Sequence[int]) -> None:
        if not shard_ids:
            raise ValueError("a hash ring needs at least one shard")
        points = [(_hash(f"shard-{s}-{v}".encode()), s) for s in shard_ids for v in range(RING_SCALE)]
        points.sort()
        self.positions = np.array([p for p, _ in points], dtype=np.uint64)
        self.owners = np.array([s for _, s in points], dtype=np.int64)

    def route(self, ids: Sequence[PointId]) -> np.ndarray:
        hashes = np.array([_hash(id_key_bytes(i)) for i in ids], dtype=np.uint64)
        at = np.searchsorted(self.positions, hashes, side="left") % len(self.positions)
        return self.owners[at]


def normalize_shard_key(value: Any, field: str = "shard_key") -> int | str:
    """A shard key is a string or a non-negative integer (Qdrant's ShardKey)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, int) and value < 0):
        raise ValidationError(field, "a shard key is a string or a non-negative integer")
    return value


def selector_keys(selector: Any, field: str = "shard_key") -> list[int | str]:
    """The keys of a shard_key_selector: one key, a list of keys, or {"shards": [...]}."""
    from hybrid import models as m

    selector = m.to_builtins(selector)
    if isinstance(selector, dict):
        if "shards" in selector:
            selector = selector["shards"]
        elif "shard_key" in selector:  # 1.20's {shard_key, fallback}: the key
            selector = selector["shard_key"]
    keys = selector if isinstance(selector, list) else [selector]
    return [normalize_shard_key(k, f"{field}[{i}]" if isinstance(selector, list) else field) for i, k in enumerate(keys)]
