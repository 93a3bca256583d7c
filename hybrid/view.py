"""What one read sees: a `CollectionView`, taken under the collection lock in O(segments).

Snapshot isolation (DESIGN.md section 4b, after Qdrant's segment holder): a read sees exactly
the writes acknowledged before its view was taken, however many writers run meanwhile. It
holds, per segment, the visible length and the arrays as of that instant; writers keep those
rows unchanged:

- the appendable segment is append-only: a new version of a point goes to a fresh offset
  (the old one is tombstoned), so rows below a view's `size` never change; growable arrays
  are swapped, never resized in place, when they grow;
- deletion bitsets are copy-on-write once a view holds them (`Segment.shared_deleted`), IDF
  statistics likewise (`TermStats.shared`);
- vector stores are shared: reads address them below the visible size only;
- structures updated in place (the appendable segment's payload indexes and growable sparse
  index) are read under a lock that writers hold while updating them; their answers about
  offsets below the view's size cannot change, the rest is cut off;
- text searchers are tantivy searchers opened at the view's instant;
- the optimizer swaps segments by replacing the collection's list: views keep the old ones.

A view quacks like the collection for the read path: `schema`, `segments`, `appendable`,
`text`, `df`/`docs_with`, `where` (locations resolved inside the view).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Iterator, Optional

import numpy as np

from hybrid.ids import ID_KEY_DTYPE, PointId, id_key_bytes
from hybrid.segment import FilterViewMethods

if TYPE_CHECKING:
    from hybrid.collection import Collection
    from hybrid.segment import Segment


class Prefix(Sequence):
    """The first `size` items of a list that writers keep appending to."""

    __slots__ = ("_items", "_size")

    def __init__(self, items: list, size: int) -> None:
        self._items, self._size = items, size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._items[j] for j in range(*i.indices(self._size))]
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError(i)
        return self._items[i]

    def __iter__(self) -> Iterator:
        return itertools.islice(self._items, self._size)

    def take(self, offsets: np.ndarray) -> list:
        """The items at `offsets` (all below the size: a read's hits)."""
        items = self._items
        return [items[o] for o in offsets.tolist()]


#: The lock of segments whose payload indexes never change (sealed ones).
_NO_LOCK = contextlib.nullcontext()


class SegmentView(FilterViewMethods):
    """One segment as a read sees it (the `FilterView` protocol, plus what search reads).

    Vector stores are shared with the segment: a read addresses them below the visible size
    only, where the appendable segment's rows never change (writes go past it, growth swaps
    arrays whose rows it copied first)."""

    __slots__ = ("segment", "schema", "name", "appendable", "compacted", "size", "keys", "pids", "versions",
                 "deleted", "deleted_version", "payload_version", "cache", "text_match_of", "ids", "payloads",
                 "vectors", "payload_indexes", "index_lock", "_live", "_base")

    def __init__(self, seg: "Segment", text_match: Any) -> None:  # under the collection lock
        self.segment = seg
        self.schema = seg.schema
        self.name = seg.name
        self.appendable = seg.appendable
        self.compacted = seg.compacted
        self.size = size = seg.size
        self.keys, self.pids, self.versions = seg.keys, seg.pids, seg.versions
        self.deleted = seg.shared_deleted()
        self.deleted_version = seg.deleted_version
        self.payload_version = seg.payload_version
        self.cache = seg.cache
        self.text_match_of = text_match
        self.vectors = seg.vectors
        self.payload_indexes = dict(seg.payload_indexes)
        self.index_lock = seg.index_lock if seg.appendable else _NO_LOCK
        self._live: Optional[np.ndarray] = None
        self._base: dict[str, tuple[np.ndarray, int]] = {}
        if seg.appendable:  # lists that writers extend: seen up to the visible size
            self.ids: Any = Prefix(seg.ids, size)
            self.payloads: Any = Prefix(seg.payloads, size)
        else:  # sealed: immutable but for the deleted bitset
            self.ids, self.payloads = seg.ids, seg.payloads

    # ------------------------------------------------------------------ FilterView protocol (rest)
    def text_match(self, key: str, kind: str, text: str) -> Optional[np.ndarray]:
        return self.text_match_of(self, key, kind, text)

    # ------------------------------------------------------------------ state
    @property
    def live(self) -> np.ndarray:
        if self._live is None:
            self._live = ~self.deleted[: self.size]
        return self._live

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self.live))

    def base_allowed(self, name: str) -> tuple[np.ndarray, int]:
        """(live points having vector `name`, their count): kept by the view (reads share
        it until the next write), and on sealed segments per deletion version."""
        found = self._base.get(name)
        if found is not None:
            return found
        key = ("base_allowed", name)
        hit = None if self.appendable else self.cache.get(key)
        if hit is not None and hit[0] == self.deleted_version:
            found = hit[1], hit[2]
        else:
            mask = self.live & self.vectors[name].present[: self.size]
            found = mask, int(np.count_nonzero(mask))
            if not self.appendable:
                self.cache[key] = (self.deleted_version, *found)
        self._base[name] = found
        return found

    def vector_of(self, offset: int, name: str) -> Any:
        store = self.vectors[name]
        return store.get(offset) if store.present[offset] else None

    # ------------------------------------------------------------------ lookups inside the view
    def find(self, column: str, wanted: np.ndarray) -> np.ndarray:
        """Live offset holding each wanted key (`keys`) or internal key (`pids`) in this view,
        -1 where none. Compacted segments search a sorted copy (made once); the appendable one
        (which may hold dead older versions) asks its newest-offset map and scans only for
        points rewritten after the view was taken."""
        if not wanted.size or not self.size:
            return np.full(wanted.size, -1, np.int64)
        if self.compacted:
            return self._find_sorted(column, wanted)
        if column == "pids":
            latest = self.segment.latest_offset
            out = np.full(wanted.size, -1, np.int64)
            for i, pid in enumerate(wanted.tolist()):  # hits of one query, not the data
                off = latest.get(pid)
                out[i] = off if off is not None and off < self.size else self._scan(column, pid)
        else:  # ids of examples and lookups: a few per query
            out = np.array([self._scan(column, value) for value in wanted], np.int64)
        return np.where((out >= 0) & self.live[np.maximum(out, 0)], out, -1)

    def _scan(self, column: str, value: Any) -> int:
        """The last (newest) offset holding `value` below the visible size, -1 if none."""
        hits = np.flatnonzero(getattr(self, column)[: self.size] == value)
        return int(hits[-1]) if hits.size else -1

    def _find_sorted(self, column: str, wanted: np.ndarray) -> np.ndarray:
        cache_key = ("sorted", column)
        found = self.cache.get(cache_key)
        if found is None:  # each value once in a compacted segment: one table or sort, kept
            found = self.cache[cache_key] = _lookup(getattr(self, column)[: self.size])
        first, table = found
        if table.dtype == np.int32:  # pids in a narrow range: offsets = table[pid - first]
            at = wanted - first
            inside = (at >= 0) & (at < table.size)
            offsets = np.where(inside, table[np.where(inside, at, 0)], -1).astype(np.int64)
            return np.where((offsets >= 0) & self.live[np.maximum(offsets, 0)], offsets, -1)
        values, order = first, table
        if not order.size:
            return np.full(wanted.size, -1, np.int64)
        at = np.minimum(np.searchsorted(values, wanted), order.size - 1)
        offsets = order[at]
        hit = (values[at] == wanted) & self.live[offsets]
        return np.where(hit, offsets, -1)


