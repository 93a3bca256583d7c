"""Parse Qdrant's filter JSON into the typed conditions of `indexes.payload.conditions`.

Input may be a dict in Qdrant's JSON shape, a msgspec Struct or a `qdrant_client.models`
object (anything with `model_dump`), also mixed inside one tree. Errors are ValueError (or
TypeError) whose message starts with the JSON path of the offending field, e.g.
`filter.must[2].range.gte: expected a number`.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec

from indexes.payload.conditions import (
    Check, Condition, DatetimeRange, FieldCondition, Filter, GeoBoundingBox, GeoPolygon,
    GeoRadius, HasId, HasVector, IsEmpty, IsNull, MatchAny, MatchExcept, MatchPrefix,
    MatchSubstring, MatchText, MatchValue, MinShould, Nested, Range, Slice, ValuesCount,
)
from indexes.payload.datetimes import parse_micros, to_micros
from indexes.payload.jsonpath import PathItem, parse_path

_I64_MIN, _I64_MAX, _U64 = -(1 << 63), (1 << 63) - 1, 1 << 64
_FILTER_KEYS = ("must", "should", "must_not", "min_should")
#: FieldCondition tests in the order Qdrant's local mode picks the first one given.
_FIELD_TESTS = ("values_count", "is_empty", "is_null", "match", "range", "geo_bounding_box", "geo_radius", "geo_polygon")
_MATCH_KINDS = ("value", "any", "except", "text", "text_any", "phrase", "prefix", "substring")


def _fail(path: str, problem: str) -> ValueError:
    return ValueError(f"{path}: {problem}")


def _as_json(node: Any) -> Any:
    """A model object as Qdrant JSON (aliases applied, nulls dropped); other values unchanged."""
    if hasattr(node, "model_dump"):
        try:
            return node.model_dump(exclude_none=True, by_alias=True, mode="json")
        except TypeError:  # a model_dump without pydantic's keywords (e.g. our msgspec models)
            return node.model_dump()
    if isinstance(node, msgspec.Struct):
        return msgspec.to_builtins(node)
    return node


def _object(node: Any, path: str, allowed: tuple[str, ...] | None = None) -> dict:
    """`node` as a dict without null entries; unknown keys are errors when `allowed` is given."""
    if type(node) is not dict:  # plain JSON (the common case) skips the model probes
        node = _as_json(node)
        if not isinstance(node, dict):
            raise _fail(path, f"expected an object, got {type(node).__name__}")
    for value in node.values():
        if value is None:  # nulls mean "not given"
            node = {k: v for k, v in node.items() if v is not None}
            break
    if allowed is not None:
        for name in node:
            if name not in allowed:
                raise _fail(f"{path}.{name}", "unknown field")
    return node


def _required(node: dict, name: str, path: str) -> Any:
    if name not in node:
        raise _fail(f"{path}.{name}", "field is required")
    return node[name]


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, "expected a number")
    return float(value)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, "expected a string")
    return value


def _json_path(value: Any, path: str) -> tuple[PathItem, ...]:
    try:
        return parse_path(_string(value, path))
    except ValueError as exc:
        raise _fail(path, str(exc)) from None


def _conditions(value: Any, path: str) -> tuple[Condition, ...]:
    """A clause: one condition or a list of them."""
    if type(value) is not list:
        value = _as_json(value)
    if isinstance(value, (list, tuple)):
        return tuple(_condition(item, f"{path}[{i}]") for i, item in enumerate(value))
    return (_condition(value, path),)


def _filter(node: Any, path: str) -> Filter:
    data = _object(node, path, _FILTER_KEYS)
    min_should = None
    if "min_should" in data:
        spec = _object(data["min_should"], f"{path}.min_should", ("conditions", "min_count"))
        count = _required(spec, "min_count", f"{path}.min_should")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _fail(f"{path}.min_should.min_count", "expected an integer >= 1")
        items = _as_json(_required(spec, "conditions", f"{path}.min_should"))
        if not isinstance(items, (list, tuple)):
            raise _fail(f"{path}.min_should.conditions", "expected a list of conditions")
        min_should = MinShould(_conditions(items, f"{path}.min_should.conditions"), count)
    return Filter(
        must=_conditions(data["must"], f"{path}.must") if "must" in data else (),
        should=_conditions(data["should"], f"{path}.should") if "should" in data else (),
        must_not=_conditions(data["must_not"], f"{path}.must_not") if "must_not" in data else (),
        min_should=min_should,
    )


def _condition(node: Any, path: str) -> Condition:
    data = _object(node, path)
    if "key" in data:
        return _field_condition(data, path)
    if "is_empty" in data or "is_null" in data:
        name = "is_empty" if "is_empty" in data else "is_null"
        _object(data, path, (name,))
        field = _object(data[name], f"{path}.{name}", ("key",))
        key = _string(_required(field, "key", f"{path}.{name}"), f"{path}.{name}.key")
        check = IsEmpty(True) if name == "is_empty" else IsNull(True)
        return FieldCondition(key, _json_path(key, f"{path}.{name}.key"), check)
    if "has_id" in data:
        _object(data, path, ("has_id",))
        return HasId(_point_ids(data["has_id"], f"{path}.has_id"))
    if "has_vector" in data:
        _object(data, path, ("has_vector",))
        return HasVector(_string(data["has_vector"], f"{path}.has_vector"))
    if "nested" in data:
        _object(data, path, ("nested",))
        nested = _object(data["nested"], f"{path}.nested", ("key", "filter"))
        key = _string(_required(nested, "key", f"{path}.nested"), f"{path}.nested.key")
        array_key = key[:-2] if len(key) > 2 and key.endswith("[]") else key
        inner = _filter(_required(nested, "filter", f"{path}.nested"), f"{path}.nested.filter")
        return Nested(key, _json_path(array_key, f"{path}.nested.key"), inner)
    if "slice" in data:
        _object(data, path, ("slice",))
        spec = _object(data["slice"], f"{path}.slice", ("total", "index"))
        total, index = (_required(spec, name, f"{path}.slice") for name in ("total", "index"))
        if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total < 1 << 32:
            raise _fail(f"{path}.slice.total", "expected an integer in [1, 2^32)")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < total:
            raise _fail(f"{path}.slice.index", f"expected an integer in [0, {total})")
        return Slice(total, index)
    return _filter(data, path)


def _field_condition(data: dict, path: str) -> FieldCondition:
    _object(data, path, ("key",) + _FIELD_TESTS)
    key = _string(data["key"], f"{path}.key")
    json_path = _json_path(key, f"{path}.key")
    for name in _FIELD_TESTS:
        if name in data:
            return FieldCondition(key, json_path, _field_test(name, data[name], f"{path}.{name}"))
    raise _fail(path, f"a field condition needs one of {', '.join(_FIELD_TESTS)}")


def _field_test(name: str, value: Any, path: str) -> Check:
    if name in ("is_empty", "is_null"):
        if not isinstance(value, bool):
            raise _fail(path, "expected a boolean")
        return IsEmpty(value) if name == "is_empty" else IsNull(value)
    if name == "values_count":
        bounds = _object(value, path, ("lt", "lte", "gt", "gte"))
        for bound, number in bounds.items():
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise _fail(f"{path}.{bound}", "expected a non-negative integer")
        return ValuesCount(**bounds)
    if name == "match":
        return _match(value, path)
    if name == "range":
        return _range(value, path)
    if name == "geo_radius":
        spec = _object(value, path, ("center", "radius"))
        lat, lon = _geo_point(_required(spec, "center", path), f"{path}.center")
        return GeoRadius(lat, lon, _number(_required(spec, "radius", path), f"{path}.radius"))
    if name == "geo_bounding_box":
        spec = _object(value, path, ("top_left", "bottom_right"))
        top, left = _geo_point(_required(spec, "top_left", path), f"{path}.top_left")
        bottom, right = _geo_point(_required(spec, "bottom_right", path), f"{path}.bottom_right")
        return GeoBoundingBox(top, left, bottom, right)
    spec = _object(value, path, ("exterior", "interiors"))
    exterior = _geo_ring(_required(spec, "exterior", path), f"{path}.exterior")
    interiors = _as_json(spec.get("interiors", []))
    if not isinstance(interiors, (list, tuple)):
        raise _fail(f"{path}.interiors", "expected a list of line strings")
    return GeoPolygon(exterior, tuple(_geo_ring(r, f"{path}.interiors[{i}]") for i, r in enumerate(interiors)))


def _match(value: Any, path: str) -> Check:
    spec = _object(value, path, _MATCH_KINDS)
    if len(spec) != 1:
        raise _fail(path, f"expected exactly one of {', '.join(_MATCH_KINDS)}")
    (kind, operand), = spec.items()
    where = f"{path}.{kind}"
    if kind == "value":
        if isinstance(operand, str) or isinstance(operand, bool):
            return MatchValue(operand)
        if isinstance(operand, int) and _I64_MIN <= operand <= _I64_MAX:
            return MatchValue(operand)
        raise _fail(where, "expected a string, a 64-bit integer or a boolean")
    if kind in ("any", "except"):
        values = _any_variants(operand, where)
        return MatchAny(values) if kind == "any" else MatchExcept(values)
    text = _string(operand, where)
    if kind == "prefix":
        return MatchPrefix(text)
    if kind == "substring":
        return MatchSubstring(text)
    return MatchText(text, kind)  # type: ignore[arg-type]


def _any_variants(operand: Any, path: str) -> tuple[str, ...] | tuple[int, ...]:
    if not isinstance(operand, (list, tuple)):
        raise _fail(path, "expected a list of strings or of integers")
    if all(isinstance(v, str) for v in operand):
        return tuple(dict.fromkeys(operand))
    for i, v in enumerate(operand):
        if isinstance(v, bool) or not isinstance(v, int) or not _I64_MIN <= v <= _I64_MAX:
            raise _fail(f"{path}[{i}]", "expected all strings or all 64-bit integers")
    return tuple(dict.fromkeys(operand))


def _range(value: Any, path: str) -> Range | DatetimeRange:
    """Numbers make a numeric range; any string or date makes a datetime range (Qdrant's order)."""
    bounds = _object(value, path, ("lt", "lte", "gt", "gte"))
    if not any(isinstance(v, (str, date)) for v in bounds.values()):
        return Range(**{name: _number(v, f"{path}.{name}") for name, v in bounds.items()})
    micros: dict[str, int] = {}
    for name, bound in bounds.items():
        if isinstance(bound, date):
            micros[name] = to_micros(bound)
            continue
        parsed = parse_micros(bound) if isinstance(bound, str) else None
        if parsed is None:
            raise _fail(f"{path}.{name}", "expected an RFC 3339 datetime string (or all bounds numbers)")
        micros[name] = parsed
    return DatetimeRange(**micros)


def _geo_point(value: Any, path: str) -> tuple[float, float]:
    point = _object(value, path, ("lat", "lon"))
    lat = _number(_required(point, "lat", path), f"{path}.lat")
    lon = _number(_required(point, "lon", path), f"{path}.lon")
    if not -90.0 <= lat <= 90.0:
        raise _fail(f"{path}.lat", "latitude must be within [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise _fail(f"{path}.lon", "longitude must be within [-180, 180]")
    return lat, lon


def _geo_ring(value: Any, path: str) -> tuple[tuple[float, float], ...]:
    line = _object(value, path, ("points",))
    points = _as_json(_required(line, "points", path))
    if not isinstance(points, (list, tuple)):
        raise _fail(f"{path}.points", "expected a list of geo points")
    ring = tuple(_geo_point(p, f"{path}.points[{i}]") for i, p in enumerate(points))
    if len(ring) < 4:
        raise _fail(f"{path}.points", "a polygon ring needs at least 4 points")
    if ring[0] != ring[-1]:
        raise _fail(f"{path}.points", "a polygon ring must end with its first point")
    return ring


def _point_ids(value: Any, path: str) -> frozenset[int | str]:
    value = _as_json(value)
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise _fail(path, "expected a list of point ids")
    ids: set[int | str] = set()
    for i, item in enumerate(value):
        if isinstance(item, uuid.UUID):
            ids.add(str(item))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < _U64:
            ids.add(item)
        elif isinstance(item, str):
            try:
                ids.add(str(uuid.UUID(item)))
            except ValueError:
                raise _fail(f"{path}[{i}]", f"{item!r} is not a UUID") from None
        else:
            raise _fail(f"{path}[{i}]", "expected an unsigned integer or a UUID string")
    return frozenset(ids)


def parse_filter(obj: Any, field: str = "filter") -> Filter | None:
    """Typed `Filter` of a Qdrant filter (dict, msgspec Struct or qdrant-client model); None stays None."""
    if obj is None:
        return None
    if isinstance(obj, Filter):
        return obj
    return _filter(obj, field)
