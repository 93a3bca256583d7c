"""Weighted linear fusion of normalised scores (our extension; Qdrant has no equivalent)."""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np

from fusion.dbsf import distribution_normalise
from fusion.ranked import (
    RankedList,
    Stacked,
    check_limit,
    order_by_score,
    reduce_per_list,
    stack,
)

Normalization = Literal["minmax", "zscore", "dbsf", "none"]
NORMALIZATIONS: tuple[str, ...] = ("minmax", "zscore", "dbsf", "none")


def linear(
    lists: Sequence[RankedList],
    weights: Sequence[float] | None = None,
    normalization: Normalization = "minmax",
    limit: int | None = None,
    convex: bool = True,
) -> RankedList:
    """Fused score = sum_i w_i * norm_i(s_i) over the lists i that contain the point.

    Normalisations, per list with scores s (m entries):
      - "minmax": (s - min) / (max - min), in [0, 1];
      - "zscore": (s - mean) / sigma with the sample sigma (ddof 1), as in DBSF;
      - "dbsf":   Qdrant's 3-sigma normalisation (see `fusion.dbsf.dbsf`);
      - "none":   raw scores (only meaningful when the lists share a scale).
    A list with one result or equal scores normalises to 0.5 ("minmax", "dbsf") or 0
    ("zscore"), following Qdrant's convention for a degenerate range.

    A point missing from list i contributes 0 *after* normalisation, i.e. it is treated like
    the worst score of a min-max list and like the *mean* of a z-scored list.

    Weights default to equal. With `convex=True` (default) they must be >= 0 and are divided
    by their sum, so the fused score stays on the normalised scale (for "minmax": [0, 1]);
    with `convex=False` they are used as given (negative weights allowed, to demote a list).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"linear.normalization: expected one of {NORMALIZATIONS}, got {normalization!r}")
    limit = check_limit(limit)
    stacked = stack(lists)
    if not np.all(np.isfinite(stacked.scores)):
        raise ValueError("lists: scores must be finite for linear fusion")
    list_weights = _weights(weights, stacked.sizes.shape[0], convex)
    normalised = _normalise(stacked, normalization)
    keys, fused = stacked.sum_by_key(normalised * list_weights[stacked.list_index])
    return order_by_score(keys, fused, limit)


def _normalise(stacked: Stacked, normalization: str) -> np.ndarray:
    scores, sizes, index = stacked.scores, stacked.sizes, stacked.list_index
    if normalization == "none":
        return scores
    if normalization == "dbsf":
        return distribution_normalise(stacked)
    if normalization == "minmax":
        low = reduce_per_list(np.minimum, scores, sizes, 0.0)
        high = reduce_per_list(np.maximum, scores, sizes, 0.0)
        degenerate = high == low
        width = np.where(degenerate, 1.0, high - low)
        return np.where(degenerate[index], 0.5, (scores - low[index]) / width[index])
    count = sizes.astype(np.float64)
    mean = np.bincount(index, weights=scores, minlength=sizes.shape[0]) / np.maximum(count, 1.0)
    deviation = scores - mean[index]
    squares = np.bincount(index, weights=deviation * deviation, minlength=sizes.shape[0])
    std = np.sqrt(squares / np.maximum(count - 1.0, 1.0))
    low = reduce_per_list(np.minimum, scores, sizes, 0.0)
    high = reduce_per_list(np.maximum, scores, sizes, 0.0)
    degenerate = (sizes < 2) | (high == low) | (std == 0.0)
    return np.where(degenerate[index], 0.0, deviation / np.where(degenerate, 1.0, std)[index])


def _weights(weights: Sequence[float] | None, n_lists: int, convex: bool) -> np.ndarray:
    if weights is None:
        values = [1.0] * n_lists
    else:
        values = list(weights)
        if len(values) != n_lists:
            raise ValueError(f"linear.weights: got {len(values)} weights for {n_lists} lists")
    for i, weight in enumerate(values):
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)):
            raise TypeError(f"linear.weights[{i}]: expected a number")
        if not math.isfinite(weight):
            raise ValueError(f"linear.weights[{i}]: must be finite, got {weight}")
        if convex and weight < 0:
            raise ValueError(f"linear.weights[{i}]: must be >= 0 for convex weights, got {weight}")
    array = np.asarray(values, dtype=np.float64)
    if convex and n_lists:
        total = array.sum()
        if total <= 0:
            raise ValueError("linear.weights: convex weights need a positive sum")
        array = array / total
    return array
