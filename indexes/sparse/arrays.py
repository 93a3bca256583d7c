"""Array helpers shared by the sealed and the appendable sparse index (all vectorised numpy)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import concatenated_ranges

_NO_ALLOWED = np.zeros(0, dtype=np.bool_)


def prepare_query(q_indices: Any, q_values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Query as contiguous (uint32 indices, float32 values); kernels sort it themselves.

    Indices are expected unique (see `validate_sparse`); a repeated index counts once per copy.
    """
    indices = np.asarray(q_indices)
    values = np.ascontiguousarray(q_values, dtype=np.float32)
    if indices.ndim != 1 or indices.shape != values.shape:
        raise ValueError("query: indices and values must be flat arrays of the same length")
    if indices.dtype != np.uint32:
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"query: indices must be integers, got {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() > np.iinfo(np.uint32).max):
            raise ValueError("query: indices must be between 0 and 2**32 - 1")
        indices = indices.astype(np.uint32)
    return np.ascontiguousarray(indices), values


def check_search_args(limit: int, allowed: np.ndarray | None, n_points: int) -> tuple[np.ndarray, bool]:
    """Validate `limit` and `allowed`; return the bitset to pass to kernels and whether it applies."""
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise TypeError(f"limit must be an integer, got {type(limit).__name__}")
    if allowed is None:
        return _NO_ALLOWED, False
    allowed = np.asarray(allowed)
    if allowed.dtype != np.bool_ or allowed.ndim != 1:
        raise TypeError("allowed must be a flat boolean array (one flag per offset)")
    if allowed.shape[0] < n_points:
        raise ValueError(f"allowed must cover every offset: length {allowed.shape[0]} < {n_points}")
    return np.ascontiguousarray(allowed), True


def lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each of `keys` in `sorted_keys`, -1 where absent (vectorised binary search)."""
    if sorted_keys.shape[0] == 0:
        return np.full(keys.shape[0], -1, dtype=np.int64)
    positions = np.searchsorted(sorted_keys, keys)
    clipped = np.minimum(positions, sorted_keys.shape[0] - 1)
    return np.where(sorted_keys[clipped] == keys, clipped, -1).astype(np.int64)


def group_by_term(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable sort order of `terms`, their unique values and the CSC pointer of each group."""
    order = np.argsort(terms, kind="stable")
    sorted_terms = np.ascontiguousarray(terms[order], dtype=np.uint32)
    if sorted_terms.size == 0:
        return order, sorted_terms, np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(sorted_terms[1:] != sorted_terms[:-1]) + 1
    unique = sorted_terms[np.concatenate(([0], starts))]
    pointer = np.concatenate(([0], starts, [sorted_terms.size])).astype(np.int64)
    return order, unique, pointer


def save_array(directory: Path, name: str, array: np.ndarray) -> None:
    """Write `name.npy` atomically: write a temporary file, fsync, then rename over."""
    final = directory / f"{name}.npy"
    temporary = directory / f"{name}.npy.tmp"
    with open(temporary, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)


def sort_rows(indptr: Any, indices: Any, values: Any, n_points: int) -> tuple[np.ndarray, ...]:
    """Validate row-major CSR input and sort each row by index.

    Returns (indptr padded to n_points + 1 rows, row of each entry (int32), uint32 indices,
    float32 values). Raises ValueError on a malformed indptr, lengths that disagree, indices
    outside u32, non-finite values or an index repeated within a row.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    terms = np.asarray(indices)
    weights = np.asarray(values, dtype=np.float32)
    if indptr.ndim != 1 or indptr.size == 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("indptr must be a non-decreasing flat array starting at 0")
    if indptr.size - 1 > n_points:
        raise ValueError(f"indptr has {indptr.size - 1} rows, more than n_points={n_points}")
    if terms.shape != weights.shape or terms.ndim != 1 or indptr[-1] != terms.size:
        raise ValueError("indices and values must be flat, of equal length indptr[-1]")
    if terms.size and (terms.min() < 0 or terms.max() > np.iinfo(np.uint32).max):
        raise ValueError("indices must be between 0 and 2**32 - 1")
    if not np.isfinite(weights).all():
        raise ValueError("values must be finite (no NaN or infinity)")
    indptr = np.concatenate((indptr, np.full(n_points + 1 - indptr.size, indptr[-1], dtype=np.int64)))
    row_of_entry = np.repeat(np.arange(n_points, dtype=np.int32), np.diff(indptr))
    terms = terms.astype(np.uint32)
    same_row = row_of_entry[1:] == row_of_entry[:-1]
    if not np.all((terms[1:] > terms[:-1]) | ~same_row):  # rows not already sorted and unique
        order = np.lexsort((terms, row_of_entry))
        terms, weights = terms[order], weights[order]
        if np.any((terms[1:] == terms[:-1]) & same_row):
            raise ValueError("indices must be unique within each row")
    return indptr, row_of_entry, np.ascontiguousarray(terms), np.ascontiguousarray(weights)


def gather_rows(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Entry positions of the concatenated ranges [starts[i], stops[i]) (vectorised)."""
    return concatenated_ranges(starts, stops)
