"""Client(path): reopen, sealing + checkpoint + WAL replay, the folder lock, torn WAL tails."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import StorageLocked

SMALL_SEGMENTS = {"indexing_threshold": 1, "default_segment_number": 100}  # 1 KB: seal after a handful of points, no merges


def _fill(client: Client, name: str = "c", n: int = 200, seed: int = 0) -> np.ndarray:
    client.create_collection(name, vectors_config={"size": 8, "distance": "Cosine"},
                             sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config=SMALL_SEGMENTS)
    data = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    for start in range(0, n, 25):
        ids = list(range(start, min(n, start + 25)))
        client.upsert(name, [{"id": i, "vector": {"": data[i].tolist(), "s": {"indices": [i % 7], "values": [1.0]}},
                              "payload": {"i": i}} for i in ids])
    return data


def _snapshot(client: Client, name: str = "c"):
    q = np.linspace(-1, 1, 8).tolist()
    dense = [(p.id, round(p.score, 5)) for p in client.query_points(name, query=q, limit=20).points]
    sparse = [(p.id, round(p.score, 5)) for p in client.query_points(name, query={"indices": [3], "values": [1.0]}, using="s", limit=20).points]
    page, _ = client.scroll(name, limit=1000)
    return dense, sparse, [(r.id, r.payload) for r in page], client.count(name).count


def test_reopen_after_seal_updates_and_deletes(tmp_path) -> None:
    path = tmp_path / "data"
    client = Client(path=path)
    _fill(client)
    client.collection("c").optimizer.wait()
    assert client.get_collection("c").segments_count >= 2  # sealed (in the background)
    client.delete("c", list(range(0, 200, 3)))
    client.set_payload("c", {"moved": True}, points=[4, 5])  # points in sealed segments: copy-on-write
    client.update_vectors("c", [{"id": 7, "vector": {"": [1.0] * 8}}])
    client.delete_vectors("c", ["s"], points=[8])
    before = _snapshot(client)
    client.close()
    reopened = Client(path=path)
    assert _snapshot(reopened) == before
    assert reopened.retrieve("c", [4])[0].payload == {"i": 4, "moved": True}
    reopened.close()


def test_folder_lock_is_exclusive(tmp_path) -> None:
    first = Client(path=tmp_path)
    with pytest.raises(StorageLocked, match="already in use"):
        Client(path=tmp_path)
    first.close()
    Client(path=tmp_path).close()  # released on close


def test_torn_wal_tail_is_cut_on_open(tmp_path) -> None:
    client = Client(path=tmp_path)
    client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
    client.upsert("c", [{"id": 1, "vector": [1.0, 0.0]}])
    client.close()
    wal = sorted((tmp_path / "collections" / "c" / "wal").glob("*.log"))[-1]
    with open(wal, "ab") as fh:
        fh.write(b"\x40\x00\x00\x00garbage")  # a record header whose body never made it
    reopened = Client(path=tmp_path)
    assert reopened.count("c").count == 1
    reopened.upsert("c", [{"id": 2, "vector": [0.0, 1.0]}])
    reopened.close()
    assert Client(path=tmp_path).count("c").count == 2


def test_delete_collection_removes_files(tmp_path) -> None:
    client = Client(path=tmp_path)
    _fill(client, n=30)
    client.delete_collection("c")
    assert not (tmp_path / "collections" / "c").exists()
    client.close()
    assert not Client(path=tmp_path).collection_exists("c")


def test_sealed_and_appendable_agree_with_single_segment(tmp_path) -> None:
    """Sealing must not change results: compare with a collection that never seals."""
    sealed = Client()
    data = _fill(sealed)
    flat = Client()
    flat.create_collection("c", vectors_config={"size": 8, "distance": "Cosine"},
                           sparse_vectors_config={"s": {"modifier": "idf"}}, optimizers_config={"indexing_threshold": 0})
    flat.upsert("c", [{"id": i, "vector": {"": data[i].tolist(), "s": {"indices": [i % 7], "values": [1.0]}},
                       "payload": {"i": i}} for i in range(200)])
    assert flat.get_collection("c").segments_count == 1
    sealed.collection("c").optimizer.wait()
    for client in (sealed, flat):
        client.delete("c", [10, 11, 12])
    assert _snapshot(sealed) == _snapshot(flat)


def test_wal_numbering_survives_rotation_and_drop(tmp_path) -> None:
    from hybrid.storage.wal import WriteAheadLog

    wal = WriteAheadLog(tmp_path)
    for body in (b"a", b"b", b"c"):
        wal.sync(wal.append(body))
    covered = wal.rotate()
    wal.drop_until(covered)
    wal.close()
    # only an empty file is left: numbering continues after the checkpoint that covered the rest
    reopened = WriteAheadLog(tmp_path, checkpoint_seq=covered)
    assert reopened.last_seq == 3
    assert reopened.append(b"d") == 4
    reopened.close()
    assert [s for s, _ in WriteAheadLog(tmp_path, checkpoint_seq=covered).replay(3)] == [4]


def test_a_checkpointed_appendable_segment_reopens_appendable(tmp_path) -> None:
    """A checkpoint taken while the appendable segment holds points writes it as a compact copy
    and drops the log it covers: after a restart it is the appendable segment again (same
    segments, same status, same answers), not one more unindexed sealed segment to merge."""
    from hybrid.checkpoint import write_checkpoint

    path = tmp_path / "data"
    client = Client(path=path)
    _fill(client)
    client.create_payload_index("c", "i", "integer")
    client.collection("c").optimizer.wait()
    client.upsert("c", [{"id": 1000 + i, "vector": {"": [float(i + 1)] * 8, "s": {"indices": [3], "values": [2.0]}},
                         "payload": {"i": 1000 + i}} for i in range(10)])
    client.delete("c", [1003])
    coll = client.collection("c")
    with coll.lock:
        write_checkpoint(coll, coll.optimizer.saved, set)
    info, before = client.get_collection("c"), _snapshot(client)
    filtered = client.count("c", count_filter={"must": [{"key": "i", "range": {"gte": 1000}}]}).count
    client.close()

    with Client(path=path) as reopened:
        again = reopened.get_collection("c")
        app = reopened.collection("c").appendable
        assert app.appendable and app.live_count == 9
        assert (again.segments_count, again.status, again.indexed_vectors_count) == \
            (info.segments_count, info.status, info.indexed_vectors_count)
        assert _snapshot(reopened) == before
        assert reopened.count("c", count_filter={"must": [{"key": "i", "range": {"gte": 1000}}]}).count == filtered == 9
        reopened.set_payload("c", {"moved": True}, points=[1001])  # the reopened points are found where they are
        reopened.delete("c", [1002])
        assert reopened.retrieve("c", [1001])[0].payload == {"i": 1001, "moved": True}
        assert reopened.count("c").count == before[3] - 1 and not reopened.retrieve("c", [1002])
