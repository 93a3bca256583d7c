"""Reciprocal Rank Fusion, Qdrant-compatible (`{"fusion": "rrf"}` and `{"rrf": {k, weights}}`)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from fusion.ranked import RankedList, check_limit, order_by_score, stack

#: Qdrant's default: `1 / (k + r)` with 0-based rank r; the paper's k=60 (1-based) is k=61 here.
DEFAULT_K = 2


def rrf(
    lists: Sequence[RankedList],
    k: int = DEFAULT_K,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> RankedList:
    """Fuse ranked lists by reciprocal rank; only positions matter, input scores are ignored.

    A point at 0-based rank r in list i contributes

        1 / (k + (r + 1) / w_i - 1)        (= 1 / (k + r) when w_i = 1)

    and its fused score is the sum over the lists it appears in. A weight w_i <= 0 makes list
    i contribute 0, but its points are still candidates (with score 0 unless another list
    ranks them), exactly as in Qdrant. A weight of 3 against 1 makes position 3 of the first
    list worth position 1 of the second ("three results of the first per result of the
    second"). Computed in float32 and summed in list order exactly as Qdrant does, so scores
    are bit-identical to Qdrant's; ties go to the lower key.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"rrf.k: expected an integer, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"rrf.k: must be >= 1, got {k}")
    limit = check_limit(limit)
    stacked = stack(lists)
    list_weights = _weights(weights, len(stacked.sizes))
    entry_weights = list_weights[stacked.list_index]
    positive = entry_weights > 0
    safe_weights = np.where(positive, entry_weights, np.float32(1.0))
    # float32 throughout and accumulated in list order, like Qdrant: bit-identical scores.
    positions = (stacked.ranks + 1).astype(np.float32)
    denominator = positions / safe_weights + np.float32(k) - np.float32(1.0)
    contribution = np.where(positive, np.float32(1.0) / denominator, np.float32(0.0))
    fused = np.zeros(stacked.unique_keys.shape[0], dtype=np.float32)
    np.add.at(fused, stacked.inverse, contribution)
    return order_by_score(stacked.unique_keys, fused, limit)


def _weights(weights: Sequence[float] | None, n_lists: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_lists, dtype=np.float32)
    values = list(weights)
    if len(values) != n_lists:
        raise ValueError(f"rrf.weights: got {len(values)} weights for {n_lists} lists")
    for i, weight in enumerate(values):
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)):
            raise TypeError(f"rrf.weights[{i}]: expected a number")
        if not math.isfinite(weight):
            raise ValueError(f"rrf.weights[{i}]: must be finite, got {weight}")
    return np.asarray(values, dtype=np.float32)
