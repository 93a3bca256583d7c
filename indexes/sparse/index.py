"""Inverted index for one sparse vector name of one sealed segment.

Score (Qdrant's sparse similarity): s(q, d) = sum over shared indices t of q_t * d_t. Only
points sharing at least one index with the query are search hits (also when the sum is 0 or
negative); `score` returns 0 for points without overlap. With `modifier: idf` the engine
multiplies the query values by `idf(df)` (see `indexes.sparse.vectors.idf`) before calling.

Layout: rows (CSR by offset, indices sorted) serve `score`, `get` and very selective filters;
postings (CSC by index, offsets ascending) serve `search`, which scatter-adds the postings of the
query terms in numba with MaxScore pruning when every contribution is >= 0. Terms held by at
least n_points / COLUMN_SHARE points also get a dense float32 column (derived at build and load,
never saved): adding a column is a vectorised pass, several times faster than scattering as many
postings. A column costs 4 * n_points bytes for >= n_points / COLUMN_SHARE postings of 8 bytes,
so columns take at most COLUMN_SHARE / 2 times the memory of the postings they duplicate.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Hits, concatenated_ranges
from indexes.sparse import _kernels
from indexes.sparse.arrays import (
    check_search_args,
    group_by_term,
    lookup,
    prepare_query,
    save_array,
    sort_rows,
)
from indexes.sparse.growable import GrowableSparseIndex
from indexes.sparse.vectors import idf, validate_sparse

__all__ = ["SparseIndex", "GrowableSparseIndex", "idf", "validate_sparse"]

_ARRAYS = ("row_ptr", "row_terms", "row_values", "terms", "term_ptr", "post_offsets", "post_values")
#: Terms on at least n_points / COLUMN_SHARE points get a dense column (see the module docstring).
COLUMN_SHARE = 4


def dense_columns(term_ptr: np.ndarray, post_offsets: np.ndarray, post_values: np.ndarray,
                  n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(column of each term slot or -1, float32 matrix with one row of n_points values per
    column term, 0 where the term is absent) for the terms on >= n_points / COLUMN_SHARE points."""
    lengths = np.diff(term_ptr)
    column_slots = np.flatnonzero((lengths > 0) & (lengths * COLUMN_SHARE >= n_points))
    term_column = np.full(lengths.size, -1, dtype=np.int64)
    term_column[column_slots] = np.arange(column_slots.size)
    columns = np.zeros((column_slots.size, n_points), dtype=np.float32)
    entries = concatenated_ranges(term_ptr[column_slots], term_ptr[column_slots + 1])
    columns[np.repeat(np.arange(column_slots.size), lengths[column_slots]), post_offsets[entries]] = post_values[entries]
    return term_column, columns


