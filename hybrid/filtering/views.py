"""Per-segment caches for filter evaluation: payload columns, point-id arrays, nested elements.

Everything is stored in the view's scratch `cache` under one entry stamped with
`(payload_version, size)`; when either changes the whole entry is dropped and rebuilt lazily,
path by path, on the next query that needs it. (Building walks payload JSON once per path; a
query afterwards is numpy only.) Evaluated field conditions are kept too, least recently used
first out, within LEAF_CACHE_BYTES per view (Lucene's query cache idea: a popular filter such
as one category then costs nothing after its first query).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from indexes.payload.columns import FieldColumns
from indexes.payload.jsonpath import PathItem, values_at
from indexes.payload.slices import id_hashes

_CACHE_KEY = "hybrid.filters"
_LEAVES_LOCK = threading.Lock()
#: Bitset bytes of evaluated conditions kept per view (a 200,000-point bitset is 200 KB).
LEAF_CACHE_BYTES = 16 << 20


class FilterView(Protocol):
    """What the filter evaluator needs from a segment."""

    size: int  # number of offsets in the segment
    payloads: Sequence[dict | None]  # payload per offset (None = no payload / empty slot)
    payload_version: int  # bumps on every payload change in the segment
    cache: dict  # scratch dict owned by the filter code (column caches)
    index_lock: Any  # held while reading payload indexes (writers update the appendable one's in place)

    def point_ids(self) -> Sequence[int | str | None]:
        """External id per offset (int or canonical UUID string); None = empty slot."""

    def vector_present(self, name: str) -> np.ndarray:
        """bool per offset: the point has vector `name` ("" = default vector)."""

    def payload_index(self, key: str) -> object | None:
        """The payload index on `key`, if one was created."""

    def text_match(self, key: str, kind: str, text: str) -> np.ndarray | None:
        """bool per offset from the full-text index on `key`, or None when there is none."""


def scratch(view: FilterView) -> dict:
    """This view's filter cache, emptied when its payloads or size changed."""
    stamp = (view.payload_version, view.size)
    store = view.cache.get(_CACHE_KEY)
    if store is None or store["stamp"] != stamp:
        store = view.cache[_CACHE_KEY] = {"stamp": stamp}
    return store


def cached_leaf(view: FilterView, key: Hashable, evaluate: Callable[[], np.ndarray]) -> np.ndarray:
    """`evaluate()` (a condition's mask), remembered under `key` (read-only) until the view's
    payloads or size change."""
    store = scratch(view)
    with _LEAVES_LOCK:  # readers share the cache: its bookkeeping is not atomic
        leaves: OrderedDict = store.setdefault("leaves", OrderedDict())
        found = leaves.get(key)
        if found is not None:
            leaves.move_to_end(key)
            return found
    mask = evaluate()
    if mask.base is not None:  # a view of an index's array: keep only what is ours
        mask = mask.copy()
    mask.flags.writeable = False
    with _LEAVES_LOCK:
        if key not in leaves:
            leaves[key] = mask
            store["leaf_bytes"] = store.get("leaf_bytes", 0) + mask.nbytes
        while store["leaf_bytes"] > LEAF_CACHE_BYTES and len(leaves) > 1:
            store["leaf_bytes"] -= leaves.popitem(last=False)[1].nbytes
    return mask


def columns(view: FilterView, key: str, path: tuple[PathItem, ...]) -> FieldColumns:
    """Typed columns of `key` over the view's payloads (cached)."""
    store = scratch(view)
    found = store.get(("columns", key))
    if found is None:
        found = store[("columns", key)] = FieldColumns(view.payloads, path)
    return found


class PointIdColumns:
    """Point ids as arrays: uint64 for integer ids, dense codes for UUIDs (-1 elsewhere)."""

    def __init__(self, ids: Sequence[int | str | None]) -> None:
        self._ids = ids
        self.is_int = np.array([type(i) is int for i in ids], dtype=bool)
        self.ints = np.array([i if type(i) is int else 0 for i in ids], dtype=np.uint64)
        self.uuid_codes: dict[str, int] = {}
        self.codes = np.array(
            [self.uuid_codes.setdefault(i, len(self.uuid_codes)) if type(i) is str else -1 for i in ids],
            dtype=np.int64,
        )

    @cached_property
    def slice_hashes(self) -> np.ndarray:
        return id_hashes(self._ids)

    def in_slice(self, total: int, index: int, size: int) -> np.ndarray:
        """Ids whose SipHash-2-4 modulo `total` is `index` (empty slots never are)."""
        occupied = self.is_int | (self.codes >= 0)
        return fit(occupied & (self.slice_hashes % np.uint64(total) == np.uint64(index)), size)

    def has_id(self, wanted: frozenset[int | str], size: int) -> np.ndarray:
        ints = np.array([i for i in wanted if type(i) is int], dtype=np.uint64)
        codes = np.array([self.uuid_codes[i] for i in wanted if type(i) is str and i in self.uuid_codes], dtype=np.int64)
        out = self.is_int & np.isin(self.ints, ints)
        if codes.size:
            out |= np.isin(self.codes, codes)
        return fit(out, size)


def point_id_columns(view: FilterView) -> PointIdColumns:
    store = scratch(view)
    found = store.get("ids")
    if found is None:
        found = store["ids"] = PointIdColumns(view.point_ids())
    return found


class ElementsView:
    """The object elements of the arrays at one path, as a view of their own (for `nested`).

    Element i belongs to offset `owner[i]` of the parent. Elements have no ids, vectors or
    indexes, so `has_id` and `has_vector` never hold inside a nested filter (as in Qdrant's
    local mode).
    """

    def __init__(self, parent: FilterView, path: tuple[PathItem, ...]) -> None:
        elements: list[dict] = []
        owners: list[int] = []
        for offset, payload in enumerate(parent.payloads):
            if not payload:
                continue
            for value in values_at(payload, path, flat=False):
                if isinstance(value, list):
                    for element in value:
                        if isinstance(element, dict):
                            elements.append(element)
                            owners.append(offset)
        self.payloads = elements
        self.owner = np.asarray(owners, dtype=np.int64)
        self.size = len(elements)
        self.payload_version = 0
        self.cache: dict = {}
        self.index_lock = contextlib.nullcontext()

    def point_ids(self) -> Sequence[int | str | None]:
        return [None] * self.size

    def vector_present(self, name: str) -> np.ndarray:
        return np.zeros(self.size, dtype=bool)

    def payload_index(self, key: str) -> Any:
        return None

    def text_match(self, key: str, kind: str, text: str) -> np.ndarray | None:
        return None


def elements_view(view: FilterView, key: str, path: tuple[PathItem, ...]) -> ElementsView:
    store = scratch(view)
    found = store.get(("nested", key))
    if found is None:
        found = store[("nested", key)] = ElementsView(view, path)
    return found


def fit(mask: Any, size: int) -> np.ndarray:
    """`mask` as bool[size]: truncated, or padded with False (indexes may lag the segment size)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape[0] == size:
        return mask
    if mask.shape[0] > size:
        return mask[:size]
    out = np.zeros(size, dtype=bool)
    out[: mask.shape[0]] = mask
    return out
