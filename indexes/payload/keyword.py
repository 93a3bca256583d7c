"""Keyword, UUID and bool payload indexes (exact-value lookups and facets).

Strings are interned to integer codes (a dict kept by the index), so a lookup is a
`searchsorted` over sorted codes. Prefix and substring matches scan the table of distinct
strings once (vectorised with numpy's variable-width strings), then look the codes up.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import numpy as np

from indexes.payload.conditions import MatchAny, MatchExcept, MatchPrefix, MatchSubstring, MatchValue
from indexes.payload.jsonpath import values_at
from indexes.payload.pairs import PayloadValueIndex, Positions, lookup

_UUID_HYPHENATED = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_SPELLING = re.compile(rf"[0-9a-fA-F]{{32}}|{_UUID_HYPHENATED}|\{{{_UUID_HYPHENATED}\}}|urn:uuid:{_UUID_HYPHENATED}")


def canonical_uuid(text: str) -> str | None:
    """Lowercase hyphenated form of a UUID spelled as Qdrant accepts it, else None."""
    if _UUID_SPELLING.fullmatch(text) is None:
        return None
    return str(uuid.UUID(text))


class KeywordIndex(PayloadValueIndex):
    """String values: match value/any/except, prefix, substring; facets."""

    kind = "keyword"
    scans_strings = True  # prefix/substring are answered from the raw spellings

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self._codes: dict[str, int] = {}
        self._strings: list[str] = []
        self._string_array: np.ndarray | None = None

    def normalize(self, text: str) -> str | None:
        """The indexed spelling of a string value (None = not indexed)."""
        return text

    def _code(self, text: str) -> int:
        code = self._codes.get(text)
        if code is None:
            code = self._codes[text] = len(self._strings)
            self._strings.append(text)
            self._string_array = None
        return code

    def values_of(self, payload: dict) -> list[int]:
        spelled = {self.normalize(v) for v in values_at(payload, self.path) if type(v) is str}
        spelled.discard(None)
        return [self._code(text) for text in spelled]

    def _query_codes(self, values: tuple) -> np.ndarray | None:
        if values and not all(type(v) is str for v in values):
            return None  # integers: not this index's type, the column scan answers
        normalized = (self.normalize(v) for v in values)
        return np.array([self._codes.get(v, -1) for v in normalized if v is not None], dtype=np.int64)

    def _codes_where(self, predicate: Any) -> np.ndarray:
        if self._string_array is None:
            self._string_array = np.array(self._strings, dtype=np.dtypes.StringDType())
        return np.flatnonzero(predicate(self._string_array))

    def positions(self, check: Any) -> tuple[Positions, bool] | None:
        if isinstance(check, MatchValue):
            if type(check.value) is not str:
                return None
            text = self.normalize(check.value)
            code = -1 if text is None else self._codes.get(text, -1)
            if code < 0:
                return slice(0, 0), True
            runs = self.pairs.integer_runs(len(self._strings))
            return slice(runs[code], runs[code + 1]), True
        codes, _ = self.pairs.sorted_view()
        if isinstance(check, MatchAny):
            query = self._query_codes(check.values)
            return None if query is None else (lookup(codes, query), len(query) <= 1)
        if isinstance(check, MatchExcept):
            query = self._query_codes(check.values)
            return None if query is None else (np.flatnonzero(~np.isin(codes, query)), False)
        if isinstance(check, MatchPrefix) and self.scans_strings:
            wanted = self._codes_where(lambda strings: np.strings.startswith(strings, check.prefix))
            return lookup(codes, wanted), wanted.size <= 1
        if isinstance(check, MatchSubstring) and self.scans_strings:
            wanted = self._codes_where(lambda strings: np.strings.find(strings, check.substring) >= 0)
            return lookup(codes, wanted), wanted.size <= 1
        return None

    def facet_counts(self, allowed: np.ndarray | None) -> list[tuple[Any, int]]:
        codes, counts = self._count_values(allowed)
        hits = [(self._strings[c], n) for c, n in zip(codes.tolist(), counts.tolist())]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits


class UuidIndex(KeywordIndex):
    """UUID strings compared by value: any accepted spelling matches any other."""

    kind = "uuid"
    scans_strings = False

    def normalize(self, text: str) -> str | None:
        return canonical_uuid(text)


class BoolIndex(PayloadValueIndex):
    """Boolean values: match value; facets."""

    kind = "bool"
    dtype = np.int8

    def values_of(self, payload: dict) -> list[bool]:
        return list({v for v in values_at(payload, self.path) if type(v) is bool})

    def positions(self, check: Any) -> tuple[Positions, bool] | None:
        if not (isinstance(check, MatchValue) and type(check.value) is bool):
            return None
        values, _ = self.pairs.sorted_view()
        return lookup(values, np.array([int(check.value)], dtype=np.int8)), True

    def facet_counts(self, allowed: np.ndarray | None) -> list[tuple[Any, int]]:
        values, counts = self._count_values(allowed)
        hits = [(bool(v), n) for v, n in zip(values.tolist(), counts.tolist())]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits
