"""One shard replica: an embedded collection in its own data folder, run as a Ray actor.

The coordinator wraps `Replica` with `ray.remote` (Ray is imported only in cluster mode). A
write goes to the shard's primary (its first active replica), which gives it the shard's next
sequence number, applies it, and forwards it to the other replicas in that order; a replica
that sees a gap (it missed operations while dead or partial) is sent the missing ones from the
primary's operation log first. The primary answers with how many replicas have the operation
durable, so the coordinator can acknowledge at `write_consistency_factor`.
"""

from __future__ import annotations

import logging
import pickle
import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.cluster.oplog import Entry, OpLog
from hybrid.errors import HybridError

_log = logging.getLogger("hybrid.cluster.replica")
FORWARD_TIMEOUT_S = 30.0

#: Client methods a shard operation may call (writes) and read calls the coordinator may make.
WRITE_METHODS = frozenset({"upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
                           "update_vectors", "delete_vectors", "create_payload_index", "delete_payload_index"})
READ_METHODS = frozenset({"count", "scroll", "retrieve", "facet", "get_collection"})


class Replica:
    def __init__(self, folder: str, collection: str, config: dict) -> None:
        from hybrid.client import Client

        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        self.collection = collection
        self.config = config
        self.client = Client(path=path / "data")
        if not self.client.collection_exists(collection):
            self.client.create_collection(collection, **config)
        self.log = OpLog(path / "ops.log")
        self._write_lock = threading.Lock()
        if self.log.entries:  # the last logged operation may not have reached the collection
            self._redo(self.log.entries[-1])

    def _redo(self, entry: Entry) -> None:
        seq, method, kwargs = entry
        try:
            getattr(self.client, method)(self.collection, **kwargs)
        except HybridError as exc:  # applied before (e.g. an index already dropped): nothing to redo
            _log.info("redo of operation %d (%s) after a restart: %s", seq, method, exc)

    # ------------------------------------------------------------------ writes
    def last_seq(self) -> int:
        return self.log.last_seq

    def _apply(self, entry: Entry) -> None:
        seq, method, kwargs = entry
        if method not in WRITE_METHODS:
            raise ValueError(f"not a shard write: {method}")
        self.log.append(entry)  # logged first: see hybrid.cluster.oplog
        try:
            getattr(self.client, method)(self.collection, **kwargs)
        except BaseException:
            self.log.drop_last()  # refused (bad input): neither applied nor logged
            raise

    def apply(self, seq: int, method: str, kwargs: dict) -> tuple[str, int]:
        """A forwarded operation: ("ok", seq), or ("gap", last) when earlier ones are missing."""
        with self._write_lock:
            last = self.log.last_seq
            if seq <= last:
                return "ok", last  # already here (a retried forward)
            if seq != last + 1:
                return "gap", last
            self._apply((seq, method, kwargs))
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

    def reset(self) -> None:
        """Forget everything (this replica diverged: it holds an operation no one acknowledged)."""
        with self._write_lock:
            config = self.config
            self.client.delete_collection(self.collection)
            self.client.create_collection(self.collection, **config)
            self.log.clear()

    def write(self, method: str, kwargs: dict, peers: list[str], namespace: str) -> dict:
        """As the primary: sequence, apply, forward to `peers` (actor names); count replicas
        that have it durable. An invalid operation raises before anything is applied."""
        import ray

        with self._write_lock:
            seq = self.log.last_seq + 1
            self._apply((seq, method, kwargs))
            pending = {}
            for name in peers:
                try:
                    actor = ray.get_actor(name, namespace=namespace)
                    pending[name] = (actor, actor.apply.remote(seq, method, kwargs))
                except Exception:  # noqa: BLE001 - a peer that cannot be reached is reported dead
                    pending[name] = (None, None)
            acked, failed = 1, []
            for name, (actor, ref) in pending.items():
                try:
                    if ref is None:
                        raise RuntimeError("no such actor")
                    status, _ = ray.get(ref, timeout=FORWARD_TIMEOUT_S)
                    if status == "gap":  # it missed operations: send them, in order, then this one
                        self._sync(actor)
                    acked += 1
                except Exception as exc:  # noqa: BLE001 - any failure of a peer: it is not acknowledged
                    _log.warning("replica %s missed operation %d: %r", name, seq, exc)
                    failed.append(name)
            return {"seq": seq, "acked": acked, "failed": failed}

    def sync_peer(self, name: str, namespace: str) -> int:
        """Bring a returning peer up to date under the write lock (no write interleaves)."""
        import ray

        with self._write_lock:
            return self._sync(ray.get_actor(name, namespace=namespace))

    def _sync(self, peer: Any) -> int:
        """The operations the peer lacks, from its last one on; a peer whose last operation is
        not ours at that number (it was primary and died before forwarding it, so no one
        acknowledged it) is rebuilt from our whole log (the snapshot path)."""
        import ray

        last, digest = ray.get(peer.position.remote(), timeout=FORWARD_TIMEOUT_S)
        if last and (last > self.log.last_seq or self.log.digest(last) != digest):
            _log.warning("a returning replica diverged after operation %d: rebuilt from the primary's log", last)
            ray.get(peer.reset.remote(), timeout=FORWARD_TIMEOUT_S)
            last = 0
        return ray.get(peer.catch_up.remote(self.log.since(last)), timeout=FORWARD_TIMEOUT_S)

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

