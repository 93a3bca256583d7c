"""MaxSim (late interaction) scoring of a query matrix against stored token matrices.

For a query Q (q tokens) and a document D, Qdrant defines (`multi_distances.py` of its local
mode, and `lib/segment` on the server)

    raw(Q, D) = sum_i max_j sim(Q_i, D_j)

with the per-token similarity of the collection's distance:

    Cosine, Dot:  sim = Q_i . D_j     (Cosine: Q rows normalised here, D rows by the engine
                                       on upsert; uint8 D rows are normalised when scored)
    Euclid:       sim = -|Q_i - D_j|^2
    Manhattan:    sim = -|Q_i - D_j|_1

and reports `raw` for Cosine/Dot, `sqrt(|raw|)` for Euclid and `|raw|` for Manhattan (the
latter two are distances, lower is better). Scores here are higher-is-better:

    Cosine, Dot: raw      Euclid: -sqrt(-raw)      Manhattan: raw (= -sum_i min_j |Q_i - D_j|_1)

so the API edge converts exactly as for dense vectors: negate Euclid and Manhattan scores.

Hot loops. float32 and uint8 rows (Cosine, Dot, Euclid) go to one numba kernel
(`_kernels.maxsim_ranges`) that reads each token row once, in place, and dots it with four
query rows at a time; Euclid uses |q - d|^2 = |q|^2 + |d|^2 - 2 q.d. Measured single-core CPU
on the shared machine against the chunked BLAS path below (p50, random candidate documents of
32-128 tokens): rerank of 100 at dim 128, 32 query tokens 1.7 vs 2.9 ms; at dim 384 with 6
query tokens (MiniLM queries) 1.2 vs 8.0 ms; exhaustive over 10,000 documents at dim 128,
q = 32, 118 vs 178 ms (at dim 384, q = 32 they tie). The gather + GEMM path pays for copying
the candidates' rows and for skinny (q x dim) GEMMs.
Other rows (float16 storage, int8 codes through `decode`) take that chunked path: documents in
chunks of about `CHUNK_TOKENS` rows; a chunk's rows are a slice of the flat token matrix when
its documents are adjacent, else one vectorised gather, decoded to float32. Then one BLAS
product `Q @ rows.T` (q, t), `np.maximum.reduceat` over each document's columns and a sum over
query tokens. Manhattan has no product form and uses its own numba kernel.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from indexes.base import DISTANCES
from indexes.multivector import _kernels
from indexes.multivector.store import MultiVectorStore, concatenated_ranges

#: Rows scored per BLAS call: a gathered block is 1 MiB at dim 128, its (q, t) similarities
#: 256 KiB at q = 32 (measured fastest among 1-16k on the benchmark).
CHUNK_TOKENS = 2_048
#: Stored dtypes the direct kernel reads (float16 has no numba arithmetic: chunked BLAS).
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.uint8))
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


def prepare_query(query: Any, dim: int, distance: str, datatype: str = "float32") -> np.ndarray:
    """Validated float32 C-contiguous (q, dim) query; rows normalised for Cosine.

    For uint8 storage the query is cast like the stored rows (saturating, truncating), as
    Qdrant converts queries to the storage element type.
    """
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
    if datatype == "uint8":
        rows = np.clip(rows, 0, 255).astype(np.uint8).astype(np.float32)
    if distance == "Cosine":
        rows = normalize_tokens(rows)
    return np.ascontiguousarray(rows)


def maxsim(query: Any, store: MultiVectorStore, offsets: Any, distance: str) -> np.ndarray:
    """MaxSim scores (float32, higher is better) of `query` against each of `offsets`.

    Offsets that hold no matrix (removed, never written, out of range) score -inf: the caller
    drops them, as Qdrant drops points without the vector.
    """
    q = prepare_query(query, store.dim, distance, store.datatype)
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or (offsets.size and not np.issubdtype(offsets.dtype, np.integer)):
        raise TypeError("offsets must be a flat integer array")
    offsets = offsets.astype(np.int64, copy=False)
    scores = np.full(offsets.shape[0], -np.inf, dtype=np.float32)
    inside = (offsets >= 0) & (offsets < len(store))
    valid = np.zeros(offsets.shape[0], dtype=np.bool_)
    valid[inside] = store.present[offsets[inside]]
    scores[valid] = score_stored(q, store, offsets[valid], distance)
    return scores


def maxsim_all(query: Any, store: MultiVectorStore, distance: str) -> np.ndarray:
    """Exhaustive MaxSim: one score per offset slot of `store`, -inf where it holds no matrix."""
    q = prepare_query(query, store.dim, distance, store.datatype)
    present = np.flatnonzero(store.present)
    scores = np.full(len(store), -np.inf, dtype=np.float32)
    scores[present] = score_stored(q, store, present, distance)
    return scores


def score_stored(query: np.ndarray, store: MultiVectorStore, offsets: np.ndarray, distance: str) -> np.ndarray:
    """Scores of present `offsets` for a query from `prepare_query(..., store.datatype)`."""
    return score_ranges(query, store.tokens, store.starts[offsets], store.ends[offsets], distance,
                        normalize_rows=normalizes_rows(store.datatype, distance))


def normalizes_rows(datatype: str, distance: str) -> bool:
    """uint8 Cosine rows are stored raw (unit rows would truncate to 0) and normalised when
    scored, as Qdrant computes byte cosine on the fly; other Cosine rows arrive normalised."""
    return datatype == "uint8" and distance == "Cosine"


def score_ranges(query: np.ndarray, tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 distance: str, decode: Decode | None = None, normalize_rows: bool = False,
                 raw: bool = False) -> np.ndarray:
    """Scores of the documents whose rows are tokens[starts[k]:ends[k]] (every range non-empty).

    `query` comes from `prepare_query`. `decode` turns a block of stored rows into float32
    (default: a dtype conversion; the int8 quantizer passes its dequantisation);
    `normalize_rows` divides each decoded row by its norm first. `raw` keeps Euclid as
    -sum_i min_j |Q_i - D_j|^2 (no root; the engine's internal unit), same order either way.
    """
    n_docs = starts.shape[0]
    if n_docs == 0:
        return np.empty(0, dtype=np.float32)
    if decode is None and distance != "Manhattan" and tokens.dtype in _KERNEL_DTYPES:
        mode = _kernels.EUCLID if distance == "Euclid" else _kernels.DOT_NORMALIZED if normalize_rows else _kernels.DOT
        out = _kernels.maxsim_ranges(np.ascontiguousarray(query, dtype=np.float32), np.asarray(tokens),
                                     np.ascontiguousarray(starts, dtype=np.int64),
                                     np.ascontiguousarray(ends, dtype=np.int64), mode)
    else:
        out = _score_chunks(query, tokens, starts, ends, distance, decode, normalize_rows)
    if distance == "Euclid":
        return np.negative(out, out=out) if raw else -np.sqrt(out)
    return out


def _score_chunks(query: np.ndarray, tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  distance: str, decode: Decode | None, normalize_rows: bool) -> np.ndarray:
    """Raw sums (Euclid: sum of minimal squared distances) chunk by chunk."""
    n_docs = starts.shape[0]
    out = np.empty(n_docs, dtype=np.float32)
    lengths = ends - starts
    cumulative = np.cumsum(lengths)
    first_row = cumulative - lengths  # where each document begins in the concatenation
    cuts = np.searchsorted(cumulative, np.arange(CHUNK_TOKENS, cumulative[-1], CHUNK_TOKENS), side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [n_docs])))
    # rows of the concatenation, built once unless every document is adjacent (exhaustive case)
    rows = None if np.array_equal(starts[1:], ends[:-1]) else concatenated_ranges(starts, ends)
    query_norms = np.einsum("ij,ij->i", query, query) if distance == "Euclid" else None
    for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # loop over chunks only
        if rows is None or np.array_equal(starts[first + 1 : last], ends[first : last - 1]):
            block = tokens[starts[first] : ends[last - 1]]  # adjacent documents: a slice
        else:
            block = tokens[rows[first_row[first] : cumulative[last - 1]]]
        local_starts = first_row[first:last] - first_row[first]
        block = decode(block) if decode is not None else np.asarray(block, dtype=np.float32)
        if normalize_rows:
            block = normalize_tokens(block)
        best = np.maximum.reduceat(token_similarity(query, block, distance), local_starts, axis=1)
        if query_norms is not None:  # best = max_j (2 q.d - |d|^2) -> min_j |q - d|^2
            best = np.maximum(query_norms[:, None] - best, 0.0)
        out[first:last] = best.sum(axis=0, dtype=np.float32)
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
