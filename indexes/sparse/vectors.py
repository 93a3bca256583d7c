"""Pure functions on sparse vectors: input validation and Qdrant's IDF modifier.

A sparse vector is a pair of parallel arrays `(indices: uint32, values: float32)` with unique
indices, kept sorted by index everywhere inside the engine (Qdrant accepts unsorted input and
sorts it; so do we).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Qdrant stores sparse indices as u32.
MAX_SPARSE_INDEX = 2**32 - 1


def _as_1d(array: Any, field: str, what: str) -> np.ndarray:
    try:
        result = np.asarray(array)
    except (TypeError, ValueError):  # ragged nesting
        raise ValueError(f"{field}.{what}: must be a flat list of numbers") from None
    if result.ndim != 1:
        raise ValueError(f"{field}.{what}: must be a flat list, got shape {result.shape}")
    return result


def validate_sparse(indices: Any, values: Any, field: str = "sparse vector") -> tuple[np.ndarray, np.ndarray]:
    """Check one sparse vector and return it as `(uint32 indices, float32 values)` sorted by index.

    Raises TypeError for non-integer indices or non-numeric values, and ValueError for a length
    mismatch, indices outside [0, 2**32 - 1], duplicate indices, or values that are NaN or
    infinite (also after the cast to float32). Messages start with the offending path:
    `field`, `field.indices` or `field.values`.
    """
    index_array = _as_1d(indices, field, "indices")
    value_array = _as_1d(values, field, "values")
    if index_array.shape[0] != value_array.shape[0]:
        raise ValueError(
            f"{field}: indices and values must have the same length "
            f"({index_array.shape[0]} != {value_array.shape[0]})"
        )
    if index_array.size == 0:
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.float32)
    if index_array.dtype.kind not in "iu":
        raise TypeError(f"{field}.indices: must be integers, got {index_array.dtype}")
    if value_array.dtype.kind not in "iuf":
        raise TypeError(f"{field}.values: must be real numbers, got {value_array.dtype}")
    ascending = index_array.size == 1 or bool((index_array[1:] > index_array[:-1]).all())  # usual input
    low, high = (index_array[0], index_array[-1]) if ascending else (index_array.min(), index_array.max())
    if int(low) < 0 or int(high) > MAX_SPARSE_INDEX:
        raise ValueError(f"{field}.indices: must be between 0 and {MAX_SPARSE_INDEX}")
    with np.errstate(over="ignore"):
        value_f32 = value_array.astype(np.float32)
    if not math.isfinite(value_f32.sum(dtype=np.float64)):  # float32 terms cannot overflow a float64 sum
        raise ValueError(f"{field}.values: must be finite float32 numbers (no NaN or infinity)")
    index_u32 = index_array.astype(np.uint32)
    if not ascending:
        order = np.argsort(index_u32, kind="stable")
        index_u32 = index_u32[order]
        value_f32 = value_f32[order]
        if bool((index_u32[1:] == index_u32[:-1]).any()):
            raise ValueError(f"{field}.indices: must be unique")
    return index_u32, np.ascontiguousarray(value_f32)


def idf(df: Any, n_docs: int) -> np.ndarray:
    """Qdrant's inverse document frequency, elementwise over document frequencies `df`.

    idf(df) = ln((N - df + 0.5) / (df + 0.5) + 1), with N = `n_docs` the number of points that
    have this sparse vector. The argument of the log equals (N + 1) / (df + 0.5), so it is
    defined for every df >= 0: positive while df <= N, negative only for stale statistics
    (df > N + 0.5). Computed in float64, returned as float32.
    """
    df_array = np.asarray(df, dtype=np.float64)
    if isinstance(n_docs, bool) or not isinstance(n_docs, (int, np.integer)):
        raise TypeError(f"n_docs must be an integer, got {type(n_docs).__name__}")
    if n_docs < 0:
        raise ValueError(f"n_docs must be >= 0, got {n_docs}")
    if df_array.size and (not np.isfinite(df_array).all() or float(df_array.min()) < 0):
        raise ValueError("df: document frequencies must be finite and >= 0")
    n = float(n_docs)
    return np.log((n - df_array + 0.5) / (df_array + 0.5) + 1.0).astype(np.float32)