def _lookup(values: np.ndarray) -> tuple[Any, np.ndarray]:
    """How a compacted segment finds its (unique) values: integer pids spanning at most
    TABLE_SPAN times the segment by a direct table `(first pid, int32 offset per pid or -1)`
    (one read per lookup: the hits of a BM25 search land in cold memory, where a binary
    search costs a cache miss per step), anything else by `(sorted values, their offsets)`."""
    if values.dtype.kind == "i" and values.size:
        first, last = int(values.min()), int(values.max())
        if last - first < TABLE_SPAN * values.size:
            table = np.full(last - first + 1, -1, np.int32)
            table[values - first] = np.arange(values.size, dtype=np.int32)
            return first, table
    order = np.argsort(values, kind="stable")
    return values[order], order.astype(np.int64)


#: Widest pid range (in segment sizes) a compacted segment keeps a direct pid table for.
TABLE_SPAN = 4


class ViewLocations:
    """Point id / internal key -> (segment view, offset), as of the view."""

    def __init__(self, segments: list[SegmentView]) -> None:
        self.segments = segments

    def get(self, pid: PointId, default: Any = None) -> Any:
        key = np.array([id_key_bytes(pid)], dtype=ID_KEY_DTYPE)
        for seg in reversed(self.segments):  # newest first: a live id is in one segment only
            off = int(seg.find("keys", key)[0])
            if off >= 0:
                return seg, off
        return default

    def __contains__(self, pid: object) -> bool:
        try:
            return self.get(pid) is not None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False

    def locate_pids(self, pids: np.ndarray) -> tuple[list[SegmentView], np.ndarray, np.ndarray]:
        """(segments, segment index or -1, offset) of the live point behind each internal key."""
        searched = [seg for seg in self.segments if seg.size]
        searched.sort(key=lambda s: not s.compacted)  # indexed lookups first
        if searched:
            found = searched[0].find("pids", pids)
            hit = found >= 0
            if hit.all():  # the usual case: one segment holds every hit
                return [searched[0]], np.zeros(pids.size, np.int32), found
            if len(searched) == 1:
                return [searched[0]], np.where(hit, 0, -1).astype(np.int32), np.where(hit, found, 0)
        segs: list[SegmentView] = []
        seg_ix = np.full(pids.size, -1, np.int32)
        offs = np.zeros(pids.size, np.int64)
        missing = np.arange(pids.size)
        for seg in searched:
            if not missing.size:
                break
            found = seg.find("pids", pids[missing])
            hit = found >= 0
            if hit.any():
                segs.append(seg)
                seg_ix[missing[hit]], offs[missing[hit]] = len(segs) - 1, found[hit]
                missing = missing[~hit]
        return segs, seg_ix, offs


