"""Where each live point is: point id -> (segment, offset), and internal key (pid) -> point id.

A Python dict entry per point costs ~100-200 bytes (on 10M points, gigabytes), so sealed
segments answer from their own arrays: the id keys and pids they already store, searched
through sort orders computed on first use. Only points written
since the last seal (the appendable segment) sit in dicts.

Why a sealed answer can be trusted without bookkeeping: sealed segments never change except for
tombstones, ids are unique within one, and every write that moves or deletes a point tombstones
its old copy. So a sealed hit counts only while its offset is live, and the dicts (checked
first) hold the point's newer place.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid.ids import ID_KEY_DTYPE, PointId, id_key_bytes

if TYPE_CHECKING:
    from hybrid.segment import Segment

Location = tuple["Segment", int]


class _Sealed:
    """Sorted copies of one sealed segment's id keys and pids, with their offsets."""

    def __init__(self, seg: "Segment") -> None:
        self.seg = seg

    # sorted on first use: a process that only searches never pays for them. (A sorted copy,
    # not `searchsorted(sorter=...)`, which checks the whole sorter on every call.)
    @cached_property
    def by_key(self) -> tuple[np.ndarray, np.ndarray]:
        return _sorted(self.seg.keys[: self.seg.size])

    @cached_property
    def by_pid(self) -> tuple[np.ndarray, np.ndarray]:
        return _sorted(self.seg.pids[: self.seg.size])

    def offsets_of(self, keys: np.ndarray) -> np.ndarray:
        """Live offset of each key in this segment, -1 where absent or deleted."""
        return self._find(*self.by_key, keys)

    def offsets_of_pids(self, pids: np.ndarray) -> np.ndarray:
        return self._find(*self.by_pid, pids)

    def _find(self, values: np.ndarray, order: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        if not order.size:
            return np.full(len(wanted), -1, np.int64)
        at = np.minimum(np.searchsorted(values, wanted), order.size - 1)
        offsets = order[at].astype(np.int64)
        found = (values[at] == wanted) & ~self.seg.deleted[offsets]
        return np.where(found, offsets, -1)


def _sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")
    return values[order], order.astype(np.int32)


class PointLocations:
    """The collection's id map, with the dict operations its callers use.

    `pop` does not tombstone: the caller deletes the returned location from its segment (as
    every delete does), which is what retires a sealed entry.
    """

    def __init__(self) -> None:
        self.recent: dict[PointId, Location] = {}  # points written since the last seal
        self.recent_pids: dict[int, PointId] = {}
        self.sealed: list[_Sealed] = []

    # ---------------------------------------------------------------- dict-like reads
    def get(self, pid: PointId, default: Any = None) -> Optional[Location]:
        loc = self.recent.get(pid)
        if loc is not None:
            return loc
        if self.sealed:
            found = self.locate([pid])[0]
            if found is not None:
                return found
        return default

    def __getitem__(self, pid: PointId) -> Location:
        loc = self.get(pid)
        if loc is None:
            raise KeyError(pid)
        return loc

    def __contains__(self, pid: object) -> bool:
        try:
            return self.get(pid) is not None  # type: ignore[arg-type]
        except (TypeError, ValueError):  # not an id at all
            return False

    def __iter__(self) -> Iterator[PointId]:
        yield from self.recent
        for entry in self.sealed:
            ids = entry.seg.ids
            for off in np.flatnonzero(entry.seg.live).tolist():
                yield ids[off]

    def __len__(self) -> int:
        return len(self.recent) + sum(entry.seg.live_count for entry in self.sealed)

    def locate(self, ids: list[PointId]) -> list[Optional[Location]]:
        """The location of each id (None: no live point), one vectorised search per segment."""
        out: list[Optional[Location]] = [self.recent.get(pid) for pid in ids]
        missing = [i for i, loc in enumerate(out) if loc is None]
        if missing and self.sealed:
            keys = np.array([id_key_bytes(ids[i]) for i in missing], dtype=ID_KEY_DTYPE)
            self._fill(out, missing, [entry.offsets_of(keys) for entry in self.sealed])
        return out

    def locate_pids(self, pids: np.ndarray) -> tuple[list["Segment"], np.ndarray, np.ndarray]:
        """(segments, segment index or -1, offset) of the live point behind each internal key:
        points written since the last seal from the dicts, the others by one vectorised
        search per sealed segment."""
        segs: list["Segment"] = []
        seg_ix = np.full(pids.size, -1, np.int32)
        offs = np.zeros(pids.size, np.int64)
        for i, key in enumerate(pids.tolist() if self.recent_pids else ()):  # top-k hits, not the data
            loc = self.recent.get(self.recent_pids.get(key))
            if loc is not None:
                if loc[0] not in segs:
                    segs.append(loc[0])
                seg_ix[i], offs[i] = segs.index(loc[0]), loc[1]
        missing = np.flatnonzero(seg_ix < 0)
        for entry in self.sealed:
            if not missing.size:
                break
            found = entry.offsets_of_pids(pids[missing])
            hit = found >= 0
            if hit.any():
                segs.append(entry.seg)
                seg_ix[missing[hit]], offs[missing[hit]] = len(segs) - 1, found[hit]
                missing = missing[~hit]
        return segs, seg_ix, offs

    def _fill(self, out: list[Optional[Location]], rows: list[int], per_segment: list[np.ndarray]) -> None:
        for entry, offsets in zip(self.sealed, per_segment):
            hit = np.flatnonzero(offsets >= 0)
            for j, off in zip(hit.tolist(), offsets[hit].tolist()):
                if out[rows[j]] is None:
                    out[rows[j]] = (entry.seg, off)

    # ---------------------------------------------------------------- writes
    def place(self, pid: PointId, key: int, loc: Location) -> None:
        """`pid` (internal key `key`) now lives at `loc` in the appendable segment."""
        self.recent[pid] = loc
        self.recent_pids[key] = pid

    def pop(self, pid: PointId, default: Any = None) -> Optional[Location]:
        loc = self.get(pid)
        if loc is None:
            return default
        self.recent.pop(pid, None)
        self.recent_pids.pop(int(loc[0].pids[loc[1]]), None)
        return loc

    def sealed_segment(self, seg: "Segment", replaced: list["Segment"]) -> None:
        """`seg` (sealed) now holds the live points of `replaced`, which leave the map."""
        gone = {id(s) for s in replaced}
        self.sealed = [entry for entry in self.sealed if id(entry.seg) not in gone]
        if seg.size:
            self.sealed.append(_Sealed(seg))
        moved = [pid for pid, (s, _) in self.recent.items() if id(s) in gone]
        for pid in moved:  # once per seal, over the frozen appendable segment's points
            s, off = self.recent.pop(pid)
            self.recent_pids.pop(int(s.pids[off]), None)

    def segment_loaded(self, seg: "Segment") -> None:
        if seg.size:
            self.sealed.append(_Sealed(seg))
