"""Maximal Marginal Relevance re-ranking, as Qdrant's `{"nearest": .., "mmr": {..}}` does it."""

from __future__ import annotations

import math

import numpy as np

DEFAULT_DIVERSITY = 0.5


def mmr(
    query_similarities: np.ndarray,
    pairwise_similarities: np.ndarray,
    limit: int,
    diversity: float | None = DEFAULT_DIVERSITY,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedily pick `limit` of the n candidates, trading relevance for novelty.

    With lambda = 1 - diversity, the first pick is the most similar to the query; each next
    pick maximises

        lambda * sim(c, query) - (1 - lambda) * max_{s selected} sim(c, s)

    (float32 arithmetic, as in Qdrant). Ties reproduce Qdrant exactly: candidates wait in an
    index set in input order, a pick is removed by "swap remove" (the last waiting candidate
    takes its slot) and the *last* maximum in that order wins.

    `query_similarities` (n,) and `pairwise_similarities` (n, n) are raw metric similarities
    (higher is better; the same scorer for both). The candidates are the engine's
    `candidates_limit` nearest points. Returns `(indexes, scores)`: the picked candidate
    indexes (int64) in pick order, and the score Qdrant reports for them, which is their
    original similarity to the query, not the MMR objective. With fewer than two candidates
    MMR is skipped and they are returned as they are.
    """
    query = np.asarray(query_similarities, dtype=np.float32)
    pairwise = np.asarray(pairwise_similarities, dtype=np.float32)
    n = query.shape[0]
    if query.ndim != 1:
        raise ValueError("mmr.query_similarities: expected a 1-D array")
    if pairwise.shape != (n, n):
        raise ValueError(f"mmr.pairwise_similarities: expected shape ({n}, {n}), got {pairwise.shape}")
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValueError(f"mmr.limit: expected a non-negative integer, got {limit!r}")
    lam = np.float32(1.0 - _diversity(diversity))
    if n < 2 or limit == 0:
        indexes = np.arange(n if limit else 0, dtype=np.int64)
        return indexes, query[indexes]
    pending = np.arange(n, dtype=np.int64)
    picked: list[int] = []
    closest = np.full(n, -np.inf, dtype=np.float32)  # max similarity to any picked candidate
    objective = query[pending]
    while len(picked) < limit and pending.shape[0]:
        position = pending.shape[0] - 1 - int(np.argmax(objective[::-1]))  # last maximum
        choice = int(pending[position])
        picked.append(choice)
        pending[position] = pending[-1]  # swap remove
        pending = pending[:-1]
        closest = np.maximum(closest, pairwise[:, choice])
        objective = lam * query[pending] - (np.float32(1.0) - lam) * closest[pending]
    indexes = np.asarray(picked, dtype=np.int64)
    return indexes, query[indexes]


def _diversity(diversity: float | None) -> float:
    if diversity is None:
        return DEFAULT_DIVERSITY
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float, np.number)):
        raise TypeError(f"mmr.diversity: expected a number, got {type(diversity).__name__}")
    if not (math.isfinite(diversity) and 0.0 <= diversity <= 1.0):
        raise ValueError(f"mmr.diversity: must be in [0, 1], got {diversity}")
    return float(diversity)
