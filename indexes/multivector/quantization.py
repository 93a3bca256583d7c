"""Int8 scalar quantisation of token vectors (a 4x smaller in-RAM copy for first-stage scoring).

Per dimension k an interval [lo_k, hi_k] holding the central `quantile` share of that
dimension's values is fitted on a sample; a value is stored as

    c = clip(round((x - mid_k) / step_k), -127, 127),  mid_k = (lo_k + hi_k) / 2,
    step_k = (hi_k - lo_k) / 254

and decoded as x ~ mid_k + step_k * c. Scoring decodes chunk by chunk (`decode`) and runs the
same MaxSim as the originals; the index then rescores its best candidates exactly.

The copy owns its row layout (`starts`, `ends` per offset, taken at build time), so it stays
valid when the original store is compacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexes.multivector.store import MultiVectorStore, concatenated_ranges

_SAMPLE_ROWS = 65_536
_ENCODE_CHUNK = 65_536


@dataclass(frozen=True)
class Int8Tokens:
    """Int8 codes of every present token row of a store, with its own row layout."""

    codes: np.ndarray  # (T, dim) int8
    starts: np.ndarray  # int64 per offset
    ends: np.ndarray  # int64 per offset
    mid: np.ndarray  # (dim,) float32
    step: np.ndarray  # (dim,) float32

    @classmethod
    def build(cls, store: MultiVectorStore, quantile: float = 0.99, seed: int = 0) -> "Int8Tokens":
        """Fit the per-dimension intervals on a seeded sample and encode every present row."""
        if not 0.5 <= quantile <= 1.0:
            raise ValueError(f"quantile must be in [0.5, 1.0], got {quantile}")
        present = store.present
        lengths = np.where(present, store.ends - store.starts, 0)
        rows = concatenated_ranges(store.starts[present], store.ends[present])
        rng = np.random.default_rng(seed)
        sample_rows = np.sort(rng.choice(rows, min(rows.size, _SAMPLE_ROWS), replace=False)) if rows.size else rows
        sample = np.asarray(store.tokens[sample_rows], dtype=np.float32)
        if sample.shape[0]:
            tail = (1.0 - quantile) / 2.0
            lo, hi = np.quantile(sample, [tail, 1.0 - tail], axis=0)
        else:
            lo = hi = np.zeros(store.dim)
        mid = ((lo + hi) / 2.0).astype(np.float32)
        step = np.maximum((hi - lo) / 254.0, 1e-12).astype(np.float32)
        codes = np.empty((rows.size, store.dim), dtype=np.int8)
        for begin in range(0, rows.size, _ENCODE_CHUNK):  # loop over chunks, bounds peak memory
            block = np.asarray(store.tokens[rows[begin : begin + _ENCODE_CHUNK]], dtype=np.float32)
            codes[begin : begin + _ENCODE_CHUNK] = np.clip(np.rint((block - mid) / step), -127, 127)
        ends = np.cumsum(lengths)
        return cls(codes, ends - lengths, ends, mid, step)

    def decode(self, block: np.ndarray) -> np.ndarray:
        """float32 approximation of a block of code rows."""
        out = block.astype(np.float32)
        out *= self.step
        out += self.mid
        return out

    def save(self, directory: Path) -> None:
        for name in ("codes", "starts", "ends", "mid", "step"):
            np.save(directory / f"int8_{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> "Int8Tokens":
        return cls(*(np.load(directory / f"int8_{name}.npy") for name in ("codes", "starts", "ends", "mid", "step")))
