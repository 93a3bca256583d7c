"""MaxSim (late interaction) scoring of a query matrix against stored token matrices.

For a query Q (q tokens) and a document D, Qdrant defines (`multi_distances.py` of its local
mode, and `lib/segment` on the server)

    raw(Q, D) = sum_i max_j sim(Q_i, D_j)

with the per-token similarity of the collection's distance:

    Cosine, Dot:  sim = Q_i . D_j     (Cosine: Q rows normalised here, D rows by the engine)
    Euclid:       sim = -|Q_i - D_j|^2
    Manhattan:    sim = -|Q_i - D_j|_1

and reports `raw` for Cosine/Dot, `sqrt(|raw|)` for Euclid and `|raw|` for Manhattan (the
latter two are distances, lower is better). Scores here are higher-is-better:

    Cosine, Dot: raw      Euclid: -sqrt(-raw)      Manhattan: raw (= -sum_i min_j |Q_i - D_j|_1)

so the API edge converts exactly as for dense vectors: negate Euclid and Manhattan scores.

Hot loop: documents are taken in chunks of about `CHUNK_TOKENS` rows; a chunk's rows are a
slice of the flat token matrix when its documents are adjacent, else one vectorised gather.
Then one BLAS product `Q @ rows.T` (q, t), `np.maximum.reduceat` over each document's columns
and a sum over query tokens. Euclid uses |q - d|^2 = |q|^2 + |d|^2 - 2 q.d on the same product;
Manhattan has no product form and uses a numba kernel.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from indexes.base import DISTANCES
from indexes.multivector import _kernels
from indexes.multivector.store import MultiVectorStore, concatenated_ranges

#: Rows scored per BLAS call: the (q, t) similarity block stays cache-sized (2 MiB at q = 32).
CHUNK_TOKENS = 16_384
#: Qdrant's guard against dividing by a zero norm (f32::EPSILON).
EPSILON = np.float32(1.1920929e-7)

Decode = Callable[[np.ndarray], np.ndarray]


def check_distance(distance: str) -> str:
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    return distance


def normalize_tokens(matrix: Any) -> np.ndarray:
    """Each row divided by its L2 norm (zero rows by EPSILON, as Qdrant): float32 copy."""
    rows = np.array(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    rows /= np.where(norms != 0.0, norms, EPSILON)
    return rows


def prepare_query(query: Any, dim: int, distance: str) -> np.ndarray:
    """Validated float32 C-contiguous (q, dim) query; rows normalised for Cosine."""
    check_distance(distance)
    try:
        rows = np.asarray(query, dtype=np.float32)
    except (ValueError, TypeError):
        raise ValueError("query: multivector must be a list of equal-length number lists") from None
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError("query: multivector must be a non-empty matrix (list of token vectors)")
    if rows.shape[1] != dim:
        raise ValueError(f"query: vector dimension error: expected dim {dim}, got {rows.shape[1]}")
    if not np.isfinite(rows).all():
        raise ValueError("query: values must be finite (no NaN or infinity)")
    if distance == "Cosine":
        rows = normalize_tokens(rows)
    return np.ascontiguousarray(rows)


def maxsim(query: Any, store: MultiVectorStore, offsets: Any, distance: str) -> np.ndarray:
    """MaxSim scores (float32, higher is better) of `query` against each of `offsets`.

    Offsets that hold no matrix (removed, never written, out of range) score -inf: the caller
    drops them, as Qdrant drops points without the vector.
    """
    q = prepare_query(query, store.dim, distance)
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or (offsets.size and not np.issubdtype(offsets.dtype, np.integer)):
        raise TypeError("offsets must be a flat integer array")
    offsets = offsets.astype(np.int64, copy=False)
    scores = np.full(offsets.shape[0], -np.inf, dtype=np.float32)
    inside = (offsets >= 0) & (offsets < len(store))
    valid = np.zeros(offsets.shape[0], dtype=np.bool_)
    valid[inside] = store.present[offsets[inside]]
    chosen = offsets[valid]
    scores[valid] = score_ranges(q, store.tokens, store.starts[chosen], store.ends[chosen], distance)
    return scores


def maxsim_all(query: Any, store: MultiVectorStore, distance: str) -> np.ndarray:
    """Exhaustive MaxSim: one score per offset slot of `store`, -inf where it holds no matrix."""
    q = prepare_query(query, store.dim, distance)
    present = np.flatnonzero(store.present)
    scores = np.full(len(store), -np.inf, dtype=np.float32)
    scores[present] = score_ranges(q, store.tokens, store.starts[present], store.ends[present], distance)
    return scores


def score_ranges(query: np.ndarray, tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 distance: str, decode: Decode | None = None) -> np.ndarray:
    """Scores of the documents whose rows are tokens[starts[k]:ends[k]] (every range non-empty).

    `query` comes from `prepare_query`. `decode` turns a block of stored rows into float32
    (default: a dtype conversion; the int8 quantizer passes its dequantisation).
    """
    n_docs = starts.shape[0]
    out = np.empty(n_docs, dtype=np.float32)
    if n_docs == 0:
        return out
    lengths = ends - starts
    cumulative = np.cumsum(lengths)
    cuts = np.searchsorted(cumulative, np.arange(CHUNK_TOKENS, cumulative[-1], CHUNK_TOKENS), side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [n_docs])))
    query_norms = np.einsum("ij,ij->i", query, query) if distance == "Euclid" else None
    for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # loop over chunks only
        chunk_starts, chunk_ends = starts[first:last], ends[first:last]
        if np.array_equal(chunk_starts[1:], chunk_ends[:-1]):  # adjacent documents: a slice
            block = tokens[chunk_starts[0] : chunk_ends[-1]]
            local_starts = chunk_starts - chunk_starts[0]
        else:
            block = tokens[concatenated_ranges(chunk_starts, chunk_ends)]
            local_starts = np.cumsum(lengths[first:last]) - lengths[first:last]
        block = decode(block) if decode is not None else np.asarray(block, dtype=np.float32)
        best = np.maximum.reduceat(token_similarity(query, block, distance), local_starts, axis=1)
        if query_norms is not None:  # best = max_j (2 q.d - |d|^2) -> min_j |q - d|^2
            best = np.maximum(query_norms[:, None] - best, 0.0)
        out[first:last] = best.sum(axis=0, dtype=np.float32)
    if distance == "Euclid":
        return -np.sqrt(out)
    return out


def token_similarity(query: np.ndarray, block: np.ndarray, distance: str) -> np.ndarray:
    """(q, t) token similarities; Euclid gives 2 q.d - |d|^2 (|q|^2 is added after the max)."""
    if distance == "Manhattan":
        return _kernels.negative_manhattan(query, np.ascontiguousarray(block, dtype=np.float32))
    products = query @ block.T
    if distance == "Euclid":
        products *= 2.0
        products -= np.einsum("ij,ij->i", block, block)[None, :]
    return products
