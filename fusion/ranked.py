"""Ranked lists: the common currency of every fusion function.

A ranked list is a pair `(keys, scores)`: `keys` an int64 array of engine-assigned candidate
keys (their numeric order is point-id order), `scores` a float32 array of the same length,
sorted best first. Every fusion function returns a ranked list ordered by descending fused
score, ties broken by ascending key, so a request always returns the same order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: `(keys int64, scores float32)`, best first. `indexes.base.Hits` satisfies it too.
RankedList = tuple[np.ndarray, np.ndarray]


class Stacked:
    """All lists concatenated: one row per (list, position) entry, vectorised downstream.

    `keys`, `list_index`, `ranks` (0-based position inside its list) and `scores` (float64)
    all have the total number of entries; `sizes[i]` is the length of list i. `unique_keys`
    is the ascending union of keys and `inverse` maps each entry to its slot there.
    """

    __slots__ = ("keys", "list_index", "ranks", "scores", "sizes", "unique_keys", "inverse")

    def __init__(self, lists: Sequence[RankedList], field: str) -> None:
        pairs = [_checked(item, f"{field}[{i}]") for i, item in enumerate(lists)]
        self.sizes = np.array([len(keys) for keys, _ in pairs], dtype=np.int64)
        self.keys = _concat([keys for keys, _ in pairs], np.int64)
        self.scores = _concat([scores for _, scores in pairs], np.float64)
        self.list_index = np.repeat(np.arange(len(pairs), dtype=np.int64), self.sizes)
        starts = np.cumsum(self.sizes) - self.sizes
        self.ranks = np.arange(self.keys.shape[0], dtype=np.int64) - np.repeat(starts, self.sizes)
        # One sort by (key, list) gives the union, the inverse map and the duplicate check.
        order = np.lexsort((self.list_index, self.keys))
        sorted_keys, sorted_lists = self.keys[order], self.list_index[order]
        new_key = np.ones(sorted_keys.shape[0], dtype=bool)
        new_key[1:] = sorted_keys[1:] != sorted_keys[:-1]
        repeated = ~new_key[1:] & (sorted_lists[1:] == sorted_lists[:-1])
        if repeated.any():
            raise ValueError(f"{field}[{int(sorted_lists[1:][repeated][0])}]: keys must be unique within a list")
        self.unique_keys = sorted_keys[new_key]
        self.inverse = np.empty(sorted_keys.shape[0], dtype=np.int64)
        self.inverse[order] = np.cumsum(new_key) - 1

    def sum_by_key(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Union keys (ascending) and the float64 sum of per-entry `values` per key."""
        return self.unique_keys, np.bincount(self.inverse, weights=values, minlength=self.unique_keys.shape[0])


def stack(lists: Sequence[RankedList], field: str = "lists") -> Stacked:
    """Validate `lists` (each a `(keys, scores)` pair with unique keys) and concatenate them."""
    if isinstance(lists, (str, bytes)) or not isinstance(lists, Sequence):
        raise TypeError(f"{field}: expected a sequence of (keys, scores) pairs")
    return Stacked(lists, field)


def check_limit(limit: int | None, field: str = "limit") -> int | None:
    """`None` (no limit) or a non-negative integer."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise TypeError(f"{field}: expected an integer or None, got {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"{field}: must be >= 0, got {limit}")
    return int(limit)


def reduce_per_list(ufunc: np.ufunc, values: np.ndarray, sizes: np.ndarray, empty: float) -> np.ndarray:
    """`ufunc` reduced over each list's contiguous run of entries; `empty` for empty lists."""
    out = np.full(sizes.shape[0], empty, dtype=np.float64)
    nonempty = sizes > 0
    starts = (np.cumsum(sizes) - sizes)[nonempty]
    if starts.shape[0]:
        out[nonempty] = ufunc.reduceat(values, starts)
    return out


def order_by_score(keys: np.ndarray, scores: np.ndarray, limit: int | None = None) -> RankedList:
    """Sort by descending float32 score, ties by ascending key, keep the first `limit`.

    Scores are rounded to float32 *before* sorting, so keys whose scores only differ below
    float32 precision count as ties and are ordered by key.
    """
    keys = np.asarray(keys, dtype=np.int64)
    scores32 = np.asarray(scores, dtype=np.float32)
    if limit is not None and limit < scores32.shape[0]:
        if limit == 0:
            return keys[:0], scores32[:0]
        # Sort only what can make the cut: every score >= the limit-th best (ties included).
        threshold = -np.partition(-scores32, limit - 1)[limit - 1]
        candidates = np.flatnonzero(scores32 >= threshold)
        keys, scores32 = keys[candidates], scores32[candidates]
    order = np.lexsort((keys, -scores32))[:limit]
    return keys[order], scores32[order]


def _checked(item: object, field: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        keys, scores = item  # type: ignore[misc]
    except (TypeError, ValueError):
        raise TypeError(f"{field}: expected a (keys, scores) pair") from None
    keys = np.asarray(keys)
    scores = np.asarray(scores)
    if keys.ndim != 1 or scores.ndim != 1:
        raise ValueError(f"{field}: keys and scores must be 1-D arrays")
    if keys.shape[0] != scores.shape[0]:
        raise ValueError(f"{field}: {keys.shape[0]} keys but {scores.shape[0]} scores")
    if keys.shape[0] and not np.issubdtype(keys.dtype, np.integer):
        raise TypeError(f"{field}: keys must be integers, got {keys.dtype}")
    if scores.shape[0] and not np.issubdtype(scores.dtype, np.number):
        raise TypeError(f"{field}: scores must be numbers, got {scores.dtype}")
    return keys.astype(np.int64, copy=False), scores.astype(np.float64, copy=False)


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    if not arrays:
        return np.empty(0, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)