class FrozenTermStats:
    """Document frequencies of one sparse name as of a view (collection.TermStats): the
    counts of `delta`, else of `base` (neither changes once a view holds it)."""

    __slots__ = ("base", "delta", "docs")

    def __init__(self, base: dict[int, int], delta: dict[int, int], docs: int) -> None:
        self.base, self.delta, self.docs = base, delta, docs

    def df(self, terms: np.ndarray) -> np.ndarray:
        base, delta = self.base.get, self.delta
        return np.fromiter((delta[t] if t in delta else base(t, 0) for t in terms.tolist()), dtype=np.float64,
                           count=terms.size)


class CollectionView:
    """A consistent snapshot of a collection for one read (see the module docstring)."""

    def __init__(self, c: "Collection") -> None:  # under the collection lock
        self.collection = c
        self.name = c.name
        self.schema = c.schema
        self.seq = c.seq
        self.field_indexes = dict(c.field_indexes)
        self.text = c.text.view(self)
        match = self.text.match
        self.segments = [SegmentView(seg, match) for seg in c.segments]
        self.df = {name: stats.shared() for name, stats in c.df.items()} if c.df else {}
        self.where = ViewLocations(self.segments)

    @property
    def appendable(self) -> SegmentView:
        return self.segments[-1]

    def docs_with(self, name: str) -> int:
        return self.df[name].docs

    def points_count(self) -> int:
        return sum(seg.live_count for seg in self.segments)
