"""Distribution-Based Score Fusion, Qdrant-compatible (`{"fusion": "dbsf"}`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fusion.ranked import (
    RankedList,
    Stacked,
    check_limit,
    order_by_score,
    reduce_per_list,
    stack,
)


def dbsf(lists: Sequence[RankedList], limit: int | None = None) -> RankedList:
    """Normalise each list by its mean +- 3 standard deviations, then sum per point.

    For a list with scores s_1..s_m (m >= 2), mean mu and *sample* standard deviation
    sigma = sqrt(sum((s - mu)^2) / (m - 1)):

        norm(s) = (s - (mu - 3 sigma)) / (6 sigma)

    A list with a single result, or whose scores are all equal, scores 0.5 for each point.
    Like Qdrant, the result is *not* clipped: a score further than 3 sigma from the mean maps
    outside [0, 1]. Empty lists contribute nothing. The fused score is the sum of a point's
    normalised scores over the lists containing it (float64, reported as float32).
    """
    limit = check_limit(limit)
    stacked = stack(lists)
    if not np.all(np.isfinite(stacked.scores)):
        raise ValueError("lists: scores must be finite for DBSF")
    keys, fused = stacked.sum_by_key(distribution_normalise(stacked))
    return order_by_score(keys, fused, limit)


def distribution_normalise(stacked: Stacked) -> np.ndarray:
    """Per-entry 3-sigma normalised score (see `dbsf`), vectorised over all lists at once."""
    n_lists = stacked.sizes.shape[0]
    index = stacked.list_index
    count = stacked.sizes.astype(np.float64)
    mean = np.bincount(index, weights=stacked.scores, minlength=n_lists) / np.maximum(count, 1.0)
    deviation = stacked.scores - mean[index]
    squares = np.bincount(index, weights=deviation * deviation, minlength=n_lists)
    std = np.sqrt(squares / np.maximum(count - 1.0, 1.0))
    # Equal scores give std 0 exactly only up to rounding, so test the spread directly.
    highest = reduce_per_list(np.maximum, stacked.scores, stacked.sizes, 0.0)
    lowest = reduce_per_list(np.minimum, stacked.scores, stacked.sizes, 0.0)
    degenerate = (stacked.sizes < 2) | (highest == lowest) | (std == 0.0)
    low = mean - 3.0 * std
    width = np.where(degenerate, 1.0, 6.0 * std)
    normalised = (stacked.scores - low[index]) / width[index]
    return np.where(degenerate[index], 0.5, normalised)

