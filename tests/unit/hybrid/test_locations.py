"""The collection's id map (hybrid/locations.py) against a plain dict oracle, across seals,
moves out of sealed segments, deletes, merges and a reopen from disk."""

from __future__ import annotations

import random
import uuid

import numpy as np

from hybrid import Client
from hybrid.ids import KeyIds, id_keys


def _check(client: Client, oracle: dict) -> None:
    c = client.collection("c")
    where = c.where
    assert sorted(map(str, where)) == sorted(map(str, oracle)) and len(where) == len(oracle)
    ids = list(oracle) + [10_000, str(uuid.UUID(int=7))]  # plus two ids that never existed
    for pid, loc in zip(ids, where.locate(ids)):
        if pid not in oracle:
            assert loc is None and pid not in where and where.get(pid) is None
            continue
        seg, off = loc
        assert seg.ids[off] == pid and seg.live[off] and where[pid] == loc
        assert seg.payloads[off] == {"v": oracle[pid]}
        segs, seg_ix, offs = where.locate_pids(np.array([seg.pids[off], -5], np.int64))
        assert segs[seg_ix[0]] is seg and offs[0] == off and seg_ix[1] == -1


def test_locations_follow_every_write(client):
    rng = random.Random(5)
    client.create_collection("c", vectors_config={"size": 3, "distance": "Dot"},  # seals and merges: ours only
                             optimizers_config={"indexing_threshold": 0, "default_segment_number": 100})
    pool = list(range(60)) + [str(uuid.UUID(int=i)) for i in range(1, 30)]
    oracle: dict = {}
    for step in range(120):
        action = rng.random()
        chosen = rng.sample(pool, rng.randint(1, 8))
        if action < 0.5:
            client.upsert("c", [{"id": p, "vector": [rng.random(), 1.0, 0.0], "payload": {"v": step}}
                                for p in chosen])
            oracle.update({p: step for p in chosen})
        elif action < 0.7:
            client.delete("c", chosen)
            for p in chosen:
                oracle.pop(p, None)
        elif action < 0.85:
            client.overwrite_payload("c", {"v": step}, chosen)  # moves sealed points to the appendable
            oracle.update({p: step for p in chosen if p in oracle})
        elif action < 0.95:
            client.collection("c").optimizer.optimize([])  # seal the appendable segment alone
        else:
            client.collection("c").optimizer.optimize()  # merge everything
        _check(client, oracle)
    assert len([s for s in client.collection("c").segments if not s.appendable]) >= 1
    if client.path is not None:
        path = client.path
        client.close()
        with Client(path=path) as again:
            _check(again, oracle)


def test_deleted_sealed_point_is_gone_and_comes_back():
    with Client() as client:
        client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
        client.upsert("c", [{"id": i, "vector": [1.0, float(i)], "payload": {"v": 0}} for i in range(5)])
        client.collection("c").optimizer.optimize()
        where = client.collection("c").where
        assert where.recent == {} and len(where.sealed) == 1  # answered from the sealed arrays
        key = int(where[3][0].pids[where[3][1]])
        client.delete("c", [3])
        assert 3 not in where and where.get(3) is None and where.locate_pids(np.array([key]))[1][0] == -1
        client.upsert("c", [{"id": 3, "vector": [1.0, 3.0], "payload": {"v": 1}}])
        assert where[3][0].appendable and np.array_equal(where.locate([3, 4])[1][0].ids, where[4][0].ids)


def test_key_ids_decode_every_kind_of_id():
    ids = [0, 1, 255, 256, 2**64 - 1, str(uuid.UUID(int=0)), str(uuid.UUID(int=(1 << 127) | 5)),
           str(uuid.UUID(int=256)), 7]
    decoded = KeyIds(id_keys(ids))
    assert len(decoded) == len(ids) and list(decoded) == ids
    assert [decoded[i] for i in range(len(ids))] == ids


def test_sealed_segments_hold_no_id_objects(tmp_path):
    with Client(path=tmp_path / "d") as client:
        client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
        ids = [3, str(uuid.UUID(int=9)), 0]
        client.upsert("c", [{"id": p, "vector": [1.0, 0.5]} for p in ids])
        client.collection("c").optimizer.optimize()
        (seg,) = [s for s in client.collection("c").segments if s.size]
        assert isinstance(seg.ids, KeyIds) and sorted(map(str, seg.ids)) == sorted(map(str, ids))
    with Client(path=tmp_path / "d") as again:
        (seg,) = [s for s in again.collection("c").segments if s.size]
        assert isinstance(seg.ids, KeyIds)
        assert {r.id for r in again.retrieve("c", ids)} == set(ids)


def test_key_ids_take_decodes_integer_and_uuid_batches():
    ints = KeyIds(id_keys([5, 2**64 - 1, 0]))
    assert ints.take(np.array([2, 0, 1])) == [0, 5, 2**64 - 1]
    assert all(type(i) is int for i in ints.take(np.array([1])))
    mixed = KeyIds(id_keys([3, str(uuid.UUID(int=12))]))
    assert mixed.take(np.array([1, 0])) == [str(uuid.UUID(int=12)), 3]
