"""A replica without Ray: a write that reaches fewer replicas than needed is taken back exactly
(its before-image), and the operation log is compacted and survives a reopen."""

from __future__ import annotations

import pytest

from hybrid.cluster.oplog import OpLog
from hybrid.cluster.replica import Replica

CONFIG = {"vectors_config": {"size": 2, "distance": "Dot"},
          "sparse_vectors_config": {"s": {}}}


def _state(replica: Replica) -> tuple:
    records, _ = replica.client.scroll("c", limit=100, with_vectors=True)
    schema = replica.client.get_collection("c").payload_schema
    return sorted((str(r.id), repr(r.payload), repr(r.vector)) for r in records), sorted(schema)


@pytest.mark.parametrize("method, kwargs", [
    ("upsert", {"points": [{"id": 1, "vector": {"": [9.0, 9.0]}, "payload": {"k": "new"}},
                           {"id": "6f1c3cb2-0000-4000-8000-000000000000", "vector": {"": [1.0, 1.0]}}]}),
    ("set_payload", {"payload": {"k": "set"}, "points": {"filter": {"must": [{"key": "n", "range": {"gte": 1}}]}},
                     "key": None}),
    ("overwrite_payload", {"payload": {"z": 1}, "points": [0, 2]}),
    ("delete", {"points_selector": [0, 1, 7]}),
    ("clear_payload", {"points_selector": [1]}),
    ("delete_vectors", {"vectors": ["s"], "points": [0, 1]}),
    ("update_vectors", {"points": [{"id": 2, "vector": {"s": {"indices": [5], "values": [0.5]}}}]}),
    ("create_payload_index", {"field_name": "n", "field_schema": "integer"}),
    ("delete_payload_index", {"field_name": "k"}),
])
def test_a_write_short_of_replicas_is_taken_back_exactly(tmp_path, method, kwargs):
    replica = Replica(str(tmp_path), "c", CONFIG)
    replica.write("upsert", {"points": [{"id": i, "vector": {"": [1.0, float(i)], "s": {"indices": [i], "values": [1.0]}},
                                         "payload": {"k": "old", "n": i}} for i in range(3)]}, [], "ns")
    replica.write("create_payload_index", {"field_name": "k", "field_schema": "keyword"}, [], "ns")
    before = _state(replica)
    result = replica.write(method, kwargs, [], "ns", need=2)  # no peer took it: 1 of 2 needed
    assert result["undone"] and result["acked"] == 1 and result["seq"] == 3
    assert _state(replica) == before and replica.last_seq() == 4  # the write and its restore, both logged
    replica.client.close()
    replica.log.close()


def test_the_log_is_compacted_keeps_its_last_record_and_reopens(tmp_path):
    log = OpLog(tmp_path / "ops.log")
    for seq in range(1, 11):
        log.append((seq, "upsert", {"points": [seq]}))
    digest = log.digest(8)
    log.compact(8)
    assert (log.base, log.last_seq) == (7, 10) and log.digest(8) == digest and log.digest(7) is None
    assert [e[0] for e in log.since(8)] == [9, 10]
    with pytest.raises(ValueError):
        log.since(6)  # compacted: a peer there needs a snapshot
    log.compact(50)  # never past the last record
    assert (log.base, log.last_seq) == (9, 10)
    log.append((11, "delete", {}))
    log.close()
    again = OpLog(tmp_path / "ops.log")
    assert (again.base, again.last_seq) == (9, 11)


def test_a_primary_compacts_its_log_once_it_holds_twice_what_it_keeps(tmp_path):
    replica = Replica(str(tmp_path), "c", CONFIG, retain=3)
    for i in range(10):
        replica.write("upsert", {"points": [{"id": i, "vector": {"": [1.0, 0.0]}}]}, [], "ns")
        assert len(replica.log.entries) <= 2 * 3
    assert replica.log_span() == (6, 10)  # cut at 7 records (seq 7 -> keep from 4), again at seq 10 (from 7)
    replica.client.close()
    replica.log.close()


def test_a_last_record_the_collection_refuses_on_redo_does_not_stop_the_replica(tmp_path):
    replica = Replica(str(tmp_path), "c", CONFIG)
    replica.log.append((1, "update_vectors", {"points": [{"id": 5, "vector": {"": [1.0, 0.0]}}]}))  # no point 5
    replica.client.close()
    replica.log.close()
    back = Replica(str(tmp_path), "c", CONFIG)
    assert back.last_seq() == 1 and back.client.count("c").count == 0
    back.client.close()
    back.log.close()


def test_a_forwarded_write_is_taken_back_by_its_id_and_refused_after_a_take_back(tmp_path):
    """What the replicas left do when a primary died while forwarding (hybrid.cluster.writes)."""
    replica = Replica(str(tmp_path), "c", CONFIG)
    replica.apply(1, "upsert", {"points": [{"id": 0, "vector": {"": [1.0, 0.0]}, "payload": {"k": "old"}}]}, "a")
    before = _state(replica)
    write = {"points": [{"id": 0, "vector": {"": [5.0, 5.0]}}, {"id": 9, "vector": {"": [1.0, 1.0]}}]}
    assert replica.apply(2, "upsert", write, "b", undoable=True) == ("ok", 2)
    assert replica.revert("b", [], "ns") == ("undone", [])
    assert _state(replica) == before and replica.last_seq() == 3
    assert replica.revert("b", [], "ns") == ("kept", [])  # here, but no longer the last operation
    assert replica.revert("c", [], "ns") == ("absent", [])  # never came: refused if it comes late
    assert replica.apply(4, "upsert", write, "c", undoable=True) == ("refused", 3)
    assert _state(replica) == before
    # the retry of a write this replica took from a dead primary keeps the image from before it
    assert replica.apply(4, "upsert", write, "d", undoable=True) == ("ok", 4)
    assert replica.write("upsert", write, [], "ns", need=2, op="d")["undone"]
    assert _state(replica) == before
    replica.client.close()
    replica.log.close()
