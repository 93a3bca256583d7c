"""Plain-Python reference evaluator: one point at a time, straight from the definitions.

Slow by design and independent of the columnar code, it is the oracle the vectorised
evaluator is tested against (and a readable statement of the semantics).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from hybrid.filtering.parse import parse_filter
from indexes.payload import geo
from indexes.payload.conditions import (
    Check, Condition, DatetimeRange, FieldCondition, Filter, GeoBoundingBox, GeoPolygon,
    GeoRadius, HasId, HasVector, IsEmpty, IsNull, MatchAny, MatchExcept, MatchPrefix,
    MatchSubstring, MatchText, MatchValue, Nested, Range, Slice, ValuesCount,
)
from indexes.payload.datetimes import parse_micros
from indexes.payload.jsonpath import values_at
from indexes.payload.slices import id_hashes
from indexes.payload.text import tokenize


def _same(value: Any, wanted: Any) -> bool:
    """Qdrant's typed equality: bools only equal bools, floats never equal a match operand."""
    if isinstance(value, bool) != isinstance(wanted, bool) or isinstance(value, float):
        return False
    return type(value) is type(wanted) and value == wanted


def _in_bounds(x: Any, lt: Any, lte: Any, gt: Any, gte: Any) -> bool:
    return ((lt is None or x < lt) and (lte is None or x <= lte)
            and (gt is None or x > gt) and (gte is None or x >= gte))


def _value_holds(check: Check, value: Any) -> bool:
    """Does one (flattened) selected value satisfy a value-level check?"""
    if isinstance(check, MatchValue):
        return _same(value, check.value)
    if isinstance(check, MatchAny):
        return any(_same(value, v) for v in check.values)
    if isinstance(check, MatchExcept):
        return value is not None and not any(_same(value, v) for v in check.values)
    if isinstance(check, (MatchText, MatchPrefix, MatchSubstring)):
        if not isinstance(value, str):
            return False
        if isinstance(check, MatchPrefix):
            return value.startswith(check.prefix)
        if isinstance(check, MatchSubstring):
            return check.substring in value
        query, document = tokenize(check.text), tokenize(value)
        if check.kind == "text":
            return bool(query) and set(query) <= set(document)
        if check.kind == "text_any":
            return bool(set(query) & set(document))
        n = len(query)
        return n > 0 and any(document[i : i + n] == query for i in range(len(document) - n + 1))
    if isinstance(check, Range):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return _in_bounds(value, check.lt, check.lte, check.gt, check.gte)
    if isinstance(check, DatetimeRange):
        micros = parse_micros(value) if isinstance(value, str) else None
        return micros is not None and _in_bounds(micros, check.lt, check.lte, check.gt, check.gte)
    if isinstance(check, (GeoRadius, GeoBoundingBox, GeoPolygon)):
        point = geo.as_geo_point(value)
        return point is not None and bool(geo.geo_check(np.array([point[0]]), np.array([point[1]]), check)[0])
    raise TypeError(f"not a value-level check: {type(check).__name__}")


def _field_holds(cond: FieldCondition, payload: dict) -> bool:
    check = cond.check
    if isinstance(check, (ValuesCount, IsEmpty, IsNull)):
        whole = values_at(payload, cond.path, flat=False)
        if isinstance(check, IsEmpty):
            empty = all(v is None or v == [] for v in whole)
            return empty == check.expected
        if isinstance(check, IsNull):
            null = any(v is None or (isinstance(v, list) and None in v) for v in whole)
            return null == check.expected
        if all(v is None for v in whole):
            counts = [0]
        else:
            counts = [0 if v is None else len(v) if isinstance(v, list) else 1 for v in whole]
        return any(_in_bounds(c, check.lt, check.lte, check.gt, check.gte) for c in counts)
    return any(_value_holds(check, v) for v in values_at(payload, cond.path))


def _holds(cond: Condition, payload: dict, point_id: Any, vectors: set[str]) -> bool:
    if isinstance(cond, FieldCondition):
        return _field_holds(cond, payload)
    if isinstance(cond, Filter):
        return _filter_holds(cond, payload, point_id, vectors)
    if isinstance(cond, HasId):
        return point_id is not None and point_id in cond.ids
    if isinstance(cond, HasVector):
        return cond.name in vectors
    if isinstance(cond, Slice):
        return point_id is not None and int(id_hashes([point_id])[0]) % cond.total == cond.index
    if isinstance(cond, Nested):
        elements = [e for v in values_at(payload, cond.path, flat=False) if isinstance(v, list)
                    for e in v if isinstance(e, dict)]
        return any(_filter_holds(cond.filter, e, None, set()) for e in elements)
    raise TypeError(f"unsupported condition {type(cond).__name__}")


def _filter_holds(flt: Filter, payload: dict, point_id: Any, vectors: set[str]) -> bool:
    if not all(_holds(c, payload, point_id, vectors) for c in flt.must):
        return False
    if any(_holds(c, payload, point_id, vectors) for c in flt.must_not):
        return False
    if flt.should and not any(_holds(c, payload, point_id, vectors) for c in flt.should):
        return False
    if flt.min_should is not None:
        satisfied = sum(_holds(c, payload, point_id, vectors) for c in flt.min_should.conditions)
        if satisfied < flt.min_should.min_count:
            return False
    return True


def reference_match(flt_json: Any, payload: dict | None, point_id: int | str | None, vectors: set[str]) -> bool:
    """Whether one point (payload, id, names of the vectors it has) satisfies a filter."""
    flt = parse_filter(flt_json)
    if flt is None:
        return True
    if isinstance(point_id, str):
        point_id = str(uuid.UUID(point_id))
    return _filter_holds(flt, payload or {}, point_id, vectors)
