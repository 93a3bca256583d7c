"""Recommend, discover and context scoring as Qdrant defines them, over similarity matrices.

The engine computes raw metric similarities (higher is better, before any distance
post-processing: cosine/dot products, negated squared L2 for Euclid, negated L1 for
Manhattan, as in Qdrant's raw scorers) between each example vector and each candidate; these
functions turn them into one float32 score per candidate. A similarity matrix has one row
per example and one column per candidate.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: f32::EPSILON, the margin Qdrant's context score subtracts.
F32_EPSILON = np.float32(np.finfo(np.float32).eps)


def fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """x / (1 + |x|): a cheap monotone squash of the reals into (-1, 1)."""
    x = np.asarray(x, dtype=np.float32)
    return x / (np.float32(1.0) + np.abs(x))


def scaled_fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """(fast_sigmoid(x) + 1) / 2, into (0, 1)."""
    return np.float32(0.5) * (fast_sigmoid(x) + np.float32(1.0))


def best_score(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Recommend strategy "best_score".

    With p = max similarity to any positive and q = max to any negative (-inf when there
    are none): score = sigmoid(p) if p > q else -sigmoid(q), sigmoid = `scaled_fast_sigmoid`.
    Points closer to a positive than to every negative rank above all others.
    """
    pos, neg = _examples(positive, negative)
    best_pos = pos.max(axis=0, initial=-np.inf)
    best_neg = neg.max(axis=0, initial=-np.inf)
    with np.errstate(invalid="ignore"):  # the branch not taken may squash an infinity
        return np.where(best_pos > best_neg, scaled_fast_sigmoid(best_pos), -scaled_fast_sigmoid(best_neg))


