"""A segment: points addressed by offset, with their ids, versions, payloads and vectors.

One segment per collection is *appendable* (growable arrays, exact search, append-only); the
others are *sealed*: immutable but for their deleted bitset, compacted, with ANN indexes.
Any change to a point is a tombstone where it lives plus a new version at a fresh offset of
the appendable segment (the collection does that), so no row a read can see is rewritten
(hybrid.view); sealing compacts the dead versions away.

A segment is also the `FilterView` that hybrid.filters evaluates conditions against (reads
go through its `hybrid.view.SegmentView`).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Callable, Optional

import msgspec
import numpy as np

from hybrid.config import CollectionSchema
from hybrid.errors import DataDamaged
from hybrid.ids import ID_KEY_DTYPE, KeyIds, PointId, id_keys
from hybrid.points import PointBatch
from hybrid.storage.checksums import verify_folder, write_folder_checksums
from hybrid.storage.files import atomic_save_npy, atomic_write
from hybrid.storage.multivectors import MultiStore
from hybrid.storage.vectors import DTYPES, DenseStore, SparseStore, _grow

Store = DenseStore | SparseStore | MultiStore


class FilterViewMethods:
    """The `FilterView` protocol (hybrid.filtering) over `ids`, `vectors`, `payload_indexes` and
    `size`: shared by a segment and a read's view of it (hybrid.view)."""

    __slots__ = ()

    def point_ids(self) -> Sequence[Optional[PointId]]:
        return self.ids

    def vector_present(self, name: str) -> np.ndarray:
        store = self.vectors.get(name)
        if store is None:
            return np.zeros(self.size, dtype=bool)
        return store.present[: self.size]

    def payload_index(self, key: str) -> Any:
        return self.payload_indexes.get(key)


