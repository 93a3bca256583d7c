"""Column scan: the exact evaluator of field conditions on fields that have no payload index.

`FieldColumns` walks a segment's payloads once for one JSON path and keeps what it selects as
flat typed arrays, each value tagged with its owner offset (CSR-like "owner" arrays): integers,
floats, booleans, strings (as codes into a table of distinct strings), geo points, plus the
per-offset facts `values_count`, `is_empty`, `is_null` and `match.except` need. Every condition
is then numpy over those arrays; string work (prefix, text tokens, datetime parsing, UUID
spelling) is done once per *distinct* string, lazily, and cached on the object.

Semantics are Qdrant's (its local mode is the reference): a condition holds when any selected
value satisfies it; arrays are unwrapped one level; bool, int and float are distinct types for
exact matching; `range` sees ints and floats but never bools; `datetime range` sees strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from indexes.payload import geo, ranges
from indexes.payload.conditions import (
    Check, DatetimeRange, GeoBoundingBox, GeoPolygon, GeoRadius, IsEmpty, IsNull, MatchAny,
    MatchExcept, MatchPrefix, MatchSubstring, MatchText, MatchValue, Range, ValuesCount,
)
from indexes.payload.datetimes import parse_micros
from indexes.payload.jsonpath import PathItem, values_at
from indexes.payload.text import TokenTable

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
#: Facet ordering among equal counts: Qdrant's value type order bool < int < str.
_TYPE_RANK = {bool: 0, int: 1, str: 2}


def any_by_owner(owner: np.ndarray, hit: np.ndarray, size: int) -> np.ndarray:
    """bool[size]: True at every owner of a hit value."""
    out = np.zeros(size, dtype=bool)
    out[owner[hit]] = True
    return out


def _canonical_uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


class FieldColumns:
    """Typed value arrays of one JSON path across all offsets of a segment."""

    def __init__(self, payloads: Sequence[dict | None], path: tuple[PathItem, ...]) -> None:
        size = len(payloads)
        self.size = size
        self.is_empty = np.ones(size, dtype=bool)
        self.is_null = np.zeros(size, dtype=bool)
        self.non_null = np.zeros(size, dtype=np.int64)  # flat non-null values per offset
        counts: list[int] = []
        count_owner: list[int] = []
        ints: tuple[list[int], list[int]] = ([], [])
        floats: tuple[list[int], list[float]] = ([], [])
        bools: tuple[list[int], list[bool]] = ([], [])
        strs: tuple[list[int], list[int]] = ([], [])
        geos: tuple[list[int], list[float], list[float]] = ([], [], [])
        string_codes: dict[str, int] = {}
        for offset, payload in enumerate(payloads):
            selected = values_at(payload, path, flat=False) if payload else []
            if not selected or all(value is None for value in selected):
                count_owner.append(offset)
                counts.append(0)
                if selected:
                    self.is_null[offset] = True
                continue
            n_non_null = 0
            for value in selected:
                count_owner.append(offset)
                elements = value if isinstance(value, list) else (value,)
                counts.append(len(elements) if isinstance(value, list) else 0 if value is None else 1)
                for element in elements:
                    if element is None:
                        self.is_null[offset] = True
                        continue
                    n_non_null += 1
                    kind = type(element)
                    if kind is str:
                        strs[0].append(offset)
                        strs[1].append(string_codes.setdefault(element, len(string_codes)))
                    elif kind is bool:
                        bools[0].append(offset)
                        bools[1].append(element)
                    elif kind is int and _I64_MIN <= element <= _I64_MAX:
                        ints[0].append(offset)
                        ints[1].append(element)
                    elif kind is int or kind is float:
                        floats[0].append(offset)
                        floats[1].append(float(element))
                    elif (point := geo.as_geo_point(element)) is not None:
                        geos[0].append(offset)
                        geos[1].append(point[0])
                        geos[2].append(point[1])
            self.non_null[offset] = n_non_null
            self.is_empty[offset] = all(v is None or (isinstance(v, list) and not v) for v in selected)
        self.count_owner = np.asarray(count_owner, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.int_owner, self.int_value = np.asarray(ints[0], np.int64), np.asarray(ints[1], np.int64)
        self.float_owner, self.float_value = np.asarray(floats[0], np.int64), np.asarray(floats[1], np.float64)
        self.bool_owner, self.bool_value = np.asarray(bools[0], np.int64), np.asarray(bools[1], bool)
        self.str_owner, self.str_code = np.asarray(strs[0], np.int64), np.asarray(strs[1], np.int64)
        self.geo_owner = np.asarray(geos[0], np.int64)
        self.geo_lat, self.geo_lon = np.asarray(geos[1], np.float64), np.asarray(geos[2], np.float64)
        self.string_codes = string_codes
        self.strings = list(string_codes)

    # ------------------------------------------------------------------ lazy per-string tables
    @cached_property
    def _string_array(self) -> np.ndarray:
        return np.array(self.strings, dtype=np.dtypes.StringDType())

    @cached_property
    def _tokens(self) -> TokenTable:
        return TokenTable(self.strings)

    @cached_property
    def _string_micros(self) -> tuple[np.ndarray, np.ndarray]:
        """(micros, valid) per distinct string: its datetime value, if it is one."""
        parsed = [parse_micros(text) for text in self.strings]
        valid = np.array([m is not None for m in parsed], dtype=bool)
        micros = np.array([0 if m is None else m for m in parsed], dtype=np.int64)
        return micros, valid

    def _string_hits(self, per_string: np.ndarray) -> np.ndarray:
        """Owners of string values whose distinct string is flagged in `per_string`."""
        return any_by_owner(self.str_owner, per_string[self.str_code], self.size)

    def _codes_of(self, values: Sequence[str]) -> np.ndarray:
        return np.array([self.string_codes.get(v, -1) for v in values], dtype=np.int64)

    # ------------------------------------------------------------------ conditions
    def match(self, check: Check) -> np.ndarray:
        """bool[size]: offsets where `check` holds."""
        if isinstance(check, MatchValue):
            if isinstance(check.value, bool):
                return any_by_owner(self.bool_owner, self.bool_value == check.value, self.size)
            return self._match_values((check.value,))
        if isinstance(check, MatchAny):
            return self._match_values(check.values)
        if isinstance(check, MatchExcept):
            hits = self._value_hits(check.values)
            matched = np.bincount(hits, minlength=self.size) if hits.size else np.zeros(self.size, np.int64)
            return self.non_null > matched
        if isinstance(check, MatchText):
            return self._string_hits(self._tokens.match(check.text, check.kind))
        if isinstance(check, MatchPrefix):
            return self._string_hits(np.strings.startswith(self._string_array, check.prefix))
        if isinstance(check, MatchSubstring):
            return self._string_hits(np.strings.find(self._string_array, check.substring) >= 0)
        if isinstance(check, Range):
            out = any_by_owner(self.int_owner, ranges.int_mask(self.int_value, check), self.size)
            out[self.float_owner[ranges.float_mask(self.float_value, check)]] = True
            return out
        if isinstance(check, DatetimeRange):
            micros, valid = self._string_micros
            return self._string_hits(valid & ranges.int_mask(micros, check))
        if isinstance(check, (GeoRadius, GeoBoundingBox, GeoPolygon)):
            return any_by_owner(self.geo_owner, geo.geo_check(self.geo_lat, self.geo_lon, check), self.size)
        if isinstance(check, ValuesCount):
            return any_by_owner(self.count_owner, _count_mask(self.counts, check), self.size)
        if isinstance(check, IsEmpty):
            return self.is_empty == check.expected
        if isinstance(check, IsNull):
            return self.is_null == check.expected
        raise TypeError(f"unsupported field check {type(check).__name__}")

    def _value_hits(self, values: tuple) -> np.ndarray:
        """Owner offset of every selected value equal (type-strictly) to one of `values`."""
        if not values:
            return np.empty(0, dtype=np.int64)
        if isinstance(values[0], str):
            return self.str_owner[np.isin(self.str_code, self._codes_of(values))]
        return self.int_owner[np.isin(self.int_value, np.asarray(values, dtype=np.int64))]

    def _match_values(self, values: tuple) -> np.ndarray:
        out = np.zeros(self.size, dtype=bool)
        out[self._value_hits(values)] = True
        return out

    # ------------------------------------------------------------------ facets and ordering
    def facet_counts(self, allowed: np.ndarray | None) -> list[tuple[Any, int]]:
        """(value, number of allowed offsets having it) for bool, int and str values.

        Strings that spell a UUID are counted in canonical form. Order: count descending,
        then bool < int < str, then value ascending.
        """
        canonical = [_canonical_uuid(text) for text in self.strings]
        names = sorted(set(canonical))
        name_code = {name: code for code, name in enumerate(names)}
        code_map = np.array([name_code[c] for c in canonical], dtype=np.int64)
        hits: list[tuple[Any, int]] = []
        for owner, values, decode in (
            (self.bool_owner, self.bool_value.astype(np.int64), lambda v: bool(v)),
            (self.int_owner, self.int_value, int),
            (self.str_owner, code_map[self.str_code] if names else self.str_code, lambda c: names[c]),
        ):
            if allowed is not None:
                keep = allowed[owner]
                owner, values = owner[keep], values[keep]
            pairs = np.unique(np.stack([values, owner], axis=1), axis=0) if owner.size else np.empty((0, 2), np.int64)
            distinct, counts = np.unique(pairs[:, 0], return_counts=True)
            hits.extend((decode(v), int(c)) for v, c in zip(distinct.tolist(), counts.tolist()))
        hits.sort(key=lambda hit: (-hit[1], _TYPE_RANK[type(hit[0])], hit[0]))
        return hits

    def order_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(owners, float64 values) of every orderable value: numbers and datetime strings (µs)."""
        micros, valid = self._string_micros
        is_datetime = valid[self.str_code]
        owners = np.concatenate([self.int_owner, self.float_owner, self.str_owner[is_datetime]])
        values = np.concatenate([
            self.int_value.astype(np.float64), self.float_value,
            micros[self.str_code[is_datetime]].astype(np.float64),
        ])
        return owners, values


def _count_mask(counts: np.ndarray, check: ValuesCount) -> np.ndarray:
    mask = np.ones(counts.shape, dtype=bool)
    if check.lt is not None:
        mask &= counts < check.lt
    if check.lte is not None:
        mask &= counts <= check.lte
    if check.gt is not None:
        mask &= counts > check.gt
    if check.gte is not None:
        mask &= counts >= check.gte
    return mask
