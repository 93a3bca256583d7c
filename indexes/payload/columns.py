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
from itertools import chain
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
        self.size = size = len(payloads)
        value_owner, selected = _select(payloads, path)
        # per selected value: arrays contribute their elements, anything else itself
        is_list = np.fromiter((type(v) is list for v in selected), dtype=bool, count=len(selected))
        lengths = np.fromiter((len(v) if type(v) is list else 1 for v in selected), dtype=np.int64, count=len(selected))
        flat = np.fromiter(
            chain.from_iterable(v if type(v) is list else (v,) for v in selected), dtype=object, count=int(lengths.sum()),
        )
        owner = np.repeat(value_owner, lengths)
        kinds = np.fromiter(map(type, flat), dtype=object, count=flat.shape[0])
        is_none = kinds == type(None)
        # values_count: a value counts its length (array), 1 (scalar) or 0 (null); no value: one 0
        counts = np.where(is_list, lengths, 1)
        counts[~is_list & (np.fromiter((v is None for v in selected), dtype=bool, count=len(selected)))] = 0
        has_value = np.zeros(size, dtype=bool)
        has_value[value_owner] = True
        missing = np.flatnonzero(~has_value)
        self.count_owner = np.concatenate([value_owner, missing])
        self.counts = np.concatenate([counts, np.zeros(missing.size, dtype=np.int64)])
        self.is_empty = ~any_by_owner(value_owner, counts > 0, size)
        self.is_null = any_by_owner(owner, is_none, size)
        self.non_null = np.bincount(owner[~is_none], minlength=size).astype(np.int64)
        self._classify(flat, kinds, owner)

    def _classify(self, flat: np.ndarray, kinds: np.ndarray, owner: np.ndarray) -> None:
        """Split flat values by type into owner/value arrays (strings become codes)."""
        is_str = kinds == str
        string_codes: dict[str, int] = {}
        codes = [string_codes.setdefault(text, len(string_codes)) for text in flat[is_str].tolist()]
        self.string_codes = string_codes
        self.strings: list[str] = list(string_codes)
        self.str_owner, self.str_code = owner[is_str], np.array(codes, dtype=np.int64)
        is_bool = kinds == bool
        self.bool_owner, self.bool_value = owner[is_bool], np.array(flat[is_bool].tolist(), dtype=bool)
        is_int, is_float = kinds == int, kinds == float
        ints = flat[is_int].tolist()
        fits = np.fromiter((_I64_MIN <= v <= _I64_MAX for v in ints), dtype=bool, count=len(ints))
        int_positions = np.flatnonzero(is_int)
        self.int_owner = owner[int_positions[fits]]
        self.int_value = np.array([v for v, ok in zip(ints, fits) if ok] if not fits.all() else ints, dtype=np.int64)
        big = int_positions[~fits]  # beyond int64: only ranges can see them, as floats
        self.float_owner = np.concatenate([owner[is_float], owner[big]])
        self.float_value = np.array(flat[is_float].tolist() + [float(v) for v in flat[big]], dtype=np.float64)
        dicts = np.flatnonzero(kinds == dict)
        points = [geo.as_geo_point(v) for v in flat[dicts]]
        valid = np.fromiter((p is not None for p in points), dtype=bool, count=len(points))
        coordinates = np.array([p for p in points if p is not None], dtype=np.float64).reshape(-1, 2)
        self.geo_owner = owner[dicts[valid]]
        self.geo_lat, self.geo_lon = coordinates[:, 0].copy(), coordinates[:, 1].copy()

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

    @cached_property
    def _facet_strings(self) -> tuple[list[str], np.ndarray]:
        """Distinct facet spellings (UUIDs canonical) and the facet code of each distinct string."""
        canonical = [_canonical_uuid(text) for text in self.strings]
        names = sorted(set(canonical))
        name_code = {name: code for code, name in enumerate(names)}
        return names, np.array([name_code[c] for c in canonical], dtype=np.int64)

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
            column, owner, wanted = self.str_code, self.str_owner, self._codes_of(values)
        else:
            column, owner, wanted = self.int_value, self.int_owner, np.asarray(values, dtype=np.int64)
        return owner[column == wanted[0] if wanted.size == 1 else np.isin(column, wanted)]

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
        names, code_map = self._facet_strings
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


def _select(payloads: Sequence[dict | None], path: tuple[PathItem, ...]) -> tuple[np.ndarray, list[Any]]:
    """(owner offset, value) of every value `path` selects, arrays kept whole."""
    owners: list[int] = []
    selected: list[Any] = []
    if len(path) == 1 and path[0].key is not None:  # plain top-level key: the common case
        key = path[0].key
        for offset, payload in enumerate(payloads):
            if payload and key in payload:
                owners.append(offset)
                selected.append(payload[key])
    else:
        for offset, payload in enumerate(payloads):
            if payload:
                found = values_at(payload, path, flat=False)
                owners.extend([offset] * len(found))
                selected.extend(found)
    return np.asarray(owners, dtype=np.int64), selected


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
