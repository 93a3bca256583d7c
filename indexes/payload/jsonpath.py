"""Qdrant JSON paths (`a.b`, `arr[].x`, `arr[0]`, `"dotted.key".x`) and value extraction.

A path is a sequence of items: a key (bare `[A-Za-z0-9_-]` and other alphanumerics, or a
double-quoted string without escapes), each followed by any number of `[]` (every element)
or `[n]` (one element). A key applies only to an object and an index only to an array: arrays
in the middle of a path are *not* traversed implicitly (`a.b` on `{"a": [{"b": 1}]}` selects
nothing; write `a[].b`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

_U64_MAX = (1 << 64) - 1


class PathItem(NamedTuple):
    """One step: `key` (str) for an object field, or `index` (int, -1 = every element)."""

    key: str | None
    index: int


WILDCARD = -1


def _bare_key_length(path: str, start: int) -> int:
    end = start
    while end < len(path) and (path[end].isalnum() or path[end] in "_-"):
        end += 1
    return end - start


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[PathItem, ...]:
    """Items of `path`; raises ValueError("invalid JSON path ...") when malformed or empty."""
    if not isinstance(path, str):
        raise TypeError(f"JSON path must be a string, got {type(path).__name__}")
    items: list[PathItem] = []
    pos = 0
    while True:
        if path.startswith('"', pos):
            close = path.find('"', pos + 1)
            if close == -1:
                raise ValueError(f"invalid JSON path {path!r}: unclosed quote")
            items.append(PathItem(path[pos + 1 : close], WILDCARD))
            pos = close + 1
        else:
            length = _bare_key_length(path, pos)
            if length == 0:
                raise ValueError(f"invalid JSON path {path!r}: expected a key at position {pos}")
            items.append(PathItem(path[pos : pos + length], WILDCARD))
            pos += length
        while path.startswith("[", pos):
            close = path.find("]", pos)
            if close == -1:
                raise ValueError(f"invalid JSON path {path!r}: unclosed bracket")
            inside = path[pos + 1 : close]
            if inside == "":
                items.append(PathItem(None, WILDCARD))
            elif inside.isascii() and inside.isdigit() and int(inside) <= _U64_MAX:
                items.append(PathItem(None, int(inside)))
            else:
                raise ValueError(f"invalid JSON path {path!r}: bad index [{inside}]")
            pos = close + 1
        if pos == len(path):
            return tuple(items)
        if path[pos] != "." or pos + 1 == len(path):
            raise ValueError(f"invalid JSON path {path!r}: unexpected character at position {pos}")
        pos += 1


def values_at(payload: Any, path: tuple[PathItem, ...], flat: bool = True) -> list[Any]:
    """Every value `path` selects in `payload` (empty list when none).

    With `flat`, a selected array contributes its elements (one level), like Qdrant's value
    matching; without it arrays stay whole, as `values_count`, `is_empty` and `is_null` need.
    """
    current = [payload]
    for item in path:
        following: list[Any] = []
        if item.key is not None:
            for data in current:
                if isinstance(data, dict) and item.key in data:
                    following.append(data[item.key])
        elif item.index == WILDCARD:
            for data in current:
                if isinstance(data, list):
                    following.extend(data)
        else:
            for data in current:
                if isinstance(data, list) and item.index < len(data):
                    following.append(data[item.index])
        current = following
        if not current:
            return current
    if not flat:
        return current
    flattened: list[Any] = []
    for value in current:
        if isinstance(value, list):
            flattened.extend(value)
        else:
            flattened.append(value)
    return flattened
