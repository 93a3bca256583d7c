"""The parts of cluster mode that need no Ray: routing, the operation log, and that the
single-node server never imports Ray."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from hybrid.cluster.oplog import OpLog
from hybrid.cluster.routing import HashRing, selector_keys
from hybrid.errors import DataDamaged, ValidationError


def test_ring_spreads_points_and_moves_few_when_a_shard_is_added():
    ids = list(range(6000)) + [f"00000000-0000-0000-0000-{i:012d}" for i in range(300)]
    three = HashRing([0, 1, 2]).route(ids)
    counts = Counter(three.tolist())
    assert set(counts) == {0, 1, 2} and min(counts.values()) > len(ids) / 3 * 0.7
    four = HashRing([0, 1, 2, 3]).route(ids)
    moved = three != four
    assert (four[moved] == 3).all() and moved.mean() < 0.4  # only to the new shard, about a quarter
    assert (HashRing([0, 1, 2]).route(ids) == three).all()  # stable across processes: no salted hash


def test_shard_key_selectors():
    assert selector_keys("eu") == ["eu"]
    assert selector_keys(["eu", 7]) == ["eu", 7]
    assert selector_keys({"shard_key": "eu", "fallback": "default"}) == ["eu"]
    with pytest.raises(ValidationError):
        selector_keys([1.5])


def test_oplog_survives_reopen_and_drops_a_torn_tail(tmp_path):
    log = OpLog(tmp_path / "ops.log")
    for seq in (1, 2, 3):
        log.append((seq, "upsert", {"points": [{"id": seq}]}))
    digest = log.digest(2)
    log.close()
    with open(tmp_path / "ops.log", "ab") as f:
        f.write(b"\x40\x00\x00\x00torn")  # a record whose write never finished
    again = OpLog(tmp_path / "ops.log")
    assert again.last_seq == 3 and again.digest(2) == digest and [e[0] for e in again.since(1)] == [2, 3]
    again.append((4, "delete", {"points_selector": [1]}))
    again.close()
    assert OpLog(tmp_path / "ops.log").last_seq == 4


def test_oplog_damage_before_the_end_is_reported(tmp_path):
    log = OpLog(tmp_path / "ops.log")
    log.append((1, "upsert", {"points": []}))
    log.append((2, "upsert", {"points": []}))
    log.close()
    data = bytearray((tmp_path / "ops.log").read_bytes())
    data[10] ^= 0xFF
    (tmp_path / "ops.log").write_bytes(bytes(data))
    with pytest.raises(DataDamaged):
        OpLog(tmp_path / "ops.log")


def test_single_node_server_never_imports_ray():
    code = ("import sys; from hybrid.cli import _parser; from api.app import create_app; from hybrid import Client;"
            "create_app(Client()); _parser().parse_args(['serve']); import hybrid.cluster.coordinator;"
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_ray_address_needs_cluster(capsys):
    from hybrid.cli import main

    assert main(["serve", "--port", "0", "--ray-address", "127.0.0.1:6379"]) == 2
    assert "--ray-address needs --cluster" in capsys.readouterr().err


CONFIG = {"vectors_config": {"size": 2, "distance": "Dot"}}


def test_a_refused_operation_leaves_no_record(tmp_path):
    from hybrid.cluster.replica import Replica

    replica = Replica(str(tmp_path), "c", CONFIG)
    replica.apply(1, "upsert", {"points": [{"id": 1, "vector": [1.0, 0.0]}]})
    with pytest.raises(ValidationError):
        replica.apply(2, "upsert", {"points": [{"id": 2, "vector": [1.0, 0.0, 0.0]}]})  # wrong size
    assert replica.last_seq() == 1 and OpLog(tmp_path / "ops.log").last_seq == 1
    replica.client.close()


def test_a_logged_operation_the_collection_never_saw_is_redone_on_open(tmp_path):
    """The crash between logging an operation and applying it: the replica that comes back has
    both (its log decides what a returning peer holds, so log and data must agree)."""
    from hybrid.cluster.replica import Replica

    replica = Replica(str(tmp_path), "c", CONFIG)
    replica.apply(1, "upsert", {"points": [{"id": 1, "vector": [1.0, 0.0]}]})
    replica.log.append((2, "upsert", {"points": [{"id": 2, "vector": [0.0, 1.0]}]}))  # then the crash
    replica.client.close()
    replica.log.close()
    back = Replica(str(tmp_path), "c", CONFIG)
    assert back.last_seq() == 2 and back.client.count("c").count == 2
    back.client.close()


def test_read_consistency_rules_and_resolution_follow_qdrant():
    import numpy as np

    from hybrid.cluster.resolve import (ALL, MAJORITY, read_rule, resolve_count, resolve_facet, resolve_leaves,
                                        resolve_records)

    assert [read_rule(c, 3) for c in (None, "all", "majority", "quorum", 2, 9, {"type": "quorum"})] == \
        [(1, ALL), (3, ALL), (3, MAJORITY), (2, ALL), (2, ALL), (3, ALL), (2, ALL)]
    with pytest.raises(ValidationError):
        read_rule(0, 3)
    assert resolve_count([{"count": 5}, {"count": 3}, {"count": 4}], ALL) == {"count": 3}
    assert resolve_count([{"count": 5}, {"count": 3}, {"count": 4}], MAJORITY) == {"count": 4}
    facets = [{"hits": [{"value": "a", "count": 20}, {"value": "b", "count": 15}]},
              {"hits": [{"value": "a", "count": 21}, {"value": "b", "count": 15}]},
              {"hits": [{"value": "a", "count": 22}]}]
    assert resolve_facet(facets, ALL) == {"hits": [{"value": "a", "count": 20}]}
    assert resolve_facet(facets, MAJORITY) == {"hits": [{"value": "a", "count": 21}, {"value": "b", "count": 15}]}
    # Qdrant's resolve.rs example: A, B, C in two answers, A, C, D in the third
    key = lambda i: np.array([f"{i:017d}".encode() for i in i], dtype="S17")  # noqa: E731
    answers = [[(key([10, 3, 4]), np.array([0.9, 0.8, 0.7], np.float32), None)],
               [(key([10, 3, 4]), np.array([0.9, 0.8, 0.7], np.float32), None)],
               [(key([10, 4, 2]), np.array([0.9, 0.7, 0.6], np.float32), None)]]
    assert resolve_leaves(answers, MAJORITY)[0][0].tolist() == key([10, 3, 4]).tolist()
    assert resolve_leaves(answers, ALL)[0][0].tolist() == key([10, 4]).tolist()
    stale = [{"id": 1, "payload": {"x": 1}, "version": 3}, {"id": 2, "payload": {}}]
    fresh = [{"id": 1, "payload": {"x": 2}, "version": 4}, {"id": 2, "payload": {}}]
    assert resolve_records([fresh, fresh, stale], MAJORITY) == fresh
    assert resolve_records([fresh, stale], ALL) == [{"id": 2, "payload": {}}]


def test_layout_changes_from_concurrent_writers_are_never_lost():
    """Two coordinators (their own Metadata over one store) change one layout at once: the
    compare-and-set keeps every change (a whole-layout put would lose some)."""
    import threading
    import time

    from hybrid.cluster.meta import ACTIVE, DEAD, Layout, MemoryKV, Metadata, ReplicaInfo, ShardInfo
    from hybrid.errors import AlreadyExists, CollectionNotFound

    class NetworkKV(MemoryKV):  # a read takes a while, as a GCS round trip does: writers interleave
        def get(self, key):
            raw = super().get(key)
            time.sleep(0.0002)  # the answer travels back
            return raw

    store = NetworkKV()
    first, second = Metadata(store), Metadata(store)
    first.create(Layout("c", "u1", {}, shards=[ShardInfo(0, [ReplicaInfo(0, "s0"), ReplicaInfo(1, "s1")])]))
    with pytest.raises(AlreadyExists):
        second.create(Layout("c", "u2", {}))
    start = threading.Barrier(3)

    errors = []

    def appends(meta, tag):
        start.wait()
        try:
            for i in range(200):
                meta.update("c", lambda layout: layout.updates.append([tag, i]))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def flips():
        start.wait()
        for i in range(200):
            second.set_state("c", 0, 1, DEAD if i % 2 == 0 else ACTIVE)

    threads = [threading.Thread(target=appends, args=(first, "a")), threading.Thread(target=appends, args=(second, "b")),
               threading.Thread(target=flips)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    layout = first.get("c")
    assert errors == []
    assert sorted(map(tuple, layout.updates)) == sorted([(t, i) for t in "ab" for i in range(200)])
    assert [u[1] for u in layout.updates if u[0] == "a"] == list(range(200))  # each writer's in its order
    assert layout.shards[0].replicas[1].state == ACTIVE
    def refused(layout):
        layout.updates.clear()
        raise ValidationError("x", "refused")

    with pytest.raises(ValidationError):  # a change that raises changes nothing
        first.update("c", refused)
    assert len(first.get("c").updates) == 400
    assert second.delete("c").uid == "u1" and first.get("c") is None and first.delete("c") is None
    with pytest.raises(CollectionNotFound):
        first.update("c", lambda layout: None)
