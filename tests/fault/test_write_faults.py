"""Every persistence step of the scenario (WAL appends and fsyncs, seals and checkpoints,
bitsets, manifest, config, snapshot) fails in turn (short write then ENOSPC, ENOSPC, EIO, or a
crash); after each, reopening shows exactly the acknowledged writes (the interrupted one whole
or not at all), "other" is unaffected, no temporary file survives the reopen, and the
collection takes writes again."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from hybrid import Client
from hybrid.errors import CollectionDamaged, StorageError
from hybrid.snapshots import sha256_of
from hybrid.storage.files import FAULTS


def _plan(h, root: Path) -> tuple[list[tuple[int, str, str, str]], int]:
    """(call index, op, point, action) to inject: every step outside a folder being built; one
    occurrence per distinct step inside one (any failure there abandons the whole folder)."""
    recorder = h.Injector(root)
    h.Run(root, recorder)
    seen: set[tuple[str, str]] = set()
    plan = []
    for k, (op, point) in enumerate(recorder.calls):
        if ".building" in point and (op, point) in seen:
            continue
        seen.add((op, point))
        plan += [(k, op, point, action) for action in h.ACTIONS[op]]
    return plan, len(seen)


def _check_reopen(h, root: Path, run) -> str:
    """'' when the reopened folder is exactly right; otherwise what is wrong."""
    client = Client(path=root)
    try:
        if h.state(client, "other") != run.other or client.get_collection("other").status != "green":
            return "collection 'other' changed"
        info = client.get_collection("c")
        got = h.state(client, "c")
        candidates = h.expected_states(run.acked, run.maybe)
        if got not in candidates:
            return f"state differs from the acknowledged writes (status {info.status})"
        if info.status == "red":
            return f"red after a clean fault: {info.optimizer_status}"
        if run.orphans():
            return f"orphans left: {run.orphans()}"
        for name in run.snapshots:
            file = client.snapshot_file("c", name)
            if file.with_name(name + ".checksum").read_text() != sha256_of(file):
                return f"acknowledged snapshot {name} does not verify"
        client.upsert("c", h.batch(500, 3))  # the collection takes writes again
        if client.count("c").count != len(got) + 3:
            return "a write after reopening was lost"
    finally:
        client.close()
    return ""


def test_every_persistence_step_fails_safely(h, tmp_path: Path) -> None:
    plan, points = _plan(h, tmp_path / "record")
    problems: list[str] = []
    fired = refused_after = 0
    for n, (k, op, point, action) in enumerate(plan):
        root = tmp_path / f"run{n}"
        injector = h.Injector(root, k, action)
        run = h.Run(root, injector)
        fired += injector.fired
        assert injector.fired, (k, op, point)
        for i, exc in run.failed[1:]:  # after the one fault, only refusals of a failed log
            if not isinstance(exc, CollectionDamaged):
                problems.append(f"{action} at {op} {point}: op {h.OPS[i][0]} failed too: {exc}")
        refused_after += len(run.failed[1:])
        if run.failed and not isinstance(run.failed[0][1], StorageError):
            problems.append(f"{action} at {op} {point}: untyped error {run.failed[0][1]!r}")
        wrong = _check_reopen(h, root, run)
        if wrong:
            problems.append(f"{action} at {op} {point} (op {run.maybe}): {wrong}")
    print(f"\nfault injection: {points} distinct steps, {len(plan)} faults injected ({fired} fired), "
          f"{refused_after} writes refused after a failed fsync, problems: {len(problems)}")
    assert not problems, "\n".join(problems)


def test_failed_append_whose_cut_back_fails_refuses_writes_until_reopen(h, tmp_path: Path) -> None:
    root = tmp_path / "data"
    client = Client(path=root)
    h.create(client, "c")
    client.upsert("c", h.batch(0))

    def hook(op: str, path: Path, size: int):
        if op == "write" and path.suffix == ".log":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if op == "truncate":
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    FAULTS.hook = hook
    try:
        for _ in range(2):
            try:
                client.upsert("c", h.batch(100))
            except StorageError as exc:
                last = exc
    finally:
        FAULTS.hook = None
    assert isinstance(last, CollectionDamaged) and "reopen" in last.message
    assert client.get_collection("c").status == "red"
    client.close()
    reopened = Client(path=root)
    assert [p[0] for p in h.state(reopened, "c")] == list(range(20))
    reopened.close()


def test_text_indexes_never_claim_a_write_whose_fsync_failed(h, tmp_path: Path) -> None:
    """The kernel may drop the pages of a failed fsync: the record is gone, and its sequence
    number is reused after the reopen. The text index must not have committed past it."""
    root = tmp_path / "data"
    client = Client(path=root)
    client.create_collection("t", vectors_config={"size": 2, "distance": "Dot"})
    client.create_payload_index("t", "text", {"type": "text"})
    client.upsert("t", [{"id": 1, "vector": [1.0, 0.0], "payload": {"text": "apple"}}])
    wal = sorted((root / "collections/t/wal").glob("*.log"))[-1]
    durable = wal.stat().st_size

    def fsync_fails(op: str, path: Path, size: int):
        if op == "fsync" and path.suffix == ".log":
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    FAULTS.hook = fsync_fails
    try:
        try:
            client.upsert("t", [{"id": 2, "vector": [0.0, 1.0], "payload": {"text": "banana"}}])
        except StorageError:
            pass
    finally:
        FAULTS.hook = None
    client.close()
    os.truncate(wal, durable)  # what the failed fsync lost
    client = Client(path=root)
    client.upsert("t", [{"id": 3, "vector": [1.0, 1.0], "payload": {"text": "cherry"}}])  # reuses the seq
    hits = client.query_points("t", query={"bm25": {"text": "cherry", "field": "text"}}, limit=5).points
    assert [p.id for p in hits] == [3]
    assert not client.query_points("t", query={"bm25": {"text": "banana", "field": "text"}}, limit=5).points
    client.close()
