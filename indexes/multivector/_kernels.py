"""numba kernels of the multivector index.

Nothing compiles at import: each kernel is a `LazyKernel` compiled with its explicit
signatures on first call (cache=True, nogil=True so server threads score in parallel);
`warm_up()` compiles them all ahead of the first query.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numba
import numpy as np
from numba import types

#: fastmath without nnan/ninf: kernels rely on -inf as "no score yet".
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


class LazyKernel:
    """A numba kernel compiled for `signatures` on its first call, never at import."""

    def __init__(self, func: Callable[..., Any], signatures: Callable[[], list[Any]]) -> None:
        self._func = func
        self._signatures = signatures
        self._compiled: Any = None
        self._lock = threading.Lock()
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def compile(self) -> Any:
        with self._lock:
            if self._compiled is None:
                self._compiled = numba.njit(self._signatures(), cache=True, nogil=True, fastmath=_FASTMATH)(self._func)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        compiled = self._compiled if self._compiled is not None else self.compile()
        return compiled(*args)


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


negative_manhattan = LazyKernel(_negative_manhattan, lambda: [_matrix(False)(_matrix(False), _matrix(False))])
centroid_interaction = LazyKernel(_centroid_interaction, lambda: [
    _VECTOR_F32(_matrix(False), _VECTOR_I64, _VECTOR_I32, _VECTOR_I64)
])

KERNELS = (negative_manhattan, centroid_interaction)


def warm_up() -> None:
    """Compile (or load from cache) every kernel now instead of on the first query."""
    for kernel in KERNELS:
        kernel.compile()
