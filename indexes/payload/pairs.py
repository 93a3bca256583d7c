"""Storage shared by the payload indexes: (offset, value) pairs, sorted by value on demand.

Every index keeps the values of its kind that a JSON path selects, one pair per distinct value
of an offset. Pairs live in growable arrays where each offset owns one contiguous run, so
`set(offset, values)` and `remove(offset)` are O(run) for the appendable segment (dead runs are
flagged, then compacted away once they are the majority). Queries read a view sorted by value,
rebuilt lazily after changes, where a lookup or a range is a `searchsorted` slice and its
owners turn into a bitset in one scatter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from indexes.payload.jsonpath import PathItem, parse_path


def slices_to_indices(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start, stop) for every pair, without a Python loop."""
    lengths = np.maximum(stops - starts, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = starts - (np.cumsum(lengths) - lengths)
    return np.repeat(shift, lengths) + np.arange(total, dtype=np.int64)


#: Positions in an index's value-sorted view: an index array, or a slice for one contiguous run
#: (a single key or a range), which selects owners as a view instead of a gather.
Positions = np.ndarray | slice


def lookup(sorted_values: np.ndarray, keys: np.ndarray) -> Positions:
    """Positions in ascending `sorted_values` of every element equal to one of `keys` (a slice
    when there is a single key: its equal elements are one run)."""
    if keys.size == 1:
        return slice(int(np.searchsorted(sorted_values, keys[0], side="left")),
                     int(np.searchsorted(sorted_values, keys[0], side="right")))
    keys = np.unique(keys)
    starts = np.searchsorted(sorted_values, keys, side="left")
    stops = np.searchsorted(sorted_values, keys, side="right")
    return slices_to_indices(starts, stops)


def count_positions(positions: Positions) -> int:
    """How many positions an index array or a slice (step 1, non-negative bounds) holds."""
    if isinstance(positions, slice):
        return max(0, positions.stop - positions.start)
    return int(positions.size)


class OffsetValuePairs:
    """(offset, value) pairs with O(1) run replacement and a cached value-sorted view."""

    def __init__(self, dtype: Any, width: int = 1) -> None:
        shape = (16,) if width == 1 else (16, width)
        self._values = np.empty(shape, dtype=dtype)
        self._owners = np.empty(16, dtype=np.int64)
        self._alive = np.zeros(16, dtype=bool)
        self._n = 0  # used slots
        self._dead = 0
        self._run_start = np.zeros(16, dtype=np.int64)
        self._run_stop = np.zeros(16, dtype=np.int64)
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._column: np.ndarray | bool | None = None  # see `column`; reset with the sorted view
        self._starts: list[int] | None = None  # see `integer_runs`; reset with the sorted view
        self._last_owner = -1
        self.owners_ascending = True  # slots hold ascending owners, so equal values list owners in order
        self.capacity = 0  # 1 + highest offset ever seen

    @staticmethod
    def _grow(array: np.ndarray, length: int) -> np.ndarray:
        if length <= array.shape[0]:
            return array
        grown = np.zeros((max(length, 2 * array.shape[0]),) + array.shape[1:], dtype=array.dtype)
        grown[: array.shape[0]] = array
        return grown

    def load(self, owners: np.ndarray, values: np.ndarray, capacity: int) -> None:
        """Replace everything by `values` owned by ascending `owners` (bulk build)."""
        self._values, self._owners = values, owners.astype(np.int64)
        self._alive = np.ones(owners.shape[0], dtype=bool)
        self._n, self._dead, self._sorted = owners.shape[0], 0, None
        self._last_owner = int(owners[-1]) if owners.size else -1
        self.owners_ascending = bool((owners[1:] >= owners[:-1]).all())
        self.capacity = max(capacity, int(owners[-1]) + 1 if owners.size else 0)
        every = np.arange(self.capacity)
        self._run_start = np.searchsorted(self._owners, every, side="left").astype(np.int64)
        self._run_stop = np.searchsorted(self._owners, every, side="right").astype(np.int64)

    def remove(self, offset: int) -> None:
        """Forget every value of `offset`."""
        if offset >= self.capacity:
            return
        start, stop = self._run_start[offset], self._run_stop[offset]
        if stop > start:
            self._alive[start:stop] = False
            self._dead += int(stop - start)
            self._run_start[offset] = self._run_stop[offset] = 0
            self._sorted = None

    def set(self, offset: int, values: np.ndarray) -> None:
        """Replace the values of `offset` (already distinct) by `values`."""
        self.remove(offset)
        self.capacity = max(self.capacity, offset + 1)
        self._run_start = self._grow(self._run_start, self.capacity)
        self._run_stop = self._grow(self._run_stop, self.capacity)
        count = len(values)
        if count == 0:
            return
        end = self._n + count
        self._values = self._grow(self._values, end)
        self._owners = self._grow(self._owners, end)
        self._alive = self._grow(self._alive, end)
        if offset < self._last_owner:
            self.owners_ascending = False
        self._last_owner = max(self._last_owner, offset)
        self._values[self._n : end] = values
        self._owners[self._n : end] = offset
        self._alive[self._n : end] = True
        self._run_start[offset], self._run_stop[offset] = self._n, end
        self._n = end
        self._sorted = None
        if self._dead > 1024 and 2 * self._dead > self._n:
            self._compact()

    def _compact(self) -> None:
        alive = self._alive[: self._n]
        new_position = np.cumsum(alive) - alive  # exclusive prefix count of live slots
        has_run = self._run_stop[: self.capacity] > self._run_start[: self.capacity]
        lengths = self._run_stop[: self.capacity] - self._run_start[: self.capacity]
        self._run_start[: self.capacity][has_run] = new_position[self._run_start[: self.capacity][has_run]]
        self._run_stop[: self.capacity] = self._run_start[: self.capacity] + lengths
        keep = np.flatnonzero(alive)
        self._values = self._values[keep].copy()
        self._owners = self._owners[keep].copy()
        self._alive = np.ones(keep.size, dtype=bool)
        self._n = keep.size
        self._dead = 0

    def sorted_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, owners) of live pairs, ascending by value (first column when 2-D)."""
        if self._sorted is None:
            live = np.flatnonzero(self._alive[: self._n])
            keys = self._values[live] if self._values.ndim == 1 else self._values[live, 0]
            order = live[np.argsort(keys, kind="stable")]
            self._sorted = (self._values[order], self._owners[order])
            self._column = self._starts = None
        return self._sorted

    def integer_runs(self, n: int) -> list[int]:
        """For values that are codes 0..n-1: value v sits at positions [runs[v], runs[v + 1]) of
        the sorted view, so a lookup is two list reads instead of two searchsorted calls."""
        values = self.sorted_view()[0]
        if self._starts is None or len(self._starts) != n + 1:
            self._starts = np.searchsorted(values, np.arange(n + 1), side="left").tolist()
        return self._starts

    def column(self, fill: Any) -> np.ndarray | None:
        """The value of each offset (`fill` where it has none) when no offset has two values,
        else None: a wide range is then one vectorised comparison instead of a scatter of
        every matching owner. Built once per sorted view."""
        values, owners = self.sorted_view()
        if self._column is None:
            if values.ndim != 1 or np.unique(owners).size != owners.size:
                self._column = False
            else:
                self._column = np.full(self.capacity, fill, dtype=values.dtype)
                self._column[owners] = values
        return None if self._column is False else self._column

    @property
    def n_pairs(self) -> int:
        return self._n - self._dead

    def n_offsets(self) -> int:
        """Number of offsets with at least one value."""
        return int(np.count_nonzero(self._run_stop[: self.capacity] > self._run_start[: self.capacity]))


class PayloadValueIndex:
    """Base of the payload indexes: keeps `pairs` for `key` up to date from payload dicts.

    Subclasses define `dtype`, `width`, `values_of(payload) -> np.ndarray` (the distinct values
    of their kind the path selects) and `match`/`cardinality` for the conditions they serve,
    returning None for the rest so the evaluator falls back to a column scan.
    """

    dtype: Any = np.int64
    width: int = 1
    kind: str = ""

    def __init__(self, key: str) -> None:
        self.key = key
        self.path: tuple[PathItem, ...] = parse_path(key)
        self.pairs = OffsetValuePairs(self.dtype, self.width)

    @classmethod
    def build(cls, key: str, payloads: Sequence[dict | None], **params: Any) -> "PayloadValueIndex":
        """Index every offset of a segment in one pass."""
        index = cls(key, **params)
        owners: list[int] = []
        values: list[Any] = []
        for offset, payload in enumerate(payloads):
            if payload:
                found = index.values_of(payload)
                owners.extend([offset] * len(found))
                values.extend(found)
        index.pairs.load(np.asarray(owners, dtype=np.int64), index._as_array(values), len(payloads))
        return index

    def values_of(self, payload: dict) -> list[Any]:
        """Distinct values of this index's kind that the path selects in `payload`."""
        raise NotImplementedError

    def _as_array(self, values: list[Any]) -> np.ndarray:
        array = np.array(values, dtype=self.dtype)
        return array if self.width == 1 else array.reshape(-1, self.width)

    def add(self, offset: int, payload: dict | None) -> None:
        """(Re)index `offset` from its current payload (None or {} = no values)."""
        self.pairs.set(offset, self._as_array(self.values_of(payload) if payload else []))

    def remove(self, offset: int) -> None:
        self.pairs.remove(offset)

    def positions(self, check: Any) -> tuple[Positions, bool] | None:
        """(positions in the sorted view matching `check`, whether each position is a distinct
        point), or None when this index cannot answer `check`."""
        return None

    def match(self, condition: Any, size: int | None = None) -> np.ndarray | None:
        """bool[size] of offsets satisfying a FieldCondition (or bare check); None = unsupported."""
        found = self.positions(getattr(condition, "check", condition))
        if found is None:
            return None
        return self.bitset(self.pairs.sorted_view()[1][found[0]], size)

    def matching_offsets(self, condition: Any, at_most: int | None = None) -> np.ndarray | None:
        """Sorted distinct offsets satisfying a FieldCondition (or bare check), read from the
        index without a bitset: the cheap answer when few match. None when this index cannot
        answer the condition or more than `at_most` values match."""
        found = self.positions(getattr(condition, "check", condition))
        if found is None or (at_most is not None and count_positions(found[0]) > at_most):
            return None
        owners = self.pairs.sorted_view()[1][found[0]]
        if not (isinstance(found[0], slice) and self.pairs.owners_ascending):  # one run: already in order
            owners = np.sort(owners)
        if found[1] or owners.size < 2:
            return owners
        return owners[np.concatenate(([True], owners[1:] != owners[:-1]))]  # np.unique hashes: slower

    def cardinality(self, condition: Any) -> tuple[int, int, int] | None:
        """(min, expected, max) matching offsets from pair counts alone; None = unsupported."""
        found = self.positions(getattr(condition, "check", condition))
        if found is None:
            return None
        n = count_positions(found[0])
        return (n, n, n) if found[1] else self.estimate(n)

    def bitset(self, owners: np.ndarray, size: int | None) -> np.ndarray:
        """bool[size or capacity] with True at `owners`."""
        out = np.zeros(max(size or 0, self.pairs.capacity), dtype=bool)
        out[owners] = True
        return out if size is None else out[:size]

    def estimate(self, n_pairs: int) -> tuple[int, int, int]:
        """(min, expected, max) points owning `n_pairs` matching pairs of this index.

        Each point owns >= 1 pair, so at most min(n_pairs, points); at least n_pairs minus the
        pairs that can be extra values of the same points; expected scales by points/pairs.
        """
        total_pairs, points = self.pairs.n_pairs, self.pairs.n_offsets()
        if n_pairs <= 0 or total_pairs == 0:
            return 0, 0, 0
        high = min(n_pairs, points)
        low = max(1, n_pairs - (total_pairs - points))
        expected = min(high, max(low, round(n_pairs * points / total_pairs)))
        return low, expected, high

    def facet_counts(self, allowed: np.ndarray | None) -> list[tuple[Any, int]] | None:
        """(value, count) over allowed offsets; None when this kind has no facets."""
        return None

    def _count_values(self, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Distinct values and how many allowed offsets hold each (pairs are distinct per offset)."""
        values, owners = self.pairs.sorted_view()
        if allowed is not None:
            inside = owners < allowed.shape[0]
            keep = np.zeros(owners.shape, dtype=bool)
            keep[inside] = allowed[owners[inside]]
            values = values[keep]
        return np.unique(values, return_counts=True)