class Segment(FilterViewMethods):
    def __init__(self, schema: CollectionSchema, appendable: bool = True, name: Optional[str] = None) -> None:
        self.schema = schema
        self.name = name or uuid.uuid4().hex
        self.appendable = appendable
        self.compacted = not appendable  # each point once, in offset order (merged or loaded)
        self.size = 0
        self.ids: list[Optional[PointId]] | KeyIds = []  # KeyIds once sealed
        self.keys = np.zeros(0, dtype=ID_KEY_DTYPE)
        self.pids = np.zeros(0, dtype=np.int64)
        self.versions = np.zeros(0, dtype=np.int64)
        self.deleted = np.zeros(0, dtype=bool)
        self.deleted_version = 0
        self.latest_offset: dict[int, int] = {}  # appendable: internal key -> its newest offset here
        self._deleted_shared = False  # a view holds `deleted`: copy it before the next change
        # held by writers updating in-place structures (payload indexes, growable sparse index)
        # and by views reading them (hybrid.view)
        self.index_lock = threading.RLock()
        self.payloads: list[Optional[dict]] = []
        self.payload_version = 0
        self.payload_indexes: dict[str, Any] = {}  # key -> indexes.payload index over this segment
        self.cache: dict = {}
        self.vectors: dict[str, Store] = {name_: _new_store(schema, name_, 0) for name_ in schema.columns}
        # set by the collection: collection-level indexes seen through this segment
        self.text_match_of: Callable[["Segment", str, str, str], Optional[np.ndarray]] = lambda s, k, kind, t: None

    # ------------------------------------------------------------------ FilterView protocol (rest)
    def build_payload_index(self, key: str, schema: dict) -> None:
        from indexes.payload import create_payload_index

        self.payload_indexes[key] = create_payload_index(schema, key, self.payloads)

    def _payload_changed(self, offsets: list[int]) -> None:
        """Keep payload indexes of a written segment in step with its payloads."""
        self.payload_version += 1
        with self.index_lock:
            for index in self.payload_indexes.values():
                for off in offsets:
                    index.remove(off)
                    index.add(off, self.payloads[off])

    def text_match(self, key: str, kind: str, text: str) -> Optional[np.ndarray]:
        return self.text_match_of(self, key, kind, text)

    # ------------------------------------------------------------------ state
    @property
    def live(self) -> np.ndarray:
        return ~self.deleted[: self.size]

    @property
    def live_count(self) -> int:
        return int(self.size - np.count_nonzero(self.deleted[: self.size]))

    def _reserve(self, capacity: int) -> None:
        self.keys = _grow(self.keys, capacity, b"")
        self.pids = _grow(self.pids, capacity, -1)
        self.versions = _grow(self.versions, capacity)
        self.deleted = _grow(self.deleted, capacity, True)
        for store in self.vectors.values():
            store.reserve(capacity)

    def allocate(self, ids: list[PointId], pids: np.ndarray) -> np.ndarray:
        """New offsets for new points (appendable segments only)."""
        n = len(ids)
        start = self.size
        self._reserve(start + n)
        offsets = np.arange(start, start + n, dtype=np.int64)
        self.ids.extend(ids)
        self.payloads.extend([None] * n)
        self.keys[offsets] = id_keys(ids)
        self.pids[offsets] = pids
        self.deleted[offsets] = False
        self.latest_offset.update(zip(pids.tolist(), offsets.tolist()))
        self.size += n
        return offsets

    def write(self, offsets: np.ndarray, batch: PointBatch, seq: int, replace: bool) -> None:
        """Write a batch's vectors (and payloads) at `offsets`, row i of the batch at offsets[i].

        replace=True: whole points (names missing from a point are erased, payload replaced);
        replace=False: only the vectors the batch carries (update_vectors).
        """
        n = len(batch.ids)
        self.versions[offsets] = seq
        for name, store in self.vectors.items():
            carried: Optional[np.ndarray] = None
            if name in batch.dense:
                col = batch.dense[name]
                store.write(offsets[col.rows], col.data)
                carried = col.rows
            elif name in batch.sparse:
                col = batch.sparse[name]
                store.write(offsets[col.rows], col.indptr, col.indices, col.values)
                carried = col.rows
            elif name in batch.multi:
                col = batch.multi[name]
                store.write(offsets[col.rows], col.lengths, col.data)
                carried = col.rows
            if replace:
                missing = np.ones(n, dtype=bool)
                if carried is not None:
                    missing[carried] = False
                if missing.any():
                    store.erase(offsets[missing])
        if batch.payloads is not None:
            written = offsets.tolist()
            for off, payload in zip(written, batch.payloads):
                self.payloads[off] = payload or None
            self._payload_changed(written)

    def delete(self, offsets: np.ndarray) -> None:
        if self._deleted_shared:  # copy-on-write: open views keep the bitset they took
            self.deleted = self.deleted.copy()
            self._deleted_shared = False
        self.deleted[offsets] = True
        self.deleted_version += 1

    def shared_deleted(self) -> np.ndarray:
        """The deleted bitset, for a view: the next delete copies it first."""
        self._deleted_shared = True
        return self.deleted

    def base_allowed(self, name: str) -> tuple[np.ndarray, int]:
        """(live points having vector `name`, their count). Cached for sealed segments, whose
        vectors never change and whose deletions bump `deleted_version`."""
        key = ("base_allowed", name)
        hit = self.cache.get(key)
        if hit is not None and hit[0] == self.deleted_version and not self.appendable:
            return hit[1], hit[2]
        mask = self.live & self.vectors[name].present[: self.size]
        count = int(np.count_nonzero(mask))
        if not self.appendable:
            self.cache[key] = (self.deleted_version, mask, count)
        return mask, count

    # ------------------------------------------------------------------ vector names
    def conform(self, schema: CollectionSchema) -> None:
        """Hold exactly `schema`'s vector names (create/delete_vector_name; call under the
        collection lock): a column the segment holds as `schema` defines it is kept, any other
        is a new one with no vector for any point. The dict and the caches are replaced, not
        changed: a read's view keeps the columns (and cached masks) it took."""
        if schema.columns == self.schema.columns:
            return
        vectors = {name: self.store_of(name, schema) for name in schema.columns}
        self.vectors, self.schema, self.cache = vectors, schema, {}

    def store_of(self, name: str, schema: CollectionSchema) -> Store:
        """This segment's store of vector `name` as `schema` defines it, or an empty one when
        the segment holds another column of that name (deleted and created again) or none."""
        store = self.vectors.get(name)
        if store is not None and self.schema.columns.get(name) == schema.columns[name]:
            return store
        return _new_store(schema, name, self.size, sealed=not self.appendable)

    def set_payload(self, offset: int, payload: Optional[dict], seq: int) -> None:
        self.payloads[offset] = payload or None
        self.versions[offset] = seq
        self._payload_changed([offset])

    def vector_of(self, offset: int, name: str) -> Any:
        store = self.vectors[name]
        return store.get(offset) if store.present[offset] else None

    # ------------------------------------------------------------------ sealing and files
    @classmethod
    def merged(cls, schema: CollectionSchema, parts: list[tuple["Segment", np.ndarray]]) -> "Segment":
        """A compacted, sealed segment of the given live offsets of several segments, in order."""
        out = cls(schema, appendable=False)
        idx = [live.tolist() for _, live in parts]
        out.payloads = [seg.payloads[i] for (seg, _), rows in zip(parts, idx) for i in rows]
        out.keys = np.concatenate([seg.keys[live] for seg, live in parts]) if parts else out.keys
        out.ids = KeyIds(out.keys)
        out.size = len(out.ids)
        out.pids = np.concatenate([seg.pids[live] for seg, live in parts]) if parts else out.pids
        out.versions = np.concatenate([seg.versions[live] for seg, live in parts]) if parts else out.versions
        out.deleted = np.zeros(out.size, dtype=bool)
        out.vectors = {name: type(store).merged(store.spec, [(seg.store_of(name, schema), live) for seg, live in parts])
                       for name, store in out.vectors.items()}
        return out

    def reopened(self) -> "Segment":
        """This loaded segment's live points as an appendable segment, in RAM. A checkpoint saves
        the appendable segment as a compact copy (the WAL before it is dropped); a restart gives
        it back appendable rather than as one more small sealed segment for the optimizer."""
        out = Segment.merged(self.schema, [(self, np.flatnonzero(self.live))])
        out.name, out.appendable, out.compacted = uuid.uuid4().hex, True, False
        out.ids = list(out.ids)
        out.latest_offset = dict(zip(out.pids.tolist(), range(out.size)))
        for store in out.vectors.values():
            if isinstance(store, SparseStore):
                store.make_growable()
        return out

    def save(self, directory: Path) -> None:
        """Write the segment's files into `directory` (which the caller renames into place)."""
        atomic_save_npy(directory / "keys.npy", self.keys[: self.size])  # the ids, as sortable keys
        atomic_write(directory / "payloads.msgpack", msgspec.msgpack.encode(self.payloads))
        atomic_save_npy(directory / "pids.npy", self.pids[: self.size])
        atomic_save_npy(directory / "versions.npy", self.versions[: self.size])
        for name, store in self.vectors.items():
            stem = self.schema.column(name).stem
            store.save(directory, stem)
            if getattr(store, "index", None) is not None:
                sub = directory / f"{stem}.index"
                sub.mkdir(exist_ok=True)
                store.index.save(sub)
        write_folder_checksums(directory)  # last: it lists every file above

    def move_to_disk(self, directory: Path) -> None:
        """Point on_disk stores at the files just written into `directory`."""
        for name, store in self.vectors.items():
            mover = getattr(store, "move_to_disk", None)
            if mover is not None:
                mover(directory, self.schema.column(name).stem)

    @classmethod
    def load(cls, schema: CollectionSchema, directory: Path, deleted: np.ndarray,
             load_index: Callable[[Store, Path], Any], in_ram: bool = False) -> "Segment":
        """The segment saved in `directory`; `in_ram`: on_disk vectors are read into RAM too (an
        in-memory collection keeps nothing mapped from a folder that may be removed)."""
        verify_folder(directory)  # DataDamaged names the file; nothing below reads unverified bytes
        try:
            return cls._load_verified(schema, directory, deleted, load_index, in_ram)
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            raise DataDamaged(directory, f"cannot be loaded: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _load_verified(cls, schema: CollectionSchema, directory: Path, deleted: np.ndarray,
                       load_index: Callable[[Store, Path], Any], in_ram: bool) -> "Segment":
        seg = cls(schema, appendable=False, name=directory.name)
        seg.keys = np.load(directory / "keys.npy")
        seg.ids = KeyIds(seg.keys)
        seg.payloads = msgspec.msgpack.decode((directory / "payloads.msgpack").read_bytes())
        seg.size = len(seg.ids)
        seg.pids = np.load(directory / "pids.npy")
        seg.versions = np.load(directory / "versions.npy")
        if deleted.shape != (seg.size,):
            raise ValueError(f"its deleted bitset has {deleted.size} entries for {seg.size} points")
        seg.deleted = deleted.copy()
        for name, spec_store in list(seg.vectors.items()):
            column = schema.column(name)
            stem = column.stem
            if not any(directory.glob(f"{stem}.*")):
                if not column.since:  # made with the collection: every folder holds it
                    raise DataDamaged(directory, f"holds no files of vector {name!r} ({stem}.*)")
                seg.vectors[name] = _new_store(schema, name, seg.size, sealed=True)  # made after the folder
                continue
            if isinstance(spec_store, DenseStore):
                store: Store = DenseStore.load(spec_store.spec, directory, stem, mmap=not in_ram)
            elif isinstance(spec_store, MultiStore):
                store = MultiStore.load(spec_store.spec, directory, stem, mmap=not in_ram)
            else:
                store = SparseStore.load(spec_store.spec, directory, stem)
            index_dir = directory / f"{stem}.index"
            if index_dir.exists():
                store.index = load_index(store, index_dir)
            elif isinstance(store, SparseStore):  # a plain copy (hybrid.checkpoint): a sealed sparse
                store.build_index()  # store is searched only through its postings, never saved for it
            seg.vectors[name] = store
        return seg


def _new_store(schema: CollectionSchema, name: str, size: int, sealed: bool = False) -> Store:
    """A store of vector `name` for `size` points, none of which has the vector."""
    spec = schema.dense.get(name)
    if spec is None:
        store: Store = SparseStore(schema.sparse[name], starts=np.zeros(size, np.int64), ends=np.zeros(size, np.int64))
        if sealed:  # a sealed sparse store is searched through its postings
            store.build_index()
        return store
    if spec.multivector:
        return MultiStore(spec, starts=np.zeros(size, np.int64), ends=np.zeros(size, np.int64))
    return DenseStore(spec, np.zeros((size, spec.size), DTYPES[spec.datatype]), np.zeros(size, bool))
