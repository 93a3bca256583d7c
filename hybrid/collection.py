"""A collection: schema, WAL, segments, the id map, and the write path.

Write path (DESIGN.md section 4): validate -> WAL append -> apply to segments -> fsync (group
commit) -> acknowledge. Every write is an `operations.Operation`; `_apply` is the only code
that changes segments, used both live and when replaying the WAL, so recovery is exact.
Reads live in hybrid/query/; sealing and checkpoints in hybrid/optimizer.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import msgspec
import numpy as np

from hybrid import operations as ops
from hybrid import vector_names
from hybrid.config import CollectionSchema
from hybrid.errors import CollectionDamaged
from hybrid.ids import PointId
from hybrid.locations import PointLocations
from hybrid.points import PointBatch, check_batch
from hybrid.segment import Segment
from hybrid.storage.vectors import SparseStore
from hybrid.storage.wal import WriteAheadLog
from hybrid.view import CollectionView, FrozenTermStats


class TermStats:
    """Document frequencies of one sparse vector name over the live points of a collection.

    Dicts keyed by dimension: sparse dimensions are often hashes (qdrant/bm25 token ids span
    the whole u32 range), so a dense array indexed by dimension would be gigabytes.

    Views read them copy-on-write (hybrid.view) without copying the whole vocabulary on the
    first write after a read: `base` is never changed once built; writes go to a small
    `delta` (current counts of recently changed terms, copied when a view holds it), folded
    into a new `base` when it outgrows 1/16 of it, so a term update costs O(1) amortised.
    """

    def __init__(self) -> None:
        self.base: dict[int, int] = {}
        self.delta: dict[int, int] = {}
        self.docs = 0
        self._shared = False  # a view holds `delta`: copy before the next change

    def shared(self) -> "FrozenTermStats":
        """The counts as of now, for a view."""
        self._shared = True
        return FrozenTermStats(self.base, self.delta, self.docs)

    def add(self, terms: np.ndarray, docs: int, sign: int) -> None:
        delta, base = self.delta, self.base
        if self._shared:
            delta = self.delta = dict(delta)
            self._shared = False
        self.docs += sign * docs
        unique, counts = np.unique(terms, return_counts=True)
        for term, count in zip(unique.tolist(), (sign * counts).tolist()):  # write path, per distinct term
            delta[term] = delta.get(term, base.get(term, 0)) + count
        if len(delta) > max(4096, len(base) // 16):
            self.base, self.delta = {**base, **delta}, {}

    def df(self, terms: np.ndarray) -> np.ndarray:
        return FrozenTermStats(self.base, self.delta, self.docs).df(terms)


class Collection:
    def __init__(self, name: str, schema: CollectionSchema, path: Optional[Path] = None) -> None:
        self.name = name
        self.schema = schema
        self.path = path
        self.lock = threading.RLock()
        self.segments: list[Segment] = []
        self.where = PointLocations()
        self.next_pid = 0
        self.seq = 0
        self.field_indexes: dict[str, dict] = {}  # field -> schema JSON (indexes live in optimizer/payload)
        self.df: dict[str, TermStats] = {n: TermStats() for n, s in schema.sparse.items() if s.idf}
        self.pid_of_deleted: dict[PointId, int] = {}  # deleted since the text indexes saw them
        self.wal: Optional[WriteAheadLog] = None
        self.damage: Optional[str] = None  # set on open when data was kept aside: red, read-only
        self.created_at: Optional[str] = None  # RFC 3339; None for collections made before it was kept
        self.quota: Callable[[], None] = lambda: None  # the client's global quota check (hybrid.quotas)
        self._last_view: Optional[tuple] = None  # ((seq, segment count), segments, schema, CollectionView)
        from hybrid.optimizer import Optimizer  # circular by nature: the optimizer swaps our segments
        from hybrid.text import TextFields

        self.text = TextFields(self)

        self.optimizer = Optimizer(self)
        from hybrid.indexing import build_indexes

        self.optimizer.build_indexes = build_indexes
        self._new_appendable()

    # ------------------------------------------------------------------ plumbing
    @property
    def appendable(self) -> Segment:
        return self.segments[-1]

    def view(self) -> "CollectionView":
        """What a read sees: the state after every acknowledged write, unchanged by later ones.

        Views are immutable, so reads share one until the state changes: every write bumps
        `seq`, the optimizer replaces the segment list (or appends a new appendable segment),
        update_collection replaces the schema (compared by identity)."""
        with self.lock:
            state = (self.seq, len(self.segments))
            last = self._last_view
            if last is not None and last[0] == state and last[1] is self.segments and last[2] is self.schema:
                return last[3]
            view = CollectionView(self)
            self._last_view = (state, self.segments, self.schema, view)
            return view

    def _new_appendable(self) -> Segment:
        seg = Segment(self.schema, appendable=True)
        self._attach(seg)
        self.segments.append(seg)
        return seg

    def _attach(self, seg: Segment) -> None:
        """Connect a segment to collection-level indexes (text) and give it the payload indexes."""
        seg.text_match_of = self.text.match
        for field, schema in self.field_indexes.items():
            if schema.get("type") != "text" and field not in seg.payload_indexes:
                seg.build_payload_index(field, schema)

    def commit(self, op: "ops.Operation | Callable[[], ops.Operation]", sync_first: bool = False) -> int:
        """Log and apply one validated operation; returns once it is durable.

        `op` may be a factory called under the lock (when it depends on the current state, e.g.
        ids selected by a filter); the fsync happens outside the lock so writers share it.
        `sync_first`: fsynced before it is applied (schema changes: config.json, which applying
        rewrites, must never be ahead of the log).
        """
        with self.lock:
            problem = self.problem()
            if problem is not None:
                raise CollectionDamaged(self.name, problem)
            if callable(op):
                op = op()
            if isinstance(op, ops.CONSUMES_QUOTA):
                self.quota()
            if self.wal is not None:
                seq = self.wal.append(ops.encode(op))
                if sync_first:
                    self.wal.sync(seq)
            else:
                seq = self.seq + 1
            self._apply(op, seq)
        if self.wal is not None:
            self.wal.sync(seq)
        self.optimizer.after_write()
        return seq

    def problem(self) -> Optional[str]:
        """Why the collection is red and refuses writes (damaged data, a failed WAL), or None."""
        failure = self.wal.failure if self.wal is not None else None
        return self.damage or (f"{failure}; reopen the collection" if failure else None)

    def assign_pids(self, ids: list[PointId]) -> np.ndarray:
        """Internal keys for a batch: existing points keep theirs, new ones get fresh keys."""
        with self.lock:
            pids = np.empty(len(ids), dtype=np.int64)
            nxt = self.next_pid
            for i, loc in enumerate(self.where.locate(ids)):
                if loc is None:
                    pids[i] = nxt
                    nxt += 1
                else:
                    pids[i] = loc[0].pids[loc[1]]
            return pids

    def upsert(self, batch: PointBatch) -> int:
        return self.commit(lambda: self.upsert_op(batch))

    def upsert_op(self, batch: PointBatch) -> ops.Upsert:
        """The operation of a validated batch (under the lock): its vectors are checked again
        against the schema as of now, which a create/delete_vector_name may have changed since."""
        check_batch(batch, self.schema)
        return ops.upsert_op(batch, self.assign_pids(batch.ids))

    # ------------------------------------------------------------------ apply (live and replay)
    def _apply(self, op: ops.Operation, seq: int) -> None:
        self.seq = seq
        if isinstance(op, ops.Upsert):
            batch, pids = ops.batch_of(op, lambda name: self.schema.holds(name, seq))
            self._apply_upsert(batch, pids, seq, replace=op.payloads is not None)
        elif isinstance(op, ops.Delete):
            self._apply_delete(op.ids)
        elif isinstance(op, (ops.SetPayload, ops.OverwritePayload, ops.DeletePayload, ops.ClearPayload)):
            self._apply_payload(op, seq)
        elif isinstance(op, ops.DeleteVectors):
            self._apply_delete_vectors(op, seq)
        elif isinstance(op, ops.CreateFieldIndex):
            self._create_field_index(op.field, op.schema)
        elif isinstance(op, ops.DeleteFieldIndex):
            self.field_indexes.pop(op.field, None)
            self.text.drop(op.field)
            for seg in self.segments:
                seg.payload_indexes.pop(op.field, None)
            self._save_config()
        elif isinstance(op, (ops.CreateVectorName, ops.DeleteVectorName)):
            self._set_schema(vector_names.changed(self.schema, op, seq))
        if self.text.indexes and isinstance(op, (ops.Upsert, ops.Delete, ops.SetPayload, ops.OverwritePayload,
                                                 ops.DeletePayload, ops.ClearPayload)):
            self.text.points_changed(op.ids, seq)

    def _create_field_index(self, field: str, schema: dict) -> None:
        self.field_indexes[field] = schema
        if schema.get("type") == "text":
            if field not in self.text.indexes:
                self.text.create(field, schema)
        else:
            for seg in self.segments:
                seg.build_payload_index(field, schema)
        self._save_config()

    def _set_schema(self, schema: CollectionSchema) -> None:
        """A schema with other vector names: every segment holds its columns (new ones empty),
        IDF statistics follow the sparse names. Views keep the schema and columns they took."""
        if schema is self.schema:
            return
        for seg in self.segments:
            seg.conform(schema)
        kept = {n: s for n, s in self.df.items() if self.schema.columns[n] == schema.columns.get(n)}
        self.df = {n: kept.get(n) or TermStats() for n, s in schema.sparse.items() if s.idf}
        self.schema = schema
        self._save_config()

    def _save_config(self) -> None:
        if self.path is not None:
            from hybrid.storage.files import write_checked

            write_checked(self.path / "config.json", self.config_json())

    def _locate(self, ids: Iterable[PointId]) -> list[Optional[tuple[Segment, int]]]:
        return self.where.locate(list(ids))

    def _to_appendable(self, ids: list[PointId], pids: np.ndarray, keep_old: bool) -> np.ndarray:
        """Fresh offsets in the appendable segment for `ids`, one new version each.

        Every write appends: a point's previous version (wherever it lives) is tombstoned,
        after its vectors and payload are copied over when `keep_old` (partial updates). So
        rows that a read's view can see never change (hybrid.view).
        """
        app = self.appendable
        old = self._locate(ids)
        offsets = app.allocate(ids, pids)
        for i, off in enumerate(offsets.tolist()):
            self.where.place(ids[i], int(pids[i]), (app, off))
        if len(ids):
            self.next_pid = max(self.next_pid, int(pids.max()) + 1)
        for row, loc in enumerate(old):  # moving keeps the IDF statistics unchanged
            if loc is None:
                continue
            seg, off = loc
            self._stats(seg, np.array([off]), -1)
            if keep_old:
                self._copy_point(seg, off, app, int(offsets[row]))
                self._stats(app, offsets[row: row + 1], +1)
            seg.delete(np.array([off]))
        return offsets

    def _copy_point(self, src: Segment, off: int, dst: Segment, dst_off: int) -> None:
        one = np.array([dst_off])
        for name, store in src.vectors.items():
            target = dst.vectors[name]
            if not store.present[off]:
                target.erase(one)
            elif isinstance(store, SparseStore):
                s, e = store.starts[off], store.ends[off]
                target.write(one, np.array([0, e - s]), store.flat[0][s:e], store.flat[1][s:e])
            elif store.kind == "multivector":
                s, e = store.starts[off], store.ends[off]
                target.write(one, np.array([e - s]), np.asarray(store.flat[0][s:e], np.float32))
            else:
                target.data[dst_off] = store.data[off]
                target.present[dst_off] = True
        dst.payloads[dst_off] = src.payloads[off]
        dst.versions[dst_off] = src.versions[off]
        dst._payload_changed([dst_off])

    def _apply_upsert(self, batch: PointBatch, pids: np.ndarray, seq: int, replace: bool) -> None:
        if not replace and any(loc is None for loc in self.where.locate(batch.ids)):
            return  # update_vectors is validated against existing ids before it is logged
        offsets = self._to_appendable(batch.ids, pids, keep_old=not replace)
        app = self.appendable
        self._stats(app, offsets, -1)
        app.write(offsets, batch, seq, replace)
        self._stats(app, offsets, +1)

    def _apply_delete(self, ids: list[PointId]) -> None:
        for pid in ids:
            loc = self.where.pop(pid, None)
            if loc is not None:
                self._stats(loc[0], np.array([loc[1]]), -1)
                loc[0].delete(np.array([loc[1]]))
                if self.text.indexes:
                    self.pid_of_deleted[pid] = int(loc[0].pids[loc[1]])

    def _apply_payload(self, op: Any, seq: int) -> None:
        from hybrid.payload import apply_payload_op

        ids = [i for i, loc in zip(op.ids, self.where.locate(op.ids)) if loc is not None]
        ids = list(dict.fromkeys(ids))  # one new version per point
        if not ids:
            return
        pids = self.assign_pids(ids)
        offsets = self._to_appendable(ids, pids, keep_old=True)
        app = self.appendable
        for off in offsets.tolist():
            app.set_payload(off, apply_payload_op(app.payloads[off], op), seq)

    def _apply_delete_vectors(self, op: ops.DeleteVectors, seq: int) -> None:
        ids = [i for i, loc in zip(op.ids, self.where.locate(op.ids)) if loc is not None]
        ids = list(dict.fromkeys(ids))  # one new version per point
        if not ids:
            return
        offsets = self._to_appendable(ids, self.assign_pids(ids), keep_old=True)
        app = self.appendable
        self._stats(app, offsets, -1)
        for name in op.names:
            if self.schema.holds(name, seq):  # (replay: a name deleted, or made again, later)
                app.vectors[name].erase(offsets)
        app.versions[offsets] = seq
        self._stats(app, offsets, +1)

    # ------------------------------------------------------------------ sparse IDF statistics
    def _stats(self, seg: Segment, offsets: np.ndarray, sign: int) -> None:
        """Add (+1) or remove (-1) the given live points' terms from collection document counts."""
        for name, stats in self.df.items():
            store = seg.vectors[name]
            live = offsets[store.present[offsets] & ~seg.deleted[offsets]] if offsets.size else offsets
            if live.size:
                stats.add(store.term_rows(live), int(live.size), sign)

    def docs_with(self, name: str) -> int:
        """Live points having sparse vector `name` (the N of IDF)."""
        return self.df[name].docs

    # ------------------------------------------------------------------ info
    def points_count(self) -> int:
        return sum(s.live_count for s in self.segments)

    def indexed_vectors_count(self) -> int:
        return self.optimizer.indexed_vectors_count()

    def close(self) -> None:
        self.optimizer.stop()
        with self.lock:
            if self.path is not None and (self.wal is None or self.wal.failure is None):
                self.text.commit(self.seq)  # not after a failed fsync: self.seq may not be durable
            self.text.close()
            if self.wal is not None:
                self.wal.close()

    def config_json(self) -> bytes:
        return config_json(self.name, self.schema, self.field_indexes, self.created_at)


def config_json(name: str, schema: CollectionSchema, field_indexes: dict, created_at: Optional[str]) -> bytes:
    """A collection's config.json: Qdrant's config, the payload indexes, where each vector
    name's data lives in segment folders, and when the collection was created."""
    meta = {"name": name, "config": schema.config, "field_indexes": field_indexes, "columns": schema.columns}
    return msgspec.json.encode(meta if created_at is None else {**meta, "created_at": created_at})
