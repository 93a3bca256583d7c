"""MultiVectorIndex: exact MaxSim search/rerank over a store, with optional approximate stages.

Search pipeline (each stage optional, chosen by `MultiVectorConfig`):
  centroids -> n_candidates by centroid interaction (PLAID-like)  (approximate="centroids")
  int8      -> ceil(limit * oversampling) by quantised MaxSim     (quantization="int8")
  exact MaxSim on the original tokens -> top `limit`
With neither stage, or `exact=True`, or when the allowed offsets are few (at most
`n_candidates`), search is exhaustive exact MaxSim. Offsets written after `build` (their
store stamp is newer) skip the approximate stages and are always scored exactly, so the index
stays correct while its store changes; rebuild to make them approximate-searchable.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Hits, top_k
from indexes.multivector import _kernels
from indexes.multivector.approx import CentroidIndex
from indexes.multivector.maxsim import check_distance, maxsim, normalizes_rows, prepare_query, score_ranges, score_stored
from indexes.multivector.quantization import Int8Tokens
from indexes.multivector.store import MultiVectorStore

APPROXIMATIONS = (None, "centroids")
QUANTIZATIONS = (None, "int8")


@dataclass(frozen=True)
class MultiVectorConfig:
    """How a multivector index searches; defaults give exact MaxSim.

    approximate: None (exhaustive) or "centroids" (k-means token centroids + inverted lists,
        PLAID-style; costs one k-means and one assignment pass at build, about 8 bytes per
        distinct (document, centroid) pair of RAM).
    n_centroids: centroids for "centroids"; None picks the power of two nearest to
        sqrt(stored tokens), clipped to [16, 1024].
    kmeans_iterations, kmeans_sample: Lloyd rounds and sampled token rows for training.
    n_probe: centroids probed per query token; more raises recall and latency.
    n_candidates: documents kept by the centroid estimate for refinement; also the size under
        which an allowed set is searched exhaustively.
    quantization: None or "int8" (per-dimension scalar codes: 4x smaller RAM copy used for
        the first scoring pass; the best are rescored on the originals).
    quantile: share of each dimension's values inside the int8 interval (outliers clip).
    oversampling: the int8 pass keeps ceil(limit * oversampling) documents for rescoring.
    seed: seeds k-means and the samples, so builds are reproducible.
    """

    approximate: str | None = None
    n_centroids: int | None = None
    kmeans_iterations: int = 8
    kmeans_sample: int = 65_536
    n_probe: int = 8
    n_candidates: int = 256
    quantization: str | None = None
    quantile: float = 0.99
    oversampling: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.approximate not in APPROXIMATIONS:
            raise ValueError(f"approximate must be one of {APPROXIMATIONS}, got {self.approximate!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {self.quantization!r}")
        for field in ("kmeans_iterations", "kmeans_sample", "n_probe", "n_candidates"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if self.n_centroids is not None and self.n_centroids < 1:
            raise ValueError(f"n_centroids must be >= 1 or None, got {self.n_centroids}")
        if self.oversampling < 1.0:
            raise ValueError(f"oversampling must be >= 1, got {self.oversampling}")
        if not 0.5 <= self.quantile <= 1.0:
            raise ValueError(f"quantile must be in [0.5, 1.0], got {self.quantile}")

    def centroid_count(self, n_tokens: int) -> int:
        if self.n_centroids is not None:
            return self.n_centroids
        return int(np.clip(2 ** round(math.log2(max(n_tokens, 1)) / 2), 16, 1024))


class MultiVectorIndex:
    """MaxSim search and rerank over one multivector name of one segment."""

    def __init__(self, store: MultiVectorStore, distance: str, config: MultiVectorConfig | None = None) -> None:
        self.store = store
        self.distance = check_distance(distance)
        self.config = config or MultiVectorConfig()
        self.centroids: CentroidIndex | None = None
        self.int8: Int8Tokens | None = None
        self.built_sequence = 0  # store.sequence when the approximate structures were built

    @classmethod
    def build(cls, store: MultiVectorStore, distance: str, config: MultiVectorConfig | None = None) -> "MultiVectorIndex":
        """Index over `store` with the structures `config` asks for (none: exact only)."""
        index = cls(store, distance, config)
        cfg = index.config
        index.built_sequence = store.sequence
        if store.count == 0:
            return index
        if cfg.approximate == "centroids":
            n_tokens = int((store.ends - store.starts)[store.present].sum())
            index.centroids = CentroidIndex.build(store, index.distance, cfg.centroid_count(n_tokens),
                                                  cfg.kmeans_iterations, cfg.kmeans_sample, cfg.seed)
        if cfg.quantization == "int8":
            index.int8 = Int8Tokens.build(store, cfg.quantile, cfg.seed)
        return index

    def score(self, query: Any, offsets: Any) -> np.ndarray:
        """Exact MaxSim of `query` against `offsets` (float32; -inf where no matrix is stored)."""
        return maxsim(query, self.store, offsets, self.distance)

    def search(self, query: Any, limit: int, allowed: np.ndarray | None = None, exact: bool = False,
               n_candidates: int | None = None, oversampling: float | None = None,
               quantized: bool = True) -> Hits:
        """Best `limit` offsets among `allowed` (None: all) by MaxSim, descending.

        Per-search overrides of the config: `n_candidates`, `oversampling`; `quantized=False`
        skips the int8 pass (Qdrant's `quantization.ignore`).
        """
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
            raise TypeError(f"limit must be an integer, got {type(limit).__name__}")
        q = prepare_query(query, self.store.dim, self.distance, self.store.datatype)
        return self.search_prepared(q, limit, allowed, exact, n_candidates, oversampling, quantized)

    def search_prepared(self, q: np.ndarray, limit: int, allowed: np.ndarray | None = None, exact: bool = False,
                        n_candidates: int | None = None, oversampling: float | None = None,
                        quantized: bool = True) -> Hits:
        """`search` for a query already from `prepare_query(..., store.datatype)` (preparing twice
        is not idempotent for uint8 storage: a normalised query would truncate to zeros)."""
        n_candidates = self.config.n_candidates if n_candidates is None else int(n_candidates)
        oversampling = self.config.oversampling if oversampling is None else float(oversampling)
        if n_candidates < 1 or oversampling < 1.0:
            raise ValueError(f"n_candidates must be >= 1 and oversampling >= 1, got {n_candidates}, {oversampling}")
        mask = self.store.present.copy()
        if allowed is not None:
            allowed = np.asarray(allowed)
            if allowed.dtype != np.bool_ or allowed.ndim != 1 or allowed.shape[0] < mask.shape[0]:
                raise TypeError("allowed must be a flat boolean array covering every offset")
            mask &= allowed[: mask.shape[0]]
        if limit <= 0 or not mask.any():
            return Hits.empty()
        int8 = self.int8 if quantized else None
        approximate = self.centroids is not None or int8 is not None
        if exact or not approximate or np.count_nonzero(mask) <= max(n_candidates, limit):
            return self._exact(q, np.flatnonzero(mask), limit)
        fresh = mask & (self.store.stamps > self.built_sequence)
        clean = mask & ~fresh
        candidates = self._first_stage(q, clean, limit, n_candidates, oversampling, int8)
        if candidates is None:
            return self._exact(q, np.flatnonzero(mask), limit)
        return self._exact(q, np.union1d(candidates, np.flatnonzero(fresh)), limit)

    def _first_stage(self, q: np.ndarray, clean: np.ndarray, limit: int, n_candidates: int,
                     oversampling: float, int8: Int8Tokens | None) -> np.ndarray | None:
        """Candidate offsets among `clean` (built, unchanged, allowed); None: go exhaustive."""
        if self.centroids is not None:
            candidates = self.centroids.candidates(q, self.distance, self.config.n_probe, clean,
                                                   max(n_candidates, limit))
            if candidates.size < limit:
                return None
        else:
            candidates = np.flatnonzero(clean)
        if int8 is not None:
            rough = score_ranges(q, int8.codes, int8.starts[candidates], int8.ends[candidates], self.distance,
                                 int8.decode, normalizes_rows(self.store.datatype, self.distance))
            candidates = candidates[top_k(rough, math.ceil(limit * oversampling)).offsets]
        return candidates

    def _exact(self, q: np.ndarray, offsets: np.ndarray, limit: int) -> Hits:
        scores = score_stored(q, self.store, offsets, self.distance)
        best = top_k(scores, limit)
        return Hits(offsets[best.offsets].astype(np.int64), best.scores)

    # ----------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the index structures (not the store: save it with `store.save`)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        if self.centroids is not None:
            self.centroids.save(path)
        if self.int8 is not None:
            self.int8.save(path)
        meta = {"distance": self.distance, "config": asdict(self.config), "built_sequence": self.built_sequence,
                "centroids": self.centroids is not None, "int8": self.int8 is not None}
        temporary = path / "multivector_index.json.tmp"
        temporary.write_text(json.dumps(meta))
        os.replace(temporary, path / "multivector_index.json")

    @classmethod
    def load(cls, directory: str | os.PathLike[str], store: MultiVectorStore) -> "MultiVectorIndex":
        """Reopen an index saved with `save` over the (separately loaded) `store`."""
        path = Path(directory)
        meta = json.loads((path / "multivector_index.json").read_text())
        index = cls(store, meta["distance"], MultiVectorConfig(**meta["config"]))
        index.built_sequence = int(meta["built_sequence"])
        index.centroids = CentroidIndex.load(path) if meta["centroids"] else None
        index.int8 = Int8Tokens.load(path) if meta["int8"] else None
        return index

    @staticmethod
    def warm_up() -> None:
        """Compile the numba kernels now rather than on the first Manhattan query."""
        _kernels.warm_up()
