"""Fault injection through the storage seam (hybrid.storage.files.FAULTS): no engine mocks.

`Injector` counts every persistence step (write, fsync, fsync_dir, rename, truncate) and, at
one chosen step, makes it fail the way disks fail: a short write followed by ENOSPC (a full
disk), ENOSPC, EIO, or a crash (SimulatedCrash; the abandoned Client then does no more I/O,
as a killed process would not; data already written stays, as in the page cache). `Run` does
the fixed writes `OPS` on collection "c" beside an untouched collection "other";
`expected_states` is what a reopen may show: every acknowledged write, plus the one
interrupted write either whole or not at all.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import HybridError
from hybrid.storage.files import FAULTS, is_temporary


class SimulatedCrash(BaseException):
    """The process dies here: nothing after it runs (BaseException: no handler catches it)."""


ACTIONS = {"write": ("short", "enospc", "eio", "crash"), "fsync": ("eio", "crash"),
           "fsync_dir": ("eio", "crash"), "rename": ("enospc", "crash"), "truncate": ("eio", "crash")}


class Injector:
    def __init__(self, root: Path, at: Optional[int] = None, action: Optional[str] = None) -> None:
        self.root, self.at, self.action = root, at, action
        self.calls: list[tuple[str, str]] = []
        self.fired = self.crashed = False
        self._enospc_next_write = False

    def __call__(self, op: str, path: Path, size: int) -> Optional[int]:
        if self.crashed:
            raise SimulatedCrash("already dead")
        k = len(self.calls)
        self.calls.append((op, point_name(path, self.root)))
        if op == "write" and self._enospc_next_write:
            self._enospc_next_write = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        if k != self.at:
            return None
        self.fired = True
        if self.action == "crash":
            self.crashed = True
            raise SimulatedCrash(f"crash at {op} {path}")
        if self.action == "short":  # part of the bytes fit, then the disk is full
            self._enospc_next_write = True
            return size // 2
        code = errno.ENOSPC if self.action == "enospc" else errno.EIO
        raise OSError(code, os.strerror(code), str(path))


def point_name(path: Path, root: Path) -> str:
    """A step's file with names that vary between runs (uuids, numbers) generalised."""
    try:
        rel = str(Path(path).relative_to(root))
    except ValueError:
        rel = str(path)
    rel = re.sub(r"[0-9a-f]{32}", "<seg>", rel)
    return re.sub(r"\d+", "<n>", rel)


DIM = 8


def batch(first: int, n: int = 20) -> list[dict]:
    rng = np.random.default_rng(first)
    return [{"id": i, "vector": {"": rng.normal(size=DIM).round(3).tolist(),
                                 "s": {"indices": [i % 5, 7], "values": [1.0, 0.5]}},
             "payload": {"i": i, "k": f"k{i % 3}"}} for i in range(first, first + n)]


#: The writes on "c": appends, two seals with checkpoints, copy-on-write, a snapshot, a config
#: change, and a vacuum of the sealed segment alone, whose checkpoint writes the appendable
#: segment's points as a plain compact copy.
OPS: list[tuple[str, Callable[[Client], Any]]] = [
    ("upsert 0-19", lambda c: c.upsert("c", batch(0))),
    ("upsert 20-39 (seals)", lambda c: c.upsert("c", batch(20))),
    ("delete 0-2", lambda c: c.delete("c", [0, 1, 2])),
    ("set_payload 20-24", lambda c: c.set_payload("c", {"moved": True}, points=[20, 21, 22, 23, 24])),
    ("upsert 40-59", lambda c: c.upsert("c", batch(40))),
    ("snapshot", lambda c: c.create_snapshot("c")),
    ("upsert 60-79 (seals)", lambda c: c.upsert("c", batch(60))),
    ("keyword index", lambda c: c.create_payload_index("c", "k", "keyword")),
    ("upsert 80-84", lambda c: c.upsert("c", batch(80, 5))),
    ("delete 60-64", lambda c: c.delete("c", [60, 61, 62, 63, 64])),
    ("vacuum (plain copy)", lambda c: c.update_collection(
        "c", optimizers_config={"deleted_threshold": 0.05, "vacuum_min_vector_number": 1})),
]


def create(client: Client, name: str) -> None:
    client.create_collection(name, vectors_config={"size": DIM, "distance": "Cosine"},
                             sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config={"indexing_threshold": 1})


def state(client: Client, name: str) -> tuple:
    points, _ = client.scroll(name, limit=10_000, with_payload=True, with_vectors=True)
    return tuple((p.id, p.payload, _rounded(p.vector)) for p in sorted(points, key=lambda p: p.id))


def _rounded(vector: Any) -> Any:
    if isinstance(vector, dict):
        return tuple(sorted((k, _rounded(v)) for k, v in vector.items()))
    if hasattr(vector, "indices"):
        return (tuple(vector.indices), tuple(round(x, 4) for x in vector.values))
    if isinstance(vector, list):
        return tuple(round(x, 4) for x in vector)
    return vector


def expected_states(applied: list[int], maybe: Optional[int]) -> list[tuple]:
    """The states a reopen may show: the acknowledged ops, with the interrupted one or without."""
    out = []
    for with_maybe in ([False, True] if maybe is not None else [False]):
        ref = Client()
        create(ref, "c")
        for i in sorted(applied + ([maybe] if with_maybe else [])):
            if OPS[i][0] != "snapshot":
                OPS[i][1](ref)
        out.append(state(ref, "c"))
        ref.close()
    return out


class Run:
    """One scenario on a fresh data folder; `inject` arms the Injector before the ops on "c"."""

    def __init__(self, root: Path, injector: Optional[Injector]) -> None:
        self.root = root
        self.client = Client(path=root)
        create(self.client, "other")
        self.client.upsert("other", batch(1000, 30))
        self.other = state(self.client, "other")
        create(self.client, "c")
        self.client.collection("c").optimizer.run_inline()  # seal inside the write: deterministic
        self.acked: list[int] = []
        self.failed: list[tuple[int, HybridError]] = []
        self.maybe: Optional[int] = None
        self.crashed = False
        self.snapshots: list[str] = []
        FAULTS.hook = injector
        try:
            for i, (_, op) in enumerate(OPS):
                try:
                    result = op(self.client)
                except HybridError as exc:
                    self.failed.append((i, exc))
                    self.maybe = i if self.maybe is None else self.maybe
                    continue
                except SimulatedCrash:
                    self.crashed, self.maybe = True, i
                    break
                self.acked.append(i)
                if OPS[i][0] == "snapshot":
                    self.snapshots.append(result.name)
        finally:
            FAULTS.hook = None
        if self.crashed:
            self._abandon()
        else:
            self.client.close()

    def _abandon(self) -> None:
        """What a killed process leaves: no close, no flush; only its lock and fds go away."""
        client = self.client
        client._closed = True
        for coll in client._collections.values():
            coll.optimizer.run_inline()
            if coll.wal is not None and coll.wal._fd >= 0:
                os.close(coll.wal._fd)
                coll.wal._fd = -1
        client._folder_lock.release()

    def orphans(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if is_temporary(p.name)]


@pytest.fixture(scope="session")
def h():
    """This module (the harness), for the tests of this folder."""
    import sys

    return sys.modules[__name__]


@pytest.fixture(autouse=True)
def _no_fault_left():
    yield
    FAULTS.hook = None
