"""Scalar int8 quantization of dense vectors (Qdrant's `scalar` quantization).

One interval [lo, hi] is fitted over all coordinates (globally, as Qdrant does): it holds the
central `quantile` share of the values. A coordinate is stored as the code
    c = clip(round((x - o) / a), -127, 127),  o = (lo + hi) / 2,  a = (hi - lo) / 254,
so x ~ o + a c. Queries stay float32 (asymmetric scoring, no query rounding error) and are
mapped once (`_kernels.prepare_query`) so that a plain kernel similarity over the codes is an
affine function of the true score:
    DOT: q.x ~ a * sum(q_i c_i) + o * sum(q_i)
    L2:  -|q - x|^2 ~ a^2 * -sum(((q_i - o) / a - c_i)^2)
    L1:  -|q - x|_1 ~ a * -sum(|(q_i - o) / a - c_i|)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rows encoded per step, so encoding an on-disk matrix needs little extra memory.
_ENCODE_CHUNK = 65_536
#: Values sampled to estimate the quantile interval.
_SAMPLE_VALUES = 2_000_000


@dataclass(frozen=True)
class ScalarQuantization:
    """Int8 scalar quantization config.

    quantile: share of coordinate values inside the fitted interval (outliers are clipped);
        None keeps the full min..max range. Qdrant's default is None, 0.99 is common.
    """

    quantile: float | None = None

    def __post_init__(self) -> None:
        if self.quantile is not None and not 0.5 <= self.quantile <= 1.0:
            raise ValueError(f"quantile must be in [0.5, 1.0], got {self.quantile}")


@dataclass(frozen=True)
class Int8Codes:
    """Fitted quantizer and the codes of every stored row."""

    codes: np.ndarray  # (n, dim) int8
    offset: float
    step: float

    @classmethod
    def fit(cls, vectors: np.ndarray, config: ScalarQuantization, seed: int = 0) -> "Int8Codes":
        """Fit the interval on a seeded sample of coordinates, then encode every row."""
        n, dim = vectors.shape
        lo, hi = _interval(vectors, config.quantile, seed)
        offset = (lo + hi) / 2.0
        step = (hi - lo) / 254.0 if hi > lo else 1.0
        codes = np.empty((n, dim), dtype=np.int8)
        for start in range(0, n, _ENCODE_CHUNK):
            block = np.asarray(vectors[start:start + _ENCODE_CHUNK], dtype=np.float32)
            codes[start:start + block.shape[0]] = np.clip(
                np.rint((block - offset) / step), -127, 127)
        return cls(codes=codes, offset=float(offset), step=float(step))


def _interval(vectors: np.ndarray, quantile: float | None, seed: int) -> tuple[float, float]:
    """[lo, hi]: the exact min..max, or the central `quantile` share of a seeded sample."""
    n, dim = vectors.shape
    if n == 0 or dim == 0:
        return 0.0, 0.0
    if quantile is None or quantile >= 1.0:
        blocks = [vectors[s:s + _ENCODE_CHUNK] for s in range(0, n, _ENCODE_CHUNK)]
        return (float(min(block.min() for block in blocks)), float(max(block.max() for block in blocks)))
    rows = min(n, max(1, _SAMPLE_VALUES // dim))
    picked = np.sort(np.random.default_rng(seed).choice(n, size=rows, replace=False))
    sample = np.asarray(vectors[picked], dtype=np.float32).ravel()
    tail = (1.0 - quantile) / 2.0
    lo, hi = np.quantile(sample, [tail, 1.0 - tail])
    return float(lo), float(hi)
