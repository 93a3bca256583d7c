"""Appendable sparse index: the inverted index of the segment that takes writes.

Same scores and hit rule as `indexes.sparse.index.SparseIndex`. Storage is log-structured:
every `add` appends its entries (index, value, slot) to flat growable buffers, one *slot* per
added vector; `remove` (or re-adding an offset) only marks the slot dead. Entries up to the last
merge are also kept as sorted postings (CSC by index) for scatter-add; the unmerged tail is
scanned by the search kernel. A merge (compaction + re-sort, vectorised) runs on `add` once the
tail exceeds max(merge_min, merge_ratio * merged entries), so appends cost amortised O(nnz)
(times a log factor) and no query ever rebuilds anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Hits
from indexes.sparse import _kernels
from indexes.sparse.arrays import (
    check_search_args,
    gather_rows,
    group_by_term,
    lookup,
    prepare_query,
    save_array,
    sort_rows,
)
from indexes.sparse.vectors import validate_sparse



class _Buffer:
    """A 1-d array with amortised O(1) appends (capacity doubles)."""

    def __init__(self, dtype: Any, data: np.ndarray | None = None) -> None:
        self.data = np.zeros(16, dtype=dtype) if data is None else np.ascontiguousarray(data, dtype=dtype)
        self.size = 0 if data is None else int(self.data.size)

    def append(self, values: np.ndarray) -> None:
        needed = self.size + values.size
        if needed > self.data.size:
            grown = np.zeros(max(needed, 2 * self.data.size), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : needed] = values
        self.size = needed

    def view(self, start: int = 0) -> np.ndarray:
        return self.data[start : self.size]


class GrowableSparseIndex:
    """Mutable sparse index of an appendable segment (see the module docstring)."""

    def __init__(self, merge_min: int = 4096, merge_ratio: float = 0.125) -> None:
        if merge_min < 1 or merge_ratio <= 0:
            raise ValueError("merge_min must be >= 1 and merge_ratio > 0")
        self.merge_min = int(merge_min)
        self.merge_ratio = float(merge_ratio)
        self.n_points = 0
        self._terms = _Buffer(np.uint32)
        self._values = _Buffer(np.float32)
        self._entry_slot = _Buffer(np.int32)
        self._slot_start = _Buffer(np.int64)
        self._slot_stop = _Buffer(np.int64)
        self._slot_offset = _Buffer(np.int32)  # -1 once removed or replaced
        self._offset_slot = np.full(16, -1, dtype=np.int32)
        self._dead_entries = 0
        self._set_postings(np.zeros(0, np.uint32), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), 0)

    def _set_postings(self, terms: np.ndarray, ptr: np.ndarray, slots: np.ndarray, values: np.ndarray, merged: int) -> None:
        self._base_terms, self._base_ptr, self._base_slots, self._base_values = terms, ptr, slots, values
        self._merged = merged

    def __len__(self) -> int:
        return self.n_points

    @property
    def nnz(self) -> int:
        """Number of live stored entries."""
        return self._terms.size - self._dead_entries

    # ------------------------------------------------------------------ writes

    def add(self, offset: int, indices: Any, values: Any) -> None:
        """Store the sparse vector of `offset`, replacing the one it had (validated and sorted here)."""
        offset = self._check_offset(offset)
        terms, weights = validate_sparse(indices, values)
        self.remove(offset)
        if offset >= self._offset_slot.size:
            grown = np.full(max(offset + 1, 2 * self._offset_slot.size), -1, dtype=np.int32)
            grown[: self._offset_slot.size] = self._offset_slot
            self._offset_slot = grown
        self.n_points = max(self.n_points, offset + 1)
        slot = self._slot_offset.size
        start = self._terms.size
        self._slot_start.append(np.array([start]))
        self._slot_stop.append(np.array([start + terms.size]))
        self._slot_offset.append(np.array([offset]))
        self._offset_slot[offset] = slot
        self._terms.append(terms)
        self._values.append(weights)
        self._entry_slot.append(np.full(terms.size, slot, dtype=np.int32))
        tail = self._terms.size - self._merged
        if tail > max(self.merge_min, self.merge_ratio * self._merged):
            self.merge()

    def remove(self, offset: int) -> bool:
        """Forget the vector of `offset`; returns whether it had one."""
        offset = self._check_offset(offset)
        if offset >= self.n_points or self._offset_slot[offset] < 0:
            return False
        slot = int(self._offset_slot[offset])
        self._slot_offset.data[slot] = -1
        self._offset_slot[offset] = -1
        self._dead_entries += int(self._slot_stop.data[slot] - self._slot_start.data[slot])
        return True

    def merge(self) -> None:
        """Drop dead entries and slots, renumber slots, and sort every entry into postings."""
        slot_offset = self._slot_offset.view()
        live_slots = np.flatnonzero(slot_offset >= 0)
        new_slot = np.full(slot_offset.size, -1, dtype=np.int32)
        new_slot[live_slots] = np.arange(live_slots.size, dtype=np.int32)
        entry_slot = self._entry_slot.view()
        live_entries = slot_offset[entry_slot] >= 0
        terms = self._terms.view()[live_entries]
        values = self._values.view()[live_entries]
        entry_slot = new_slot[entry_slot[live_entries]]
        lengths = (self._slot_stop.view() - self._slot_start.view())[live_slots]
        stops = np.cumsum(lengths)
        offsets = slot_offset[live_slots]
        self._terms, self._values = _Buffer(np.uint32, terms), _Buffer(np.float32, values)
        self._entry_slot = _Buffer(np.int32, entry_slot)
        self._slot_start, self._slot_stop = _Buffer(np.int64, stops - lengths), _Buffer(np.int64, stops)
        self._slot_offset = _Buffer(np.int32, offsets)
        self._offset_slot[offsets] = np.arange(live_slots.size, dtype=np.int32)
        self._dead_entries = 0
        order, unique_terms, pointer = group_by_term(terms)
        self._set_postings(unique_terms, pointer, np.ascontiguousarray(entry_slot[order]),
                           np.ascontiguousarray(values[order]), terms.size)

    @staticmethod
    def _check_offset(offset: int) -> int:
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise TypeError(f"offset must be an integer, got {type(offset).__name__}")
        if not 0 <= offset < 2**31 - 1:
            raise ValueError(f"offset must be in [0, 2**31 - 1), got {offset}")
        return int(offset)

    # ------------------------------------------------------------------ reads

    def _rows_of(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, stop) of each offset's row in the flat buffers; (0, 0) where it has none."""
        inside = offsets < self.n_points
        slots = np.where(inside, self._offset_slot[np.where(inside, offsets, 0)], -1)
        live = slots >= 0
        safe = np.maximum(slots, 0)
        starts = np.where(live, self._slot_start.data[safe], 0)
        stops = np.where(live, self._slot_stop.data[safe], 0)
        return np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(stops, dtype=np.int64)

    def get(self, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored sparse vector of `offset` (empty arrays when it has none)."""
        starts, stops = self._rows_of(np.array([self._check_offset(offset)], dtype=np.int64))
        rows = slice(int(starts[0]), int(stops[0]))
        return self._terms.data[rows].copy(), self._values.data[rows].copy()

    def score(self, q_indices: Any, q_values: Any, offsets: Any) -> np.ndarray:
        """Exact dot products with the given offsets (float32; 0 without overlap or vector)."""
        q_terms, q_weights = prepare_query(q_indices, q_values)
        offsets = np.asarray(offsets, dtype=np.int64).reshape(-1)
        if offsets.size and offsets.min() < 0:
            raise ValueError("offsets must be >= 0")
        starts, stops = self._rows_of(offsets)
        return _kernels.score_rows(starts, stops, self._terms.data, self._values.data, q_terms, q_weights)

    def search(self, q_indices: Any, q_values: Any, limit: int, allowed: np.ndarray | None = None) -> Hits:
        """Best `limit` allowed offsets sharing >= 1 index with the query, by descending dot product."""
        q_terms, q_weights = prepare_query(q_indices, q_values)
        allowed_bits, use_allowed = check_search_args(limit, allowed, self.n_points)
        if limit <= 0 or q_terms.size == 0 or self.n_points == 0:
            return Hits.empty()
        offsets, scores = _kernels.search_growable(
            self._base_terms, self._base_ptr, self._base_slots, self._base_values, self._terms.view(),
            self._entry_slot.view(), self._values.view(), self._slot_start.data, self._slot_stop.data,
            self._slot_offset.data, self._offset_slot[: self.n_points], q_terms, q_weights, self._merged,
            allowed_bits, use_allowed, int(limit),
        )
        return Hits(offsets, scores)

    def document_frequencies(self, indices: Any) -> np.ndarray:
        """Number of live points holding each of `indices`."""
        keys = np.asarray(indices, dtype=np.uint32)
        live = self._slot_offset.data[self._entry_slot.view()] >= 0
        present, counts = np.unique(self._terms.view()[live], return_counts=True)
        positions = lookup(present, keys)
        return np.where(positions >= 0, counts[np.maximum(positions, 0)] if counts.size else 0, 0).astype(np.int64)

    # ------------------------------------------------------------------ conversion and persistence

    def to_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Live rows in offset order: (indptr over n_points rows, indices, values, has-vector mask)."""
        present = np.zeros(self.n_points, dtype=np.bool_)
        slots = self._offset_slot[: self.n_points]
        present[slots >= 0] = True
        starts, stops = self._rows_of(np.arange(self.n_points, dtype=np.int64))
        positions = gather_rows(starts, stops)
        indptr = np.concatenate(([0], np.cumsum(stops - starts))).astype(np.int64)
        return indptr, self._terms.data[positions], self._values.data[positions], present

    @classmethod
    def from_csr(cls, indptr: Any, indices: Any, values: Any, n_points: int, present: Any = None,
                 **options: Any) -> "GrowableSparseIndex":
        """Bulk-load rows (vectorised); a row has a vector when `present` or when non-empty."""
        indptr, row_of_entry, terms, weights = sort_rows(indptr, indices, values, n_points)
        has_vector = np.diff(indptr) > 0
        if present is not None:
            has_vector |= np.asarray(present, dtype=np.bool_)[:n_points]
        index = cls(**options)
        offsets = np.flatnonzero(has_vector).astype(np.int32)
        slot_of_offset = np.full(max(16, n_points), -1, dtype=np.int32)
        slot_of_offset[offsets] = np.arange(offsets.size, dtype=np.int32)
        index.n_points = int(n_points)
        index._offset_slot = slot_of_offset
        index._terms, index._values = _Buffer(np.uint32, terms), _Buffer(np.float32, weights)
        index._entry_slot = _Buffer(np.int32, slot_of_offset[row_of_entry])
        index._slot_start = _Buffer(np.int64, indptr[offsets])
        index._slot_stop = _Buffer(np.int64, indptr[offsets + 1])
        index._slot_offset = _Buffer(np.int32, offsets)
        index.merge()
        return index

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the live rows as `.npy` files (write-then-rename)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        indptr, indices, values, present = self.to_csr()
        for name, array in (("indptr", indptr), ("indices", indices), ("values", values), ("present", present)):
            save_array(path, name, array)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], **options: Any) -> "GrowableSparseIndex":
        path = Path(directory)
        arrays = {name: np.load(path / f"{name}.npy", allow_pickle=False) for name in ("indptr", "indices", "values", "present")}
        return cls.from_csr(arrays["indptr"], arrays["indices"], arrays["values"], arrays["present"].size,
                            arrays["present"], **options)
