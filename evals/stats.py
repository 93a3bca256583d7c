"""Seeded resampling statistics over per-query scores.

- :func:`bootstrap_ci`: percentile bootstrap confidence interval of a mean. Draw ``B`` samples of
  ``n`` queries with replacement, take each sample's mean ``m_b``; the interval is the
  ``(1 - c) / 2`` and ``(1 + c) / 2`` quantiles of ``{m_b}`` for confidence ``c``.
- :func:`paired_randomization_test`: two-sided paired sign-flip test (Fisher / Smucker et al.,
  CIKM 2007) on ``d = a - b``. Under H0 each ``d_i`` is equally likely to have either sign, so
  ``p = (1 + #{s : |mean(s * d)| >= |mean(d)|}) / (1 + B)`` over ``B`` random sign vectors ``s``;
  when ``2 ** n <= B`` all sign vectors are enumerated and ``p`` is exact (no +1 terms).

Resamples are drawn in blocks so memory stays ``O(block * n)`` whatever ``B`` is.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_BLOCK_ELEMENTS = 4_000_000  # resampled values held at once (32 MB of float64)
_ABS_TOLERANCE = 1e-12  # resampled means within this of the observed one count as ties


class ConfidenceInterval(NamedTuple):
    """A point estimate with a two-sided interval."""

    mean: float
    low: float
    high: float
    confidence: float


class PairedTest(NamedTuple):
    """Result of comparing plan A with plan B on the same queries."""

    mean_difference: float  # mean(a - b)
    p_value: float  # two-sided
    interval: ConfidenceInterval  # bootstrap interval of mean(a - b)
    n_queries: int


def _as_scores(values: np.ndarray | list[float], field: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{field} must be a 1-D array of per-query scores")
    if not np.isfinite(array).all():
        raise ValueError(f"{field} must be finite")
    return array


def _check_resampling(n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError("n_resamples must be a positive integer")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")


def _block_sizes(total: int, n: int) -> list[int]:
    block = max(1, _BLOCK_ELEMENTS // max(n, 1))
    return [min(block, total - start) for start in range(0, total, block)]


def bootstrap_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap samples (rows drawn with replacement)."""
    n = values.shape[0]
    blocks = [values[rng.integers(0, n, size=(size, n))].mean(axis=1) for size in _block_sizes(n_resamples, n)]
    return np.concatenate(blocks)


def bootstrap_ci(
    values: np.ndarray | list[float],
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap interval for the mean of ``values`` (see module docstring)."""
    _check_resampling(n_resamples, confidence)
    scores = _as_scores(values, "values")
    if scores.size == 0:
        raise ValueError("values must not be empty")
    means = bootstrap_means(scores, n_resamples, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return ConfidenceInterval(float(scores.mean()), float(low), float(high), confidence)


def _sign_flip_extremes(differences: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[int, int]:
    """(count of sign vectors at least as extreme as observed, number of sign vectors)."""
    n = differences.shape[0]
    observed = abs(differences.mean())
    if 2**n <= n_resamples:  # exact: enumerate every sign vector
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        means = np.abs(((1 - 2 * bits) * differences).mean(axis=1))
        return int((means >= observed - _ABS_TOLERANCE).sum()), 2**n
    extreme = 0
    for size in _block_sizes(n_resamples, n):
        signs = rng.integers(0, 2, size=(size, n)) * 2 - 1
        means = np.abs((signs * differences).mean(axis=1))
        extreme += int((means >= observed - _ABS_TOLERANCE).sum())
    return extreme + 1, n_resamples + 1


def paired_randomization_test(
    a: np.ndarray | list[float],
    b: np.ndarray | list[float],
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedTest:
    """Two-sided paired sign-flip test of ``mean(a) == mean(b)`` plus a bootstrap CI of the gap."""
    _check_resampling(n_resamples, confidence)
    first, second = _as_scores(a, "a"), _as_scores(b, "b")
    if first.shape != second.shape:
        raise ValueError(f"a and b must score the same queries, got {first.size} and {second.size}")
    if first.size == 0:
        raise ValueError("a and b must not be empty")
    differences = first - second
    rng = np.random.default_rng(seed)
    extreme, total = _sign_flip_extremes(differences, n_resamples, rng)
    interval = bootstrap_ci(differences, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return PairedTest(float(differences.mean()), min(1.0, extreme / total), interval, int(first.size))
