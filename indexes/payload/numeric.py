"""Integer, float and datetime payload indexes: sorted values, ranges as `searchsorted` slices."""

from __future__ import annotations

from typing import Any

import numpy as np

from indexes.payload import ranges
from indexes.payload.conditions import DatetimeRange, MatchAny, MatchExcept, MatchValue, Range
from indexes.payload.datetimes import parse_micros
from indexes.payload.jsonpath import values_at
from indexes.payload.pairs import PayloadValueIndex, Positions, lookup

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


class OrderedIndex(PayloadValueIndex):
    """Numeric values usable for scroll `order_by`."""

    def order_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(owners, float64 values) of every indexed value."""
        values, owners = self.pairs.sorted_view()
        return owners, values.astype(np.float64)


class IntegerIndex(OrderedIndex):
    """int64 values (never bools): `lookup` serves match value/any/except, `range` serves ranges."""

    kind = "integer"

    def __init__(self, key: str, lookup: bool = True, range: bool = True) -> None:
        super().__init__(key)
        self.lookup_enabled = lookup
        self.range_enabled = range

    def values_of(self, payload: dict) -> list[int]:
        return list({v for v in values_at(payload, self.path) if type(v) is int and _I64_MIN <= v <= _I64_MAX})

    @staticmethod
    def _integers(values: tuple) -> np.ndarray | None:
        if values and not all(type(v) is int for v in values):
            return None
        return np.array([v for v in values if _I64_MIN <= v <= _I64_MAX], dtype=np.int64)

    def positions(self, check: Any) -> tuple[Positions, bool] | None:
        values, _ = self.pairs.sorted_view()
        if isinstance(check, Range) and self.range_enabled:
            start, stop = ranges.int_slice(values, check)
            return slice(start, stop), False
        if not self.lookup_enabled:
            return None
        if isinstance(check, MatchValue) and type(check.value) is int:
            query = self._integers((check.value,))
            return lookup(values, query), True
        if isinstance(check, (MatchAny, MatchExcept)):
            query = self._integers(check.values)
            if query is None:
                return None
            if isinstance(check, MatchAny):
                return lookup(values, query), len(query) <= 1
            return np.flatnonzero(~np.isin(values, query)), False
        return None

    def facet_counts(self, allowed: np.ndarray | None) -> list[tuple[Any, int]]:
        values, counts = self._count_values(allowed)
        hits = [(int(v), n) for v, n in zip(values.tolist(), counts.tolist())]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits


#: A range matching more than 1 / WIDE_RANGE of an index's offsets is answered by comparing a
#: per-offset column (one pass) rather than scattering its owners (random writes, ~3x slower).
WIDE_RANGE = 8


class FloatIndex(OrderedIndex):
    """float64 values of every number (int or float, never bool): ranges."""

    kind = "float"
    dtype = np.float64

    def match(self, condition: Any, size: int | None = None) -> np.ndarray | None:
        check = getattr(condition, "check", condition)
        if isinstance(check, Range):
            start, stop = ranges.float_slice(self.pairs.sorted_view()[0], check)
            column = self.pairs.column(np.nan) if (stop - start) * WIDE_RANGE > self.pairs.capacity else None
            if column is not None:  # missing values are NaN: never in a range
                mask = ranges.float_mask(column, check)
                if size is None or size == mask.shape[0]:
                    return mask
                out = np.zeros(size, dtype=bool)
                out[: min(size, mask.shape[0])] = mask[:size]
                return out
        return super().match(condition, size)

    def values_of(self, payload: dict) -> list[float]:
        return list({float(v) for v in values_at(payload, self.path) if type(v) in (int, float)})

    def positions(self, check: Any) -> tuple[Positions, bool] | None:
        if not isinstance(check, Range):
            return None
        start, stop = ranges.float_slice(self.pairs.sorted_view()[0], check)
        return slice(start, stop), False


class DatetimeIndex(OrderedIndex):
    """Datetime strings as int64 UTC microseconds: datetime ranges."""

    kind = "datetime"

    def values_of(self, payload: dict) -> list[int]:
        parsed = {parse_micros(v) for v in values_at(payload, self.path) if type(v) is str}
        parsed.discard(None)
        return list(parsed)

    def positions(self, check: Any) -> tuple[Positions, bool] | None:
        if not isinstance(check, DatetimeRange):
            return None
        start, stop = ranges.int_slice(self.pairs.sorted_view()[0], check)
        return slice(start, stop), False
