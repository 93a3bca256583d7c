"""Parsed filter conditions: the typed vocabulary shared by the filter evaluator and the indexes.

Mirrors Qdrant's `Filter` JSON (`must`, `should`, `must_not`, `min_should`) with two
normalisations made once at parse time so evaluation never re-reads JSON:
- every payload test is a `FieldCondition(key, path, check)` whose `check` is exactly one test;
  the top-level `{"is_empty": {"key": k}}` / `{"is_null": ...}` become `IsEmpty(True)` /
  `IsNull(True)` checks, which is what Qdrant's `FieldCondition.is_empty` means too;
- bounds are typed: numeric ranges hold floats, datetime ranges hold UTC microseconds, point ids
  are canonical (int, or lowercase hyphenated UUID string).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from indexes.payload.jsonpath import PathItem

TextKind = Literal["text", "text_any", "phrase"]


@dataclass(frozen=True, slots=True)
class MatchValue:
    """Any value equals `value` (type-strict: bool, int and str never cross-match)."""

    value: str | int | bool


@dataclass(frozen=True, slots=True)
class MatchAny:
    """Any value equals one of `values` (all strings or all integers)."""

    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MatchExcept:
    """Some non-null value equals none of `values`."""

    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MatchText:
    """Full-text match: `text` all tokens, `text_any` one token, `phrase` consecutive tokens."""

    text: str
    kind: TextKind


@dataclass(frozen=True, slots=True)
class MatchPrefix:
    """A string value starts with `prefix` (case-sensitive)."""

    prefix: str


@dataclass(frozen=True, slots=True)
class MatchSubstring:
    """A string value contains `substring` (case-sensitive)."""

    substring: str


@dataclass(frozen=True, slots=True)
class Range:
    """A numeric (int or float, never bool) value v with lt > v, lte >= v, gt < v, gte <= v."""

    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None


@dataclass(frozen=True, slots=True)
class DatetimeRange:
    """A datetime-string value within bounds; bounds are UTC microseconds since the epoch."""

    lt: int | None = None
    lte: int | None = None
    gt: int | None = None
    gte: int | None = None


@dataclass(frozen=True, slots=True)
class GeoRadius:
    """A geo value {lat, lon} at haversine distance < `radius` metres from the centre."""

    lat: float
    lon: float
    radius: float


@dataclass(frozen=True, slots=True)
class GeoBoundingBox:
    """A geo value strictly inside the box; lon wraps when top_left.lon > bottom_right.lon."""

    top: float
    left: float
    bottom: float
    right: float


@dataclass(frozen=True, slots=True)
class GeoPolygon:
    """A geo value inside `exterior` and outside every interior ring; rings are (lat, lon)."""

    exterior: tuple[tuple[float, float], ...]
    interiors: tuple[tuple[tuple[float, float], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class ValuesCount:
    """Some selected value's count (array length, 1 for a scalar, 0 for null/missing) in bounds."""

    lt: int | None = None
    lte: int | None = None
    gt: int | None = None
    gte: int | None = None


@dataclass(frozen=True, slots=True)
class IsEmpty:
    """(field missing, or every selected value null or []) == expected."""

    expected: bool = True


@dataclass(frozen=True, slots=True)
class IsNull:
    """(some selected value is null or an array holding a null) == expected."""

    expected: bool = True


Check = Union[
    MatchValue, MatchAny, MatchExcept, MatchText, MatchPrefix, MatchSubstring, Range,
    DatetimeRange, GeoRadius, GeoBoundingBox, GeoPolygon, ValuesCount, IsEmpty, IsNull,
]


@dataclass(frozen=True, slots=True)
class FieldCondition:
    """One test on the values a JSON path selects in a payload."""

    key: str
    path: tuple[PathItem, ...]
    check: Check


@dataclass(frozen=True, slots=True)
class HasId:
    """The point id is one of `ids` (canonical ints and UUID strings)."""

    ids: frozenset[int | str]


@dataclass(frozen=True, slots=True)
class HasVector:
    """The point has the named vector ("" is the default vector)."""

    name: str


@dataclass(frozen=True, slots=True)
class Slice:
    """SipHash-2-4(id bytes) % total == index: one of `total` disjoint, stable id slices."""

    total: int
    index: int


@dataclass(frozen=True, slots=True)
class Nested:
    """Some object element of the array at `path` satisfies `filter` on its own."""

    key: str
    path: tuple[PathItem, ...]
    filter: "Filter"


@dataclass(frozen=True, slots=True)
class MinShould:
    """At least `min_count` of `conditions` hold."""

    conditions: tuple["Condition", ...]
    min_count: int


@dataclass(frozen=True, slots=True)
class Filter:
    """must: all hold; must_not: none holds; should: one holds (if non-empty); min_should."""

    must: tuple["Condition", ...] = ()
    should: tuple["Condition", ...] = ()
    must_not: tuple["Condition", ...] = ()
    min_should: MinShould | None = None


Condition = Union[FieldCondition, HasId, HasVector, Slice, Nested, Filter]
