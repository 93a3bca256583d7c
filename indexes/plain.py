"""Exact scoring for every vector kind: the small-segment path and the test oracle.

Internal scores are higher-is-better and equal Qdrant's internal ("core") similarities:
- Cosine: dot product of unit vectors (the engine normalises stored vectors and queries);
- Dot: dot product;
- Euclid: minus the squared euclidean distance (displayed as sqrt(|s|));
- Manhattan: minus the L1 distance (displayed as |s|).
MaxSim sums, over query tokens, the best internal similarity among a document's tokens.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from indexes.base import Hits, top_k

_CHUNK_BYTES = 64 << 20  # bound temporaries of Euclid/Manhattan differences


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero), as Qdrant stores Cosine vectors."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:  # a single query: the cheap path, same arithmetic as below
        norm = np.sqrt(np.dot(matrix, matrix))
        return matrix / norm if norm > 0 else np.zeros_like(matrix)
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


def sparse_matrix(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """Rows = offsets, columns = sparse dimensions."""
    n_cols = int(indices.max()) + 1 if indices.size else 1
    return sp.csr_matrix((values, indices, indptr), shape=(n_rows, n_cols))


def sparse_scores(matrix: sp.csr_matrix, q_indices: np.ndarray, q_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dot products, overlap flags) of a sparse query with every row of `matrix`.

    Qdrant only returns points that share at least one dimension with the query.
    """
    keep = q_indices < matrix.shape[1]
    q = sp.csr_matrix((q_values[keep], q_indices[keep], [0, int(keep.sum())]), shape=(1, matrix.shape[1]))
    product = (matrix @ q.T).tocoo()
    scores = np.zeros(matrix.shape[0], dtype=np.float32)
    scores[product.row] = product.data
    # a row overlaps when any of its columns is in the query, even if the product is 0
    in_query = np.zeros(matrix.shape[1], dtype=bool)
    in_query[q_indices[keep]] = True
    row_of_entry = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    touched = np.bincount(row_of_entry[in_query[matrix.indices]], minlength=matrix.shape[0]) > 0
    return scores, touched


def sparse_search(matrix: sp.csr_matrix, q_indices: np.ndarray, q_values: np.ndarray, limit: int,
                  allowed: np.ndarray | None = None) -> Hits:
    scores, touched = sparse_scores(matrix, q_indices, q_values)
    mask = touched if allowed is None else touched & allowed[: touched.size]
    return top_k(scores, limit, mask, ties=True)


def maxsim_scores(tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, query: np.ndarray,
                  distance: str) -> np.ndarray:
    """MaxSim of a query matrix against documents given as token row ranges [starts, ends).

    Documents must be non-empty. Computed as one (tokens x query) similarity matrix per chunk,
    a per-document max via `np.maximum.reduceat`, then a sum over query tokens.
    """
    query = np.asarray(query, dtype=np.float32)
    out = np.zeros(starts.size, dtype=np.float32)
    if starts.size == 0:
        return out
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    rows = _ranges(s, e)
    bounds = np.concatenate(([0], np.cumsum(e - s)))[:-1]
    sims = np.empty((rows.size, query.shape[0]), dtype=np.float32)
    step = max(1, _CHUNK_BYTES // max(1, 4 * query.shape[0] * query.shape[1]))
    for start in range(0, rows.size, step):
        block = np.asarray(tokens[rows[start:start + step]], dtype=np.float32)
        if distance in ("Cosine", "Dot"):
            sims[start:start + step] = block @ query.T
        elif distance == "Euclid":
            diff = block[:, None, :] - query[None, :, :]
            sims[start:start + step] = -np.einsum("ijk,ijk->ij", diff, diff)
        else:
            sims[start:start + step] = -np.abs(block[:, None, :] - query[None, :, :]).sum(axis=2)
    best = np.maximum.reduceat(sims, bounds, axis=0)
    out[order] = best.sum(axis=1)
    return out


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, e) for each pair, vectorised."""
    lengths = ends - starts
    total = int(lengths.sum())
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total) + shift
