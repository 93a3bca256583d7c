"""Qdrant's filter language over one segment: parse, evaluate to a bitset, estimate, facet, order.

    flt = parse_filter({"must": [{"key": "city", "match": {"value": "Paris"}}]})
    allowed = evaluate(flt, segment)            # bool[segment.size]
    low, expected, high = cardinality(flt, segment)

A segment is seen through the `FilterView` protocol. A field condition is answered, in order,
by the payload index on its key (`view.payload_index(key).match(...)`, when that index serves
the condition), by the full-text hook for text matches (`view.text_match`), and otherwise by a
vectorised scan of columns extracted once per (segment, path) and cached until the segment's
`payload_version` or size changes. Semantics equal Qdrant's (its local mode is the reference,
see indexes/payload/columns.py); a point without payload behaves like `{}`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.filtering import estimate, views
from hybrid.filtering.parse import parse_filter
from hybrid.filtering.reference import reference_match
from hybrid.filtering.views import FilterView, fit
from indexes.payload.conditions import (
    Condition, FieldCondition, Filter, HasId, HasVector, MatchText, Nested, Slice,
)
from indexes.payload.jsonpath import parse_path
from indexes.payload.numeric import OrderedIndex

__all__ = [
    "Filter", "FilterView", "cardinality", "evaluate", "facet", "order_pairs", "order_values",
    "parse_filter", "reference_match",
]


def evaluate(flt: Filter | Any | None, view: FilterView) -> np.ndarray:
    """bool[view.size]: offsets whose point satisfies `flt` (None: every offset).

    `flt` is a parsed `Filter`, or anything `parse_filter` accepts.
    """
    flt = parse_filter(flt)
    if flt is None:
        return np.ones(view.size, dtype=bool)
    return _filter(flt, view)


def _filter(flt: Filter, view: FilterView) -> np.ndarray:
    """must: AND; must_not: AND NOT; should: OR of all (when any); min_should: count >= k.

    Once no offset is left the remaining clauses are skipped (they could only remove more).
    Condition arrays may be shared (cached, index or segment arrays), so they are combined
    into new arrays, never in place; a filter of one condition returns that condition's
    (read-only) array itself.
    """
    result: np.ndarray | None = None
    for cond in flt.must:
        mask = _condition(cond, view)
        result = mask if result is None else np.logical_and(result, mask)
        if not result.any():
            return result
    for cond in flt.must_not:
        mask = _condition(cond, view)
        result = np.logical_not(mask) if result is None else np.greater(result, mask)  # a & ~b
        if not result.any():
            return result
    if flt.should:
        anyone = _condition(flt.should[0], view)
        for cond in flt.should[1:]:
            anyone = np.logical_or(anyone, _condition(cond, view))
        result = anyone if result is None else np.logical_and(result, anyone)
        if not result.any():
            return result
    if flt.min_should is not None:
        satisfied = np.zeros(view.size, dtype=np.int64)
        for cond in flt.min_should.conditions:
            satisfied += _condition(cond, view)
        enough = satisfied >= flt.min_should.min_count
        result = enough if result is None else np.logical_and(result, enough)
    return np.ones(view.size, dtype=bool) if result is None else result


def _condition(cond: Condition, view: FilterView) -> np.ndarray:
    if isinstance(cond, FieldCondition):
        if isinstance(cond.check, MatchText):  # answered by the collection's text index
            return _field(cond, view)
        # MatchValue(True) == MatchValue(1) in Python, not in Qdrant: the key carries the type
        key = (cond, type(getattr(cond.check, "value", None)))
        return views.cached_leaf(view, key, lambda: _field(cond, view))
    if isinstance(cond, Filter):
        return _filter(cond, view)
    if isinstance(cond, HasId):
        return views.point_id_columns(view).has_id(cond.ids, view.size)
    if isinstance(cond, Slice):
        return views.point_id_columns(view).in_slice(cond.total, cond.index, view.size)
    if isinstance(cond, HasVector):
        return fit(view.vector_present(cond.name), view.size)
    if isinstance(cond, Nested):
        elements = views.elements_view(view, cond.key, cond.path)
        inner = _filter(cond.filter, elements)
        out = np.zeros(view.size, dtype=bool)
        out[elements.owner[inner]] = True
        return out
    raise TypeError(f"unsupported condition {type(cond).__name__}")


def _field(cond: FieldCondition, view: FilterView) -> np.ndarray:
    if isinstance(cond.check, MatchText):
        hit = view.text_match(cond.key, cond.check.kind, cond.check.text)
        if hit is not None:
            return fit(hit, view.size)
    else:
        index = view.payload_index(cond.key)
        if index is not None and hasattr(index, "match"):
            with view.index_lock:
                hit = index.match(cond)
            if hit is not None:
                return fit(hit, view.size)
    return views.columns(view, cond.key, cond.path).match(cond.check)


def cardinality(flt: Filter | Any | None, view: FilterView) -> tuple[int, int, int]:
    """(min, expected, max) offsets matching `flt`, without evaluating unindexed conditions."""
    flt = parse_filter(flt)
    total = view.size
    if flt is None:
        return total, total, total

    def leaf(cond: Condition) -> estimate.Estimate:
        if isinstance(cond, (HasId, HasVector, Slice)):
            count = int(np.count_nonzero(_condition(cond, view)))
            return count, count, count
        if estimate.is_index_candidate(cond):
            index = view.payload_index(cond.key)
            found = None
            if index is not None and hasattr(index, "cardinality"):
                with view.index_lock:
                    found = index.cardinality(cond)
            if found is not None:
                return tuple(min(int(v), total) for v in found)  # type: ignore[return-value]
        return estimate.unknown(total)

    return estimate.estimate_filter(flt, total, leaf)


def facet(
    key: str, view: FilterView, allowed: np.ndarray | None = None, limit: int | None = None,
) -> list[tuple[Any, int]]:
    """Distinct values of `key` with how many allowed offsets hold each (each point counts a
    value once). keyword/integer/bool/uuid index when present, else a column scan of bool, int
    and str values. Ordered by count descending, then value ascending (bool < int < str)."""
    index = view.payload_index(key)
    hits = None
    if index is not None and hasattr(index, "facet_counts"):
        with view.index_lock:
            hits = index.facet_counts(allowed)
    if hits is None:
        hits = views.columns(view, key, parse_path(key)).facet_counts(allowed)
    return hits if limit is None else hits[:limit]


def order_pairs(key: str, view: FilterView) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values) for scroll `order_by`: one entry per distinct (offset, value).

    Values are float64: numbers, and datetime strings as UTC microseconds. A numeric/datetime
    index on `key` is used when present (then only values of its type count, as in Qdrant).
    Sorted by value, then offset.
    """
    index = view.payload_index(key)
    if isinstance(index, OrderedIndex):
        with view.index_lock:
            owners, values = index.order_pairs()
        keep = owners < view.size
        owners, values = owners[keep], values[keep]
    else:
        owners, values = views.columns(view, key, parse_path(key)).order_pairs()
    order = np.lexsort((owners, values))
    owners, values = owners[order], values[order]
    distinct = np.ones(owners.shape, dtype=bool)
    distinct[1:] = (owners[1:] != owners[:-1]) | (values[1:] != values[:-1])
    return owners[distinct], values[distinct]


def order_values(key: str, view: FilterView, descending: bool = False) -> np.ndarray:
    """float64[size]: each offset's first value in the scroll order (its smallest value, or its
    largest when `descending`); NaN for offsets without an orderable value."""
    owners, values = order_pairs(key, view)
    out = np.full(view.size, np.nan)
    if descending:
        owners, values = owners[::-1], values[::-1]
    first = np.unique(owners, return_index=True)[1]
    out[owners[first]] = values[first]
    return out
