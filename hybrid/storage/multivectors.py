"""Multivector storage of a segment: a flat token matrix plus per-offset [start, end) rows.

Scored with MaxSim through the indexes.multivector kernels; internal scores are plain.py's
(Euclid: minus the sum of squared distances of the best token pairs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from hybrid.config import DenseSpec
from hybrid.storage.vectors import _RaggedStore
from indexes import plain
from indexes.base import Hits, top_k


class MultiStore(_RaggedStore):
    kind = "multivector"

    def __init__(self, spec: DenseSpec, flat: Optional[tuple] = None, starts=None, ends=None) -> None:
        super().__init__(flat or (np.zeros((0, spec.size), np.float32),), starts, ends)
        self.spec = spec

    def write(self, offsets: np.ndarray, lengths: np.ndarray, data: np.ndarray) -> None:
        if self.spec.distance == "Cosine":
            data = plain.normalize_rows(data)
        self._append_rows(offsets, lengths, (data,))

    def get(self, offset: int) -> list[list[float]]:
        return np.asarray(self.flat[0][self.starts[offset]: self.ends[offset]], dtype=np.float32).tolist()

    def prepare_query(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32)
        return plain.normalize_rows(query) if self.spec.distance == "Cosine" else query

    def score(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """MaxSim (indexes.multivector kernels) in plain.py's internal units."""
        from indexes.multivector.maxsim import score_ranges

        if offsets.size == 0:
            return np.zeros(0, np.float32)
        scores = score_ranges(query, self.flat[0], self.starts[offsets], self.ends[offsets], self.spec.distance)
        if self.spec.distance == "Euclid":  # the kernels report -sqrt(-raw); inside we keep raw
            scores = -np.square(scores)
        return np.asarray(scores, dtype=np.float32)

    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray, size: int, **_: Any) -> Hits:
        candidates = np.flatnonzero(allowed[:size] & self.present[:size])
        if candidates.size == 0:
            return Hits.empty()
        hits = top_k(self.score(query, candidates), limit)
        return Hits(candidates[hits.offsets], hits.scores)

    @classmethod
    def load(cls, spec: DenseSpec, directory: Path, stem: str) -> "MultiStore":
        flat, starts, ends = cls._load_parts(directory, stem, 1, mmap=spec.on_disk)
        return cls(spec, flat, starts, ends)
