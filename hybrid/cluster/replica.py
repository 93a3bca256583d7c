"""One shard replica: an embedded collection in its own data folder, run as a Ray actor.

The coordinator wraps `Replica` with `ray.remote` (Ray is imported only in cluster mode). A
write goes to the shard's primary (its first active replica), which gives it the shard's next
sequence number, applies it, and forwards it to the other replicas in that order; a replica
that sees a gap (it missed operations while dead or partial) is sent the missing ones from the
primary's operation log first, or a snapshot of the shard when the log was compacted past it.
The primary answers with how many replicas have the operation durable, so the coordinator can
acknowledge at `write_consistency_factor`.

Never a half-applied write: before applying, the primary takes the before-image of what the
operation touches; when fewer than the needed replicas took it, it applies (and forwards) that
before-image as the next operation, a `restore`, and the coordinator answers 503. Qdrant keeps
such a write on the replicas that took it (lib/collection/src/shards/replica_set/update.rs); we
take it back. A replica keeps the before-image of a forwarded write too, under the write's
operation id (one per coordinator call): when the primary dies while it forwards and the
coordinator then refuses the write, it asks the replicas left to `revert` that operation, and
a replica that has not got it yet keeps the id to refuse it when the dead primary's forward
lands late. What a client can still see: a read running during a write that is taken back.
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections import deque
from pathlib import Path
from typing import Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.cluster.oplog import Entry, OpLog
from hybrid.errors import HybridError
from hybrid.ids import normalize_id

_log = logging.getLogger("hybrid.cluster.replica")
FORWARD_TIMEOUT_S = 30.0
RESTORE = "restore"  # the inverse of a refused write: its before-image (see the module doc)
RECOVERED = "recovered"  # the first record after a shard was recovered from a snapshot (nothing to redo)

#: Client methods a shard operation may call (writes) and read calls the coordinator may make.
WRITE_METHODS = frozenset({"upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
                           "update_vectors", "delete_vectors", "create_payload_index", "delete_payload_index",
                           "update_collection"})
READ_METHODS = frozenset({"count", "scroll", "retrieve", "facet", "get_collection", "get_optimizations"})


class Replica:
    def __init__(self, folder: str, collection: str, config: dict, updates: tuple = (), retain: int = 1000) -> None:
        from hybrid.client import Client

        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        self.collection = collection
        self.config = config
        self.updates = list(updates)  # update_collection calls made after creation, in order
        self.retain = retain  # operations kept in the log for catching up peers (then a snapshot)
        self.client = Client(path=path / "data")
        if not self.client.collection_exists(collection):
            self._create()
        self.log = OpLog(path / "ops.log")
        self._write_lock = threading.Lock()
        self._undo: tuple[Optional[str], int, Optional[dict]] = (None, 0, None)  # (op id, seq, before-image)
        self._refused: Optional[str] = None  # an operation taken back before it got here: never applied
        self._seen: deque[str] = deque(maxlen=1024)  # ids of the last operations applied here
        if self.log.entries:  # the last logged operation may not have reached the collection
            self._redo(self.log.entries[-1])

    def _create(self) -> None:
        self.client.create_collection(self.collection, **self.config)
        for update in self.updates:
            self.client.update_collection(self.collection, **update)

    def _redo(self, entry: Entry) -> None:
        seq, method, kwargs = entry
        try:
            self._call(method, kwargs)
        except HybridError as exc:  # applied before (e.g. an index already dropped): nothing to redo
            _log.info("redo of operation %d (%s) after a restart: %s", seq, method, exc)

    # ------------------------------------------------------------------ writes
    def last_seq(self) -> int:
        return self.log.last_seq

    def _apply(self, entry: Entry) -> None:
        seq, method, kwargs = entry
        if method not in WRITE_METHODS and method not in (RESTORE, RECOVERED):
            raise ValueError(f"not a shard write: {method}")
        self.log.append(entry)  # logged first: see hybrid.cluster.oplog
        try:
            self._call(method, kwargs)
        except BaseException:
            self.log.drop_last()  # refused (bad input): neither applied nor logged
            raise

    def _call(self, method: str, kwargs: dict) -> None:
        if method == RECOVERED:
            return
        if method == RESTORE:
            self._restore(**kwargs)
        else:
            getattr(self.client, method)(self.collection, **kwargs)

    def _before_image(self, method: str, kwargs: dict) -> Optional[dict]:
        """What `method` would change, as it is now: the arguments of its `restore` (None for a
        collection update: it is not taken back)."""
        if method == "update_collection":
            return None
        if method in ("create_payload_index", "delete_payload_index"):
            field = kwargs["field_name"]
            schema = m.to_builtins(self.client.get_collection(self.collection).payload_schema).get(field)
            return {"index": [field, None if schema is None else schema.get("params") or schema["data_type"]]}
        if method in ("upsert", "update_vectors"):
            ids = [normalize_id(p["id"], "points.id") for p in kwargs["points"]]
        else:
            selector = kwargs.get("points_selector", kwargs.get("points"))
            ids = self.client._selected_ids(self.client._get(self.collection), selector, "points")
        records = m.to_builtins(self.client.retrieve(self.collection, ids, with_payload=True, with_vectors=True))
        found = {normalize_id(r["id"], "id") for r in records}
        return {"records": records, "absent": [i for i in ids if i not in found]}

    def _restore(self, records: list = (), absent: list = (), index: Optional[list] = None) -> None:
        if index is not None:
            field, schema = index
            if field in m.to_builtins(self.client.get_collection(self.collection).payload_schema):
                self.client.delete_payload_index(self.collection, field)
            if schema is not None:
                self.client.create_payload_index(self.collection, field, schema)
        if absent:
            self.client.delete(self.collection, list(absent))
        if records:
            self.client.upsert(self.collection, [{"id": r["id"], "vector": r.get("vector") or {},
                                                  "payload": r.get("payload") or {}} for r in records])

    def apply(self, seq: int, method: str, kwargs: dict, op: Optional[str] = None,
              undoable: bool = False) -> tuple[str, int]:
        """A forwarded operation: ("ok", seq), ("gap", last) when earlier ones are missing, or
        ("refused", last) when operation `op` was taken back before it came. `undoable`: keep
        its before-image (the primary may die before it can take the write back)."""
        with self._write_lock:
            last = self.log.last_seq
            if op is not None and op == self._refused:
                return "refused", last
            if seq <= last:
                return "ok", last  # already here (a retried forward)
            if seq != last + 1:
                return "gap", last
            undo = self._before_image(method, kwargs) if undoable else None
            self._apply((seq, method, kwargs))
            self._undo = (op, seq, undo)
            self._seen.append(op)
            return "ok", seq

    def catch_up(self, entries: list[Entry]) -> int:
        """Apply the operations after our last one, in order (the WAL delta from the primary)."""
        with self._write_lock:
            for entry in entries:
                if entry[0] == self.log.last_seq + 1:
                    self._apply(entry)
            return self.log.last_seq

    def position(self) -> tuple[int, Optional[str]]:
        """(last sequence number, digest of that operation): where a catch-up may start."""
        return self.log.last_seq, self.log.digest(self.log.last_seq)

    def write(self, method: str, kwargs: dict, peers: list[str], namespace: str, need: int = 1,
              undoable: bool = False, op: Optional[str] = None) -> dict:
        """As the primary: sequence, apply, forward to `peers` (actor names); count replicas
        that have it durable. Fewer than `need`: the write is taken back here and on the peers
        that took it ("undone"). `undoable`: keep its before-image anyway (the write spans
        shards: another shard may refuse it, see `revert`). `op`: the coordinator's id of the
        write (a retry after a primary died carries the same). An invalid operation raises
        before anything is applied."""
        with self._write_lock:
            undo = None
            if need > 1 or undoable:
                retried = op is not None and self._undo[0] == op and self._undo[1] == self.log.last_seq
                # a retry of what the dead primary forwarded here: its image from before that
                undo = self._undo[2] if retried else self._before_image(method, kwargs)
            seq = self.log.last_seq + 1
            self._apply((seq, method, kwargs))
            acked, failed = self._forward(seq, method, kwargs, peers, namespace, op, undo is not None)
            self._undo = (op, seq, undo)
            self._seen.append(op)
            undone = undo is not None and 1 + len(acked) < need
            if undone:
                _log.warning("operation %d reached %d replicas of %d needed: taken back", seq, 1 + len(acked), need)
                failed += self._take_back(acked, namespace)
            elif not failed and len(self.log.entries) > 2 * self.retain:
                self._compact(seq - self.retain, acked, namespace)
            return {"seq": seq, "acked": 1 + len(acked), "failed": failed, "undone": undone}

    def _take_back(self, peers: list[str], namespace: str) -> list[str]:
        """Apply and forward the before-image of our last operation; the peers that failed."""
        undo = self._undo[2]
        self._undo = (None, 0, None)
        self._apply((self.log.last_seq + 1, RESTORE, undo))
        return self._forward(self.log.last_seq, RESTORE, undo, peers, namespace)[1]

    def revert(self, op: str, peers: list[str], namespace: str) -> tuple[str, list[str]]:
        """Take back operation `op` (the same write was refused on another shard, or its
        primary died and the coordinator refused it) and forward that to `peers`:
        ("undone", the peers that failed); ("absent", []) when it is not here (it is refused
        if it comes later); ("kept", []) when it is no longer our last operation (a later
        write may have touched the same points: it stays, see the coordinator's write)."""
        with self._write_lock:
            if self._undo[0] == op and self.log.last_seq == self._undo[1] and self._undo[2] is not None:
                return "undone", self._take_back(peers, namespace)
            if op in self._seen:
                return "kept", []
            self._refused = op
            return "absent", []

    def _forward(self, seq: int, method: str, kwargs: dict, peers: list[str], namespace: str,
                 op: Optional[str] = None, undoable: bool = False) -> tuple[list, list]:
        """Send operation `seq` to the peers in parallel: (names that have it, names that failed)."""
        import ray

        pending = {}
        for name in peers:
            try:
                actor = ray.get_actor(name, namespace=namespace)
                pending[name] = (actor, actor.apply.remote(seq, method, kwargs, op, undoable))
            except Exception:  # noqa: BLE001 - a peer that cannot be reached is reported dead
                pending[name] = (None, None)
        acked, failed = [], []
        for name, (actor, ref) in pending.items():
            try:
                if ref is None:
                    raise RuntimeError("no such actor")
                status, _ = ray.get(ref, timeout=FORWARD_TIMEOUT_S)
                if status == "refused":
                    raise RuntimeError("the operation was taken back there")
                if status == "gap":  # it missed operations: send them, in order, then this one
                    self._sync(actor)
                acked.append(name)
            except Exception as exc:  # noqa: BLE001 - any failure of a peer: it is not acknowledged
                _log.warning("replica %s missed operation %d: %r", name, seq, exc)
                failed.append(name)
        return acked, failed

    def _compact(self, floor: int, peers: list[str], namespace: str) -> None:
        """Every replica that is not dead has operation `floor`: cut the logs below it."""
        import ray

        self.log.compact(floor)
        for name in peers:
            try:
                ray.get(ray.get_actor(name, namespace=namespace).compact.remote(floor), timeout=FORWARD_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - its log stays longer; compacted next time
                _log.warning("replica %s did not compact its log: %r", name, exc)

    def compact(self, floor: int) -> int:
        with self._write_lock:
            self.log.compact(floor)
            return self.log.base

    def log_span(self) -> tuple[int, int]:
        """(base, last sequence number) of the operation log."""
        return self.log.base, self.log.last_seq

    def sync_peer(self, name: str, namespace: str, snapshot: bool = False) -> str:
        """Bring a returning (or new) peer up to date under the write lock (no write
        interleaves): "delta" or "snapshot", the path it took."""
        import ray

        with self._write_lock:
            return self._sync(ray.get_actor(name, namespace=namespace), snapshot)

    def _sync(self, peer: Any, snapshot: bool = False) -> str:
        """The operations the peer lacks, from its last one on, when our log still holds them
        and its last operation is ours at that number; otherwise (it is behind our compacted
        log, or it was primary and holds an operation no one acknowledged) a snapshot."""
        import ray

        last, digest = ray.get(peer.position.remote(), timeout=FORWARD_TIMEOUT_S)
        in_log = last == self.log.base == 0 or (self.log.base < last <= self.log.last_seq
                                               and self.log.digest(last) == digest)
        if in_log and not snapshot:
            ray.get(peer.catch_up.remote(self.log.since(last)), timeout=FORWARD_TIMEOUT_S)
            return "delta"
        _log.warning("a peer at operation %d is caught up by a snapshot (our log holds %d..%d)", last,
                     self.log.base + 1, self.log.last_seq)
        ray.get(peer.install.remote(self._snapshot_bytes(), self.log.entries[-1:]), timeout=FORWARD_TIMEOUT_S * 4)
        return "snapshot"

    def _snapshot_bytes(self) -> bytes:
        """A snapshot of the collection as it is now (the caller holds the write lock)."""
        described = self.client.create_snapshot(self.collection)
        file = self.client.snapshot_file(self.collection, described.name)
        try:
            return file.read_bytes()
        finally:
            self.client.delete_snapshot(self.collection, described.name)

    def install(self, snapshot: bytes, entries: list[Entry]) -> int:
        """Become the collection of `snapshot`, whose last operation is the last of `entries`."""
        with self._write_lock:
            return self._install(snapshot, entries)

    def _install(self, snapshot: bytes, entries: list[Entry]) -> int:
        import tempfile

        with tempfile.TemporaryDirectory(dir=self.log.path.parent) as tmp:
            archive = Path(tmp) / "shard.snapshot"
            archive.write_bytes(snapshot)
            self.client.restore_snapshot(self.collection, archive)  # a bad archive raises: nothing changed
        self.log.reset(entries)
        return self.log.last_seq

    def snapshot(self) -> bytes:
        """A snapshot of this shard (a shard snapshot asked for by a user)."""
        with self._write_lock:
            return self._snapshot_bytes()

    def recover(self, snapshot: bytes, peers: list[str], namespace: str) -> dict:
        """As the primary: become `snapshot` (one new operation, RECOVERED), then give every
        peer a snapshot of the result; count the replicas that have it."""
        import ray

        with self._write_lock:
            seq = self._install(snapshot, [(self.log.last_seq + 1, RECOVERED, {})])
            acked, failed = 1, []
            for name in peers:
                try:
                    self._sync(ray.get_actor(name, namespace=namespace), snapshot=True)
                    acked += 1
                except Exception as exc:  # noqa: BLE001 - a peer that fails is reported dead
                    _log.warning("replica %s did not take the recovered shard: %r", name, exc)
                    failed.append(name)
            return {"seq": seq, "acked": acked, "failed": failed, "undone": False}

    # ------------------------------------------------------------------ reads
    def read(self, method: str, kwargs: dict) -> Any:
        if method not in READ_METHODS:
            raise ValueError(f"not a shard read: {method}")
        return m.to_builtins(getattr(self.client, method)(self.collection, **kwargs))

    def leaf_statistics(self, shipped: bytes) -> dict:
        """This shard's summable statistics of the (pickled) plan's IDF-weighted leaves."""
        from hybrid.query.execute import leaf_statistics

        return leaf_statistics(pickle.loads(shipped), self.client._view(self.collection))

    def execute_leaves(self, shipped: bytes) -> list[tuple]:
        """The leaves of a pickled (plan, collection-wide statistics) over this shard: per leaf
        (id keys, internal scores, order values), best first, ties by id."""
        from hybrid.query.execute import execute_leaves

        plan, stats = pickle.loads(shipped)
        results = execute_leaves(plan, self.client._view(self.collection), stats)
        return [(hits.keys, np.asarray(hits.scores, np.float32), hits.order_values) for hits in results]

    def drop(self) -> None:
        """The collection is deleted: close and remove this replica's folder."""
        import shutil

        folder = self.log.path.parent
        self.log.close()
        self.client.close()
        shutil.rmtree(folder, ignore_errors=True)