class SparseIndex:
    """Immutable sparse index of a sealed segment (see the module docstring for the layout)."""

    def __init__(self, n_points: int, arrays: dict[str, np.ndarray]) -> None:
        self.n_points = int(n_points)
        self.row_ptr: np.ndarray = arrays["row_ptr"]
        self.row_terms: np.ndarray = arrays["row_terms"]
        self.row_values: np.ndarray = arrays["row_values"]
        self.terms: np.ndarray = arrays["terms"]
        self.term_ptr: np.ndarray = arrays["term_ptr"]
        self.post_offsets: np.ndarray = arrays["post_offsets"]
        self.post_values: np.ndarray = arrays["post_values"]
        if self.post_values.size:
            self.term_max = np.maximum.reduceat(self.post_values, self.term_ptr[:-1])
            self.term_min = np.minimum.reduceat(self.post_values, self.term_ptr[:-1])
        else:
            self.term_max = self.term_min = np.zeros(0, dtype=np.float32)
        self.term_column, self.columns = dense_columns(self.term_ptr, self.post_offsets, self.post_values, self.n_points)

    @classmethod
    def sealed(cls, growable: GrowableSparseIndex) -> "SparseIndex":
        """Immutable copy of a growable index's live vectors, for the optimizer."""
        indptr, indices, values, _ = growable.to_csr()
        return cls.build(indptr, indices, values, growable.n_points)

    @classmethod
    def build(cls, indptr: Any, indices: Any, values: Any, n_points: int) -> "SparseIndex":
        """Build from row-major CSR input: row `o` (offset o) is `indices/values[indptr[o]:indptr[o+1]]`.

        `indptr` may cover fewer than `n_points` rows (the rest are empty). Rows may be unsorted
        but must not repeat an index; values must be finite.
        """
        indptr, row_of_entry, row_terms, row_values = sort_rows(indptr, indices, values, n_points)
        by_term, terms, term_ptr = group_by_term(row_terms)
        arrays = {
            "row_ptr": indptr,
            "row_terms": np.ascontiguousarray(row_terms),
            "row_values": np.ascontiguousarray(row_values),
            "terms": terms,
            "term_ptr": term_ptr,
            "post_offsets": np.ascontiguousarray(row_of_entry[by_term]),
            "post_values": np.ascontiguousarray(row_values[by_term]),
        }
        return cls(n_points, arrays)

    def __len__(self) -> int:
        return self.n_points

    @property
    def nnz(self) -> int:
        return int(self.row_terms.size)

    def get(self, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored sparse vector of `offset` as (uint32 indices, float32 values), sorted by index."""
        if not 0 <= offset < self.n_points:
            raise ValueError(f"offset {offset} out of range [0, {self.n_points})")
        start, stop = self.row_ptr[offset], self.row_ptr[offset + 1]
        return self.row_terms[start:stop].copy(), self.row_values[start:stop].copy()

    def document_frequencies(self, indices: Any) -> np.ndarray:
        """Number of points holding each of `indices` (deleted points included)."""
        slots = lookup(self.terms, np.asarray(indices, dtype=np.uint32))
        lengths = np.diff(self.term_ptr)
        return np.where(slots >= 0, lengths[np.maximum(slots, 0)] if lengths.size else 0, 0).astype(np.int64)

    def search(self, q_indices: Any, q_values: Any, limit: int, allowed: np.ndarray | None = None) -> Hits:
        """Best `limit` allowed offsets sharing >= 1 index with the query, by descending dot product."""
        q_terms, q_weights = prepare_query(q_indices, q_values)
        allowed_bits, use_allowed = check_search_args(limit, allowed, self.n_points)
        if limit <= 0 or q_terms.size == 0:
            return Hits.empty()
        offsets, scores = _kernels.search_sealed(
            self.terms, self.term_ptr, self.post_offsets, self.post_values, self.term_min, self.term_max,
            self.term_column, self.columns, self.row_ptr, self.row_terms, self.row_values, q_terms, q_weights,
            self.n_points, allowed_bits, use_allowed, int(limit),
        )
        return Hits(offsets, scores)

    def score(self, q_indices: Any, q_values: Any, offsets: Any) -> np.ndarray:
        """Exact dot products of the query with the given offsets (float32, 0 where no overlap)."""
        q_terms, q_weights = prepare_query(q_indices, q_values)
        offsets = np.asarray(offsets, dtype=np.int64).reshape(-1)
        if offsets.size and (offsets.min() < 0 or offsets.max() >= self.n_points):
            raise ValueError(f"offsets must be in [0, {self.n_points})")
        starts = np.ascontiguousarray(self.row_ptr[offsets])
        stops = np.ascontiguousarray(self.row_ptr[offsets + 1])
        return _kernels.score_rows(starts, stops, self.row_terms, self.row_values, q_terms, q_weights)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write every array as `<name>.npy` (write-then-rename) plus `n_points.npy`."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            save_array(path, name, getattr(self, name))
        save_array(path, "n_points", np.array([self.n_points], dtype=np.int64))

    @classmethod
    def load(cls, directory: str | os.PathLike[str], mmap: bool = False) -> "SparseIndex":
        """Read an index written by `save`; `mmap=True` maps the arrays from disk (on_disk)."""
        path = Path(directory)
        mode = "c" if mmap else None  # copy-on-write: writeable views, as numba signatures expect
        arrays = {name: np.load(path / f"{name}.npy", mmap_mode=mode, allow_pickle=False) for name in _ARRAYS}
        n_points = int(np.load(path / "n_points.npy", allow_pickle=False)[0])
        return cls(n_points, arrays)
