"""MMR (`{"nearest": .., "mmr": {"diversity", "candidates_limit"}}`) over nearest candidates.

The candidates are the `candidates_limit` nearest points (default: the request limit); MMR
(`fusion.mmr`) needs their similarity to the query (their raw scores) and the matrix of raw
similarities between them, `pairwise[i, j] = sim(query = candidate i, point = candidate j)`,
computed here in one vectorised step per vector kind:

- dense: `V V^T` (Cosine/Dot), negated squared L2 (Euclid) or L1 (Manhattan) distances;
- sparse: `S S^T` with the candidates as a CSR matrix (no overlap scores 0);
- multivector: one token-by-token matrix, then max over the tokens of j (`maximum.reduceat`
  along columns) and a sum over the tokens of i (`add.reduceat` along rows) = MaxSim(i, j).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import cdist

from hybrid.query.search import Candidates
from hybrid.query.scoring import row_ranges


def mmr_rerank(cand: Candidates, using: str, kind: str, distance: Optional[str], limit: int,
               diversity: Optional[float]) -> Candidates:
    """`limit` of the ranked nearest `cand`, picked by MMR; scores stay the query similarities."""
    from fusion.mmr import mmr

    if len(cand) == 0:
        return cand
    try:
        picked, _ = mmr(cand.score, pairwise_similarities(cand, using, kind, distance), limit, diversity)
    except (TypeError, ValueError) as exc:
        from hybrid.errors import ValidationError

        raise ValidationError("query.mmr", str(exc)) from None
    return cand.take(picked)


def pairwise_similarities(cand: Candidates, using: str, kind: str, distance: Optional[str]) -> np.ndarray:
    if kind == "sparse":
        indptr, indices, values = _ragged(cand, using, 2)
        matrix = sp.csr_matrix((values[1], indices, indptr), shape=(len(cand), int(indices.max(initial=0)) + 1))
        return np.asarray((matrix @ matrix.T).toarray(), dtype=np.float32)
    if kind == "multivector":
        indptr, _, parts = _ragged(cand, using, 1)
        tokens = np.asarray(parts[0], dtype=np.float32)
        sims = _dense_pairwise(tokens, distance)
        best = np.maximum.reduceat(sims, indptr[:-1], axis=1)  # max over the tokens of each point j
        return np.add.reduceat(best, indptr[:-1], axis=0).astype(np.float32)  # sum over tokens of i
    vectors = np.empty((len(cand), cand.segs[0].vectors[using].data.shape[1]), dtype=np.float32)
    for i, seg in enumerate(cand.segs):
        rows = np.flatnonzero(cand.seg == i)
        vectors[rows] = seg.vectors[using].data[cand.off[rows]]
    return _dense_pairwise(vectors, distance)


def _dense_pairwise(vectors: np.ndarray, distance: Optional[str]) -> np.ndarray:
    if distance == "Euclid":
        return -cdist(vectors, vectors, "sqeuclidean").astype(np.float32)
    if distance == "Manhattan":
        return -cdist(vectors, vectors, "cityblock").astype(np.float32)
    return vectors @ vectors.T


def _ragged(cand: Candidates, using: str, n_parts: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Ragged rows (sparse or multivector) of the candidates, in candidate order: (indptr, first
    part, all parts)."""
    lengths = np.zeros(len(cand), dtype=np.int64)
    for i, seg in enumerate(cand.segs):
        rows = np.flatnonzero(cand.seg == i)
        store = seg.vectors[using]
        lengths[rows] = store.ends[cand.off[rows]] - store.starts[cand.off[rows]]
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    parts: list[np.ndarray] = []
    for p in range(n_parts):
        first = cand.segs[0].vectors[using].flat[p]
        out = np.empty((int(indptr[-1]), *first.shape[1:]), dtype=first.dtype)
        for i, seg in enumerate(cand.segs):
            rows = np.flatnonzero(cand.seg == i)
            store = seg.vectors[using]
            src = row_ranges(store.starts[cand.off[rows]], lengths[rows])
            dst = row_ranges(indptr[rows], lengths[rows])
            out[dst] = store.flat[p][src]
        parts.append(out)
    return indptr, parts[0], parts
