"""numba kernels of the multivector index.

Nothing compiles at import: each kernel is a `LazyKernel` compiled with its explicit
signatures on first call (cache=True, nogil=True so server threads score in parallel);
`warm_up()` compiles them all ahead of the first query.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import types

from indexes._lazy_kernels import LazyKernel

#: fastmath without nnan/ninf: kernels rely on -inf as "no score yet".
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _matrix(readonly: bool) -> types.Array:
    return types.Array(types.float32, 2, "C", readonly=readonly)


_VECTOR_F32 = types.Array(types.float32, 1, "C")
_VECTOR_I64 = types.Array(types.int64, 1, "C")
_VECTOR_I32 = types.Array(types.int32, 1, "C")


def _negative_manhattan(query: np.ndarray, block: np.ndarray) -> np.ndarray:
    """out[i, j] = -sum_k |query[i, k] - block[j, k]|  (shape (q, t), float32)."""
    n_query, dim = query.shape
    n_tokens = block.shape[0]
    out = np.empty((n_query, n_tokens), dtype=np.float32)
    for j in range(n_tokens):
        row = block[j]
        for i in range(n_query):
            total = np.float32(0.0)
            for k in range(dim):
                total += abs(query[i, k] - row[k])
            out[i, j] = -total
    return out


def _centroid_interaction(scores_by_centroid: np.ndarray, indptr: np.ndarray, codes: np.ndarray,
                          docs: np.ndarray) -> np.ndarray:
    """out[k] = sum_i max_{c in codes[indptr[d]:indptr[d + 1]]} scores_by_centroid[c, i], d = docs[k].

    MaxSim with every document token replaced by its centroid (PLAID's centroid interaction);
    `scores_by_centroid` is (C, q) so one centroid's scores are one contiguous row.
    """
    n_query = scores_by_centroid.shape[1]
    out = np.empty(docs.shape[0], dtype=np.float32)
    best = np.empty(n_query, dtype=np.float32)
    for k in range(docs.shape[0]):
        doc = docs[k]
        best[:] = -np.inf
        for position in range(indptr[doc], indptr[doc + 1]):
            row = scores_by_centroid[codes[position]]
            for i in range(n_query):
                if row[i] > best[i]:
                    best[i] = row[i]
        out[k] = best.sum()
    return out


#: modes of `maxsim_ranges`
DOT, DOT_NORMALIZED, EUCLID = 0, 1, 2
_EPSILON = np.float32(1.1920929e-7)  # Qdrant's guard against a zero norm (f32::EPSILON)


def _maxsim_ranges(query: np.ndarray, tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                   mode: int) -> np.ndarray:
    """out[k] = sum_i max_{j in [starts[k], ends[k])} s(query[i], tokens[j]) for every range k.

    mode DOT: s = q.d (Cosine rows are unit already, Dot); DOT_NORMALIZED: s = q.d / |d| (raw
    uint8 Cosine rows; a zero row divides by epsilon); EUCLID: out[k] = sum_i min_j |q_i - d_j|^2
    (>= 0) from max_j (2 q.d - |d|^2). Every token row is read once and dotted with four query
    rows at a time (its loads shared by four accumulators): no gathered copy, no temporaries,
    which beats chunked BLAS on reranks and short queries (see maxsim.py).
    """
    n_query, dim = query.shape
    blocked = n_query - n_query % 4
    out = np.empty(starts.shape[0], dtype=np.float32)
    best = np.empty(n_query, dtype=np.float32)
    dots = np.empty(n_query, dtype=np.float32)
    query_norms = np.zeros(n_query, dtype=np.float32)
    for i in range(n_query):
        for c in range(dim):
            query_norms[i] += query[i, c] * query[i, c]
    for k in range(starts.shape[0]):
        best[:] = -np.inf
        for j in range(starts[k], ends[k]):
            row = tokens[j]
            for i in range(0, blocked, 4):
                a0 = np.float32(0.0)
                a1 = np.float32(0.0)
                a2 = np.float32(0.0)
                a3 = np.float32(0.0)
                for c in range(dim):
                    x = np.float32(row[c])
                    a0 += query[i, c] * x
                    a1 += query[i + 1, c] * x
                    a2 += query[i + 2, c] * x
                    a3 += query[i + 3, c] * x
                dots[i], dots[i + 1], dots[i + 2], dots[i + 3] = a0, a1, a2, a3
            for i in range(blocked, n_query):
                acc = np.float32(0.0)
                for c in range(dim):
                    acc += query[i, c] * np.float32(row[c])
                dots[i] = acc
            if mode != DOT:
                squared = np.float32(0.0)
                for c in range(dim):
                    x = np.float32(row[c])
                    squared += x * x
                if mode == DOT_NORMALIZED:
                    norm = np.sqrt(squared)
                    scale = np.float32(1.0) / (norm if norm != 0.0 else _EPSILON)
                    for i in range(n_query):
                        dots[i] *= scale
                else:
                    for i in range(n_query):
                        dots[i] = 2.0 * dots[i] - squared
            for i in range(n_query):
                if dots[i] > best[i]:
                    best[i] = dots[i]
        total = np.float32(0.0)
        for i in range(n_query):
            total += max(query_norms[i] - best[i], np.float32(0.0)) if mode == EUCLID else best[i]
        out[k] = total
    return out


def _maxsim_signatures() -> list[Any]:
    out = []
    for dtype in (types.float32, types.uint8):
        for readonly in (False, True):  # read-only: memory-mapped sealed segments
            tokens = types.Array(dtype, 2, "C", readonly=readonly)
            out.append(_VECTOR_F32(_matrix(False), tokens, _VECTOR_I64, _VECTOR_I64, types.int64))
    return out


negative_manhattan = LazyKernel(_negative_manhattan, lambda: [_matrix(False)(_matrix(False), _matrix(False))],
                                fastmath=_FASTMATH)
centroid_interaction = LazyKernel(_centroid_interaction, lambda: [
    _VECTOR_F32(_matrix(False), _VECTOR_I64, _VECTOR_I32, _VECTOR_I64)
], fastmath=_FASTMATH)

maxsim_ranges = LazyKernel(_maxsim_ranges, _maxsim_signatures, fastmath=_FASTMATH)

KERNELS = (negative_manhattan, centroid_interaction, maxsim_ranges)


def warm_up() -> None:
    """Compile (or load from cache) every kernel now instead of on the first query."""
    for kernel in KERNELS:
        kernel.compile()
