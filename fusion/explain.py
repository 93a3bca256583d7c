"""Per-branch ranks and scores next to a fused result ("why did this point rank here?")."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fusion.ranked import RankedList, stack


def explain(
    lists: Sequence[RankedList], keys: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align every input list on one set of candidate keys.

    Returns `(keys, ranks, scores)`: `keys` (n,) int64 are the given `keys` (e.g. the fused
    result, in its order) or, by default, the union of all list keys in ascending order;
    `ranks` (n_lists, n) int64 holds the 0-based position of each key in each list, -1 when
    absent; `scores` (n_lists, n) float32 its score there, NaN when absent.

    The `scores` matrix is also exactly the per-prefetch input of a formula query
    (`fusion.formula`), where NaN means "not in this prefetch".
    """
    stacked = stack(lists)
    if keys is None:
        keys = stacked.unique_keys
    else:
        keys = np.asarray(keys)
        if keys.ndim != 1 or (keys.shape[0] and not np.issubdtype(keys.dtype, np.integer)):
            raise TypeError("keys: expected a 1-D integer array")
        keys = keys.astype(np.int64, copy=False)
        if np.unique(keys).shape[0] != keys.shape[0]:
            raise ValueError("keys: must be unique")
    n_lists, n = stacked.sizes.shape[0], keys.shape[0]
    ranks = np.full((n_lists, n), -1, dtype=np.int64)
    scores = np.full((n_lists, n), np.nan, dtype=np.float32)
    if n == 0 or stacked.keys.shape[0] == 0:
        return keys, ranks, scores
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    slot = np.minimum(np.searchsorted(sorted_keys, stacked.keys), n - 1)
    found = sorted_keys[slot] == stacked.keys
    row, column = stacked.list_index[found], order[slot[found]]
    ranks[row, column] = stacked.ranks[found]
    scores[row, column] = stacked.scores[found]
    return keys, ranks, scores

