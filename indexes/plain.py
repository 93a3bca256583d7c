"""Exact scoring for every vector kind: the small-segment path and the test oracle.

Internal scores are higher-is-better and equal Qdrant's internal ("core") similarities
(sparse and MaxSim exact scoring live in indexes/sparse and indexes/multivector):
- Cosine: dot product of unit vectors (the engine normalises stored vectors and queries);
- Dot: dot product;
- Euclid: minus the squared euclidean distance (displayed as sqrt(|s|));
- Manhattan: minus the L1 distance (displayed as |s|).
"""

from __future__ import annotations

import math

import numpy as np

from indexes.base import Hits, top_k

_CHUNK_BYTES = 64 << 20  # bound temporaries of Euclid/Manhattan differences


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero), as Qdrant stores Cosine vectors."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:  # a single query: the cheap path, same arithmetic as below
        square = float(np.dot(matrix, matrix))
        return matrix / np.float32(math.sqrt(square)) if square > 0 else np.zeros_like(matrix)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def dense_scores(vectors: np.ndarray, query: np.ndarray, distance: str) -> np.ndarray:
    """Internal similarity of `query` to every row of `vectors` (float32)."""
    query = np.asarray(query, dtype=np.float32)
    if distance in ("Cosine", "Dot"):
        return np.asarray(vectors @ query, dtype=np.float32)
    n = vectors.shape[0]
    out = np.empty(n, dtype=np.float32)
    step = max(1, _CHUNK_BYTES // max(1, 4 * vectors.shape[1]))
    for start in range(0, n, step):  # chunks of rows, not a loop over points
        diff = np.asarray(vectors[start:start + step], dtype=np.float32) - query
        if distance == "Euclid":
            out[start:start + step] = -np.einsum("ij,ij->i", diff, diff)
        else:
            out[start:start + step] = -np.abs(diff).sum(axis=1)
    return out


def dense_search(vectors: np.ndarray, query: np.ndarray, distance: str, limit: int,
                 allowed: np.ndarray | None = None) -> Hits:
    """Exact top-k; scores only the allowed rows when few are allowed."""
    if allowed is not None:
        rows = np.flatnonzero(allowed)
        if rows.size == 0:
            return Hits.empty()
        if rows.size < vectors.shape[0] // 2:
            hits = top_k(dense_scores(vectors[rows], query, distance), limit, ties=True)
            return Hits(rows[hits.offsets], hits.scores)
    return top_k(dense_scores(vectors, query, distance), limit, allowed, ties=True)