def sum_scores(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Recommend strategy "sum_scores": sum of positive similarities minus sum of negative ones."""
    pos, neg = _examples(positive, negative)
    return pos.sum(axis=0, dtype=np.float32) - neg.sum(axis=0, dtype=np.float32)


def discovery_scores(target: np.ndarray, pair_positive: np.ndarray, pair_negative: np.ndarray) -> np.ndarray:
    """Discover query: rank + scaled_fast_sigmoid(sim(target)).

    rank = sum over context pairs of +1 (closer to the pair's positive), 0 (equal) or -1, so
    the integer part orders by how many pairs a point satisfies and the target similarity only
    breaks ties inside a rank. `pair_positive[j]` / `pair_negative[j]` are the similarities to
    pair j's vectors.
    """
    target = np.asarray(target, dtype=np.float32)
    if target.ndim != 1:
        raise ValueError("discover.target: expected a 1-D similarity array")
    return context_ranks(pair_positive, pair_negative, target.shape[0]) + scaled_fast_sigmoid(target)


def context_ranks(pair_positive: np.ndarray, pair_negative: np.ndarray, n: int | None = None) -> np.ndarray:
    """Per candidate, sum over pairs of sign(sim(positive) - sim(negative)), as float32."""
    pos, neg = _pairs(pair_positive, pair_negative, n)
    return np.sign(pos - neg).sum(axis=0, dtype=np.float32)


def context_scores(pair_positive: np.ndarray, pair_negative: np.ndarray) -> np.ndarray:
    """Context query: sum over pairs of fast_sigmoid(min(sim(pos) - sim(neg) - eps, 0)).

    Each pair adds 0 when the point is (strictly, by more than f32 epsilon) closer to the
    positive and a negative penalty growing with the violation otherwise; the best score is 0.
    """
    pos, neg = _pairs(pair_positive, pair_negative, None)
    difference = pos - neg - F32_EPSILON
    return fast_sigmoid(np.minimum(difference, np.float32(0.0))).sum(axis=0, dtype=np.float32)


def naive_feedback_scores(
    target: np.ndarray, feedback: np.ndarray, feedback_scores: Sequence[float], a: float, b: float, c: float
) -> np.ndarray:
    """Relevance feedback, strategy "naive": a * sim(target) + sum_pairs c * conf^b * delta.

    For every ordered pair of feedback examples (i, j) with confidence = score_i - score_j > 0,
    delta = sim(example_i) - sim(example_j). `feedback` has one similarity row per example.
    """
    target = np.asarray(target, dtype=np.float32)
    sims = _matrix(feedback, "feedback", target.shape[0] if target.ndim == 1 else None)
    given = np.asarray(feedback_scores, dtype=np.float64)
    if given.shape != (sims.shape[0],):
        raise ValueError(f"feedback_scores: expected {sims.shape[0]} scores, got shape {given.shape}")
    confidence = given[:, None] - given[None, :]
    better, worse = np.nonzero(confidence > 0.0)
    weights = (confidence[better, worse] ** b) * c
    deltas = sims[better] - sims[worse]
    return (a * target + (weights[:, None] * deltas).sum(axis=0)).astype(np.float32)


def average_vector(positive: np.ndarray, negative: np.ndarray | None = None) -> np.ndarray:
    """Recommend strategy "average_vector" (a query transform, then a plain search):

    query = avg(positive) + (avg(positive) - avg(negative)), or avg(positive) without negatives.
    """
    pos = np.asarray(positive, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[0] == 0:
        raise ValueError("recommend.positive: average_vector needs at least one positive vector")
    mean = pos.mean(axis=0)
    if negative is None or len(negative) == 0:
        return mean.astype(np.float32)
    neg = np.asarray(negative, dtype=np.float64)
    if neg.ndim != 2 or neg.shape[1] != pos.shape[1]:
        raise ValueError("recommend.negative: vectors must have the positive vectors' dimension")
    return (mean + mean - neg.mean(axis=0)).astype(np.float32)


def average_sparse(
    positive: Sequence[tuple[np.ndarray, np.ndarray]], negative: Sequence[tuple[np.ndarray, np.ndarray]] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """`average_vector` for sparse `(indices, values)` vectors; a missing index counts as 0.

    Returns sorted unique indices (int64) and float32 values of
    avg(positive) + avg(positive) - avg(negative).
    """
    if len(positive) == 0:
        raise ValueError("recommend.positive: average_vector needs at least one positive vector")
    indices = [np.asarray(i, dtype=np.int64) for i, _ in positive] + [np.asarray(i, dtype=np.int64) for i, _ in negative]
    pos_values = [np.asarray(v, dtype=np.float64) / len(positive) for _, v in positive]
    factor = 2.0 if len(negative) else 1.0
    neg_values = [-np.asarray(v, dtype=np.float64) / len(negative) for _, v in negative]
    values = [factor * v for v in pos_values] + neg_values
    all_indices = np.concatenate(indices)
    unique, inverse = np.unique(all_indices, return_inverse=True)
    summed = np.bincount(inverse, weights=np.concatenate(values), minlength=unique.shape[0])
    return unique, summed.astype(np.float32)


def _matrix(values: np.ndarray, field: str, n: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    if array.ndim == 1 and array.shape[0] == 0:
        array = array.reshape(0, 0 if n is None else n)
    if array.ndim != 2:
        raise ValueError(f"{field}: expected a (n_examples, n_candidates) similarity matrix")
    if n is not None and array.shape[0] and array.shape[1] != n:
        raise ValueError(f"{field}: expected {n} candidate columns, got {array.shape[1]}")
    if np.isnan(array).any():
        raise ValueError(f"{field}: similarities must not be NaN")
    return array


def _examples(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both matrices as (k, n) float32, n taken from whichever side has examples."""
    pos, neg = _matrix(positive, "recommend.positive"), _matrix(negative, "recommend.negative")
    if pos.shape[0] == 0 and neg.shape[0] == 0:
        raise ValueError("recommend: needs at least one positive or negative example")
    n = pos.shape[1] if pos.shape[0] else neg.shape[1]
    if pos.shape[0] and neg.shape[0] and pos.shape[1] != neg.shape[1]:
        raise ValueError("recommend: positive and negative matrices cover different candidates")
    return pos.reshape(pos.shape[0], n), neg.reshape(neg.shape[0], n)


def _pairs(pair_positive: np.ndarray, pair_negative: np.ndarray, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    pos = _matrix(pair_positive, "context.positive", n)
    neg = _matrix(pair_negative, "context.negative", n)
    if pos.shape != neg.shape:
        raise ValueError(f"context: positive {pos.shape} and negative {neg.shape} similarities differ in shape")
    return pos, neg
