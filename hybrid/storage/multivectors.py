"""Multivector storage of a segment: a flat token matrix plus per-offset [start, end) rows.

Rows are kept in the name's `datatype`: float32, float16, or uint8 (a saturating cast, as
Qdrant's `as u8`). Cosine float rows are normalised on write; uint8 rows are stored raw and
normalised when scored, and uint8 queries are cast like the rows (`indexes.multivector.maxsim`).
A sealed segment loads its token matrix as an `np.memmap` when the name is `on_disk`.

Scores are plain.py's internal units: MaxSim for Cosine and Dot, and for Euclid minus the sum
of the best squared token distances (`hybrid.query.search.display` takes the root at the edge).

Search:
- appendable segments, `exact` requests, and allowed sets whose tokens weigh less than the
  name's hnsw `full_scan_threshold` (KB; Qdrant's rule for choosing a plain scan): exhaustive
  MaxSim over the allowed points;
- sealed segments otherwise: the `indexes.multivector.MultiVectorIndex` that `build_index`
  made when sealing (saved beside the segment, reopened by `open_index`).

Configuration, from standard Qdrant fields (so qdrant-client's create_collection is enough):
- `hnsw_config.m > 0` (the default 16): sealed segments whose tokens weigh more than
  `full_scan_threshold` get the approximate first stage.
  Qdrant builds an HNSW graph over documents with MaxSim as the distance; we build token
  centroids with inverted lists (PLAID-like; `indexes.multivector.approx`), which beats
  exhaustive MaxSim at a fraction of the build cost. `m = 0`: exact search only.
- `quantization_config.scalar` (int8, `quantile`): an int8 copy of the tokens scores the first
  pass; its best `ceil(limit * oversampling)` are rescored on the stored rows (always: Qdrant's
  `rescore=false` is not honoured, scores are exact).
- search params: `exact` -> exhaustive; `hnsw_ef` -> documents refined exactly after the
  centroid stage (default 256); `quantization.ignore` / `quantization.oversampling`.
- Extension: a `multivector_index` object in the vector params, e.g.
  `{"type": "centroids", "n_probe": 16, "n_candidates": 512}` or `{"type": "exact"}`, overrides
  the stage choice and tunes it (fields of `indexes.multivector.MultiVectorConfig`: n_centroids,
  n_probe, n_candidates, kmeans_iterations, kmeans_sample, seed). It is read when the wire
  model carries it (qdrant-client's own models forbid extra keys: send it as JSON or a dict).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from hybrid.config import DenseSpec
from hybrid.storage.vectors import _RaggedStore
from hybrid.multivector_index import index_config
from indexes.base import Hits, top_k
from indexes.multivector import MultiVectorIndex, MultiVectorStore
from indexes.multivector.maxsim import (
    normalize_tokens,
    normalizes_rows,
    prepare_query,
    score_ranges,
)
from indexes.multivector.store import DATATYPES

class MultiStore(_RaggedStore):
    """Token matrices of one multivector name in one segment (flat[0] holds the rows)."""

    kind = "multivector"

    def __init__(self, spec: DenseSpec, flat: Optional[tuple] = None, starts=None, ends=None) -> None:
        if spec.datatype not in DATATYPES:
            raise ValueError(f"vectors.{spec.name}.datatype: expected one of {sorted(DATATYPES)}, got {spec.datatype!r}")
        super().__init__(flat or (np.zeros((0, spec.size), DATATYPES[spec.datatype]),), starts, ends)
        self.spec = spec
        self.index: Optional[MultiVectorIndex] = None  # sealed segments, when index_config asks for one

    # ------------------------------------------------------------------ writes and reads
    def write(self, offsets: np.ndarray, lengths: np.ndarray, data: np.ndarray) -> None:
        datatype = self.spec.datatype
        if datatype == "uint8":
            data = np.clip(data, 0, 255)
        elif self.spec.distance == "Cosine":
            data = normalize_tokens(data)
        self._append_rows(offsets, lengths, (np.asarray(data).astype(DATATYPES[datatype], copy=False),))

    def get(self, offset: int) -> list[list[float]]:
        return np.asarray(self.flat[0][self.starts[offset]: self.ends[offset]], dtype=np.float32).tolist()

    def tokens_view(self) -> MultiVectorStore:
        """The rows as an `indexes.multivector` store (read-only, no copy)."""
        n = self.starts.shape[0]
        return MultiVectorStore.view(self.flat[0][: self.used], self.starts[:n], self.ends[:n], self.spec.name)

    # ------------------------------------------------------------------ scoring
    def prepare_query(self, query: np.ndarray) -> np.ndarray:
        """float32 rows; cast like uint8 storage, then normalised for Cosine."""
        return prepare_query(query, self.spec.size, self.spec.distance, self.spec.datatype)

    def score(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Exact MaxSim of a prepared query against present `offsets` (internal units)."""
        if offsets.size == 0:
            return np.zeros(0, np.float32)
        return score_ranges(query, self.flat[0], self.starts[offsets], self.ends[offsets], self.spec.distance,
                            normalize_rows=normalizes_rows(self.spec.datatype, self.spec.distance), raw=True)

    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray, size: int, exact: bool = False,
               ef: Optional[int] = None, ignore_quantization: bool = False, oversampling: Optional[float] = None,
               **_: Any) -> Hits:
        mask = allowed[:size] & self.present[:size]
        if self.index is not None and not exact and not self._full_scan(mask):
            hits = self.index.search_prepared(query, limit, mask, n_candidates=ef, quantized=not ignore_quantization,
                                              oversampling=None if oversampling is None else max(oversampling, 1.0))
            scores = -np.square(hits.scores) if self.spec.distance == "Euclid" else hits.scores
            return Hits(hits.offsets, scores.astype(np.float32, copy=False))
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return Hits.empty()
        hits = top_k(self.score(query, candidates), limit, ties=True)
        return Hits(candidates[hits.offsets], hits.scores)

    def _full_scan(self, mask: np.ndarray) -> bool:
        """Qdrant's plain-search rule: the allowed points' tokens weigh under full_scan_threshold KB."""
        tokens = int((self.ends[: mask.shape[0]] - self.starts[: mask.shape[0]])[mask].sum())
        return tokens * self.spec.size * self.flat[0].itemsize < self.spec.hnsw.full_scan_threshold * 1024

    # ------------------------------------------------------------------ sealed segments
    def build_index(self) -> None:
        """The sealed segment's MaxSim index, as `index_config` asks; none for exact-only names
        and for segments that every search would scan in full (under full_scan_threshold)."""
        config = index_config(self.spec)
        if config is None or self._full_scan(self.present):
            self.index = None
            return
        self.index = MultiVectorIndex.build(self.tokens_view(), self.spec.distance, config)

    def open_index(self, directory: Path) -> MultiVectorIndex:
        """Reopen the index saved beside this (loaded) store."""
        return MultiVectorIndex.load(directory, self.tokens_view())

    def move_to_disk(self, directory: Path, stem: str) -> None:
        """on_disk: once the sealed files are written, serve token rows from a memmap of them
        (centroids and int8 codes stay in RAM), so resident memory drops. A sealed store is
        tight in offset order, so the saved rows have the same layout as the ones in RAM."""
        if not self.spec.on_disk or isinstance(self.flat[0], np.memmap):
            return
        (tokens,), _, _ = self._load_parts(directory, stem, 1, mmap=True)
        if tokens.shape[0] != self.used:  # not tight (never for a sealed store): keep RAM rows
            return
        self.flat = [tokens]
        if self.index is not None:
            self.index.store = self.tokens_view()

    @classmethod
    def load(cls, spec: DenseSpec, directory: Path, stem: str, mmap: bool = True) -> "MultiStore":
        """`mmap`: serve on_disk token rows from a memmap of the file (False: read into RAM)."""
        flat, starts, ends = cls._load_parts(directory, stem, 1, mmap=mmap and spec.on_disk)
        return cls(spec, flat, starts, ends)
