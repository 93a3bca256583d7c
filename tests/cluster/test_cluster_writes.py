"""Cluster writes: a refused write is taken back (a real node kill), the operation log is
compacted and a replica behind it is caught up by a snapshot (and one within it by the log
delta), shard transfers through qdrant-client, and the write/admin calls a cluster now serves
(aliases, update_collection, batch updates, document upserts)."""

from __future__ import annotations

import time

import pytest
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from hybrid.cluster.meta import ACTIVE
from hybrid.cluster.status import peer_id
from hybrid.errors import Unavailable, ValidationError
from tests.cluster.test_cluster_rest import remote  # noqa: F401 - the REST server fixture


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _replica_read(c, name, shard_id, replica_id, method, **kwargs):
    layout = c.layout(name)
    return c.get(c.handle(layout, shard_id, replica_id).read.remote(method, kwargs))


def _points(c, name, replica_id):
    records = _replica_read(c, name, 0, replica_id, "scroll", limit=1000, with_vectors=True)[0]
    return sorted((r["id"], repr(r["payload"]), repr(r["vector"])) for r in records)


def _span(c, name, replica_id):
    layout = c.layout(name)
    return tuple(c.get(c.handle(layout, 0, replica_id).log_span.remote()))


def _vec(i):
    return [1.0, float(i), 0.0, 0.0]


def test_a_write_refused_after_a_node_dies_is_taken_back(ray_cluster, coordinator):
    cluster, nodes, add_node = ray_cluster
    c = coordinator
    c.create_collection("w1", vectors_config={"size": 4, "distance": "Dot"}, shard_number=1, replication_factor=2,
                        write_consistency_factor=2)
    assert [r.slot for r in c.layout("w1").shards[0].replicas] == ["hybrid_slot_0", "hybrid_slot_1"]
    c.upsert("w1", [{"id": i, "vector": _vec(i), "payload": {"v": 0}} for i in range(10)])
    before = _points(c, "w1", 0)
    cluster.remove_node(nodes[1], allow_graceful=False)  # the node of replica 1: the primary stays
    assert _wait(lambda: "hybrid_slot_1" not in c.slots(), 60)  # Ray knows; the layout does not yet
    with pytest.raises(Unavailable, match="taken back"):  # the layout still says Active: the primary finds out
        c.upsert("w1", [{"id": i, "vector": _vec(-i), "payload": {"v": 1}} for i in range(5, 15)])
    assert _points(c, "w1", 0) == before  # overwritten points restored, new ones gone
    with pytest.raises(Unavailable, match="alive"):  # now known dead: refused before anything is sent
        c.delete("w1", [0, 1])
    assert c.count("w1").count == 10

    add_node(1)
    assert _wait(lambda: c.recover() >= 0 and all(r.state == ACTIVE for r in c.layout("w1").shards[0].replicas), 60)
    assert _points(c, "w1", 1) == before and _span(c, "w1", 0)[1] == _span(c, "w1", 1)[1]
    c.upsert("w1", [{"id": 99, "vector": _vec(99)}])  # accepted again on both
    assert _points(c, "w1", 0) == _points(c, "w1", 1)
    c.delete_collection("w1")


def test_the_log_is_compacted_and_a_replica_behind_it_gets_a_snapshot(ray_cluster, coordinator):
    c = coordinator
    c.oplog_retain = 4
    try:
        c.create_collection("w2", vectors_config={"size": 4, "distance": "Dot"}, shard_number=1,
                            replication_factor=2)
    finally:
        c.oplog_retain = 1000

    def upserts(first, n):
        for i in range(first, first + n):
            c.upsert("w2", [{"id": i, "vector": _vec(i), "payload": {"i": i}}])

    def kill_replica_1():
        layout = c.layout("w2")
        c.ray.kill(c.handle(layout, 0, 1), no_restart=True)

    upserts(0, 3)
    kill_replica_1()
    upserts(3, 2)  # replica 1 misses operations 4 and 5 (and is marked dead)
    assert c.layout("w2").shards[0].replicas[1].state != ACTIVE
    assert c.recover() == 1
    assert _span(c, "w2", 1) == (0, 5)  # caught up from the log delta: its own records kept
    assert _points(c, "w2", 1) == _points(c, "w2", 0)

    kill_replica_1()
    upserts(5, 12)  # the primary's log is compacted past what replica 1 holds
    base, last = _span(c, "w2", 0)
    assert last == 17 and 5 < base and last - base <= 2 * 4 + 1
    assert c.recover() == 1
    assert _span(c, "w2", 1) == (16, 17)  # a snapshot: its log restarts at the primary's last operation
    assert _points(c, "w2", 1) == _points(c, "w2", 0) and len(_points(c, "w2", 1)) == 17
    upserts(17, 1)  # and it goes on taking forwarded writes
    assert _span(c, "w2", 1) == (16, 18) and _points(c, "w2", 1) == _points(c, "w2", 0)
    c.delete_collection("w2")


def test_shards_are_replicated_moved_and_dropped_through_qdrant_client(remote, coordinator):  # noqa: F811
    slot = {i: peer_id(f"hybrid_slot_{i}") for i in range(3)}
    remote.create_collection("w3", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             shard_number=1, replication_factor=2)
    remote.upsert("w3", [qm.PointStruct(id=i, vector=_vec(i), payload={"i": i}) for i in range(20)])

    def replicas():
        info = remote.collection_cluster_info("w3")
        return sorted((s.peer_id, s.state) for s in info.remote_shards), info.shard_transfers

    assert remote.cluster_collection_update("w3", qm.ReplicateShardOperation(
        replicate_shard=qm.ReplicateShard(shard_id=0, from_peer_id=slot[0], to_peer_id=slot[2])))
    coordinator.wait_for_transfers()
    assert replicas() == (sorted((slot[i], qm.ReplicaState.ACTIVE) for i in range(3)), [])
    assert remote.cluster_collection_update("w3", qm.DropReplicaOperation(
        drop_replica=qm.Replica(shard_id=0, peer_id=slot[1])))
    assert remote.cluster_collection_update("w3", qm.MoveShardOperation(move_shard=qm.MoveShard(
        shard_id=0, from_peer_id=slot[2], to_peer_id=slot[1], method=qm.ShardTransferMethod.SNAPSHOT)))
    coordinator.wait_for_transfers()
    assert replicas() == (sorted((slot[i], qm.ReplicaState.ACTIVE) for i in (0, 1)), [])
    layout = coordinator.layout("w3")
    for r in layout.shards[0].replicas:  # both hold every point
        assert coordinator.get(coordinator.handle(layout, 0, r.replica_id).read.remote("count", {}))["count"] == 20
    remote.upsert("w3", [qm.PointStruct(id=20, vector=_vec(20))])
    assert remote.count("w3").count == 21
    # a transfer under way, as another coordinator would have left it
    coordinator.meta.update("w3", lambda layout: layout.transfers.append(
        {"shard_id": 0, "from": slot[0], "to": slot[2], "sync": True, "method": "snapshot", "replica_id": 99}))
    transfer = remote.collection_cluster_info("w3").shard_transfers[0]
    assert (transfer.shard_id, transfer.from_, transfer.to, transfer.sync, transfer.method) == (
        0, slot[0], slot[2], True, qm.ShardTransferMethod.SNAPSHOT)
    assert remote.cluster_collection_update("w3", qm.AbortTransferOperation(abort_transfer=qm.AbortShardTransfer(
        shard_id=0, from_peer_id=slot[0], to_peer_id=slot[2])))
    assert remote.collection_cluster_info("w3").shard_transfers == []
    with pytest.raises(UnexpectedResponse) as refused:  # no such transfer
        remote.cluster_collection_update("w3", qm.AbortTransferOperation(abort_transfer=qm.AbortShardTransfer(
            shard_id=0, from_peer_id=slot[0], to_peer_id=slot[2])))
    assert refused.value.status_code == 400
    with pytest.raises(UnexpectedResponse):  # the last active replica stays
        remote.cluster_collection_update("w3", qm.DropReplicaOperation(
            drop_replica=qm.Replica(shard_id=0, peer_id=slot[0])))
        remote.cluster_collection_update("w3", qm.DropReplicaOperation(
            drop_replica=qm.Replica(shard_id=0, peer_id=slot[1])))
    remote.delete_collection("w3")


def test_aliases_collection_updates_batches_and_documents(remote, coordinator):  # noqa: F811
    from hybrid.inference import Inference

    c = coordinator
    c.infer = c.infer or Inference()
    remote.create_collection("w4", vectors_config={"d": qm.VectorParams(size=4, distance=qm.Distance.DOT)},
                             sparse_vectors_config={"bm25": qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
                             shard_number=2)
    texts = ["red apple pie", "green apple", "blue sky", "red car"]
    c.upsert("w4", [{"id": i, "vector": {"d": _vec(i), "bm25": {"text": t, "model": "qdrant/bm25"}}}
                    for i, t in enumerate(texts)])  # documents embedded at the coordinator
    hits = c.query_points("w4", query={"text": "apple", "model": "qdrant/bm25"}, using="bm25").points
    assert sorted(p.id for p in hits) == [0, 1]

    remote.update_collection_aliases([qm.CreateAliasOperation(create_alias=qm.CreateAlias(
        collection_name="w4", alias_name="w4a"))])
    assert remote.count("w4a").count == 4 and c.count("w4a").count == 4
    assert [(a.alias_name, a.collection_name) for a in remote.get_aliases().aliases] == [("w4a", "w4")]
    remote.update_collection_aliases([qm.RenameAliasOperation(rename_alias=qm.RenameAlias(
        old_alias_name="w4a", new_alias_name="w4b"))])
    assert [a.alias_name for a in remote.get_collection_aliases("w4").aliases] == ["w4b"]

    assert remote.update_collection("w4", optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=1234))
    assert remote.get_collection("w4").config.optimizer_config.indexing_threshold == 1234

    remote.batch_update_points("w4b", [
        qm.UpsertOperation(upsert=qm.PointsList(points=[qm.PointStruct(id=10, vector={"d": _vec(10)})])),
        qm.SetPayloadOperation(set_payload=qm.SetPayload(payload={"tag": "x"}, points=[0, 10])),
        qm.DeleteOperation(delete=qm.PointIdsList(points=[3]))])
    assert sorted(p.id for p in remote.scroll("w4", limit=10)[0]) == [0, 1, 2, 10]
    assert {p.id for p in remote.scroll("w4", scroll_filter=qm.Filter(must=[qm.FieldCondition(
        key="tag", match=qm.MatchValue(value="x"))]))[0]} == {0, 10}

    ids = [0, 1, 2, 50]  # 50 does not exist: its shard refuses, the other takes it back
    assert len(c.route(c.layout("w4"), ids, None)) == 2
    vectors = {p.id: p.vector for p in c.retrieve("w4", ids, with_vectors=["d"])}
    with pytest.raises(ValidationError, match="50"):
        c.update_vectors("w4", [{"id": i, "vector": {"d": [0.0, 0.0, 0.0, 7.0]}} for i in ids])
    assert {p.id: p.vector for p in c.retrieve("w4", ids, with_vectors=["d"])} == vectors

    with pytest.raises(ValidationError, match="update_filter"):  # refused by name, never ignored
        c.upsert("w4", [{"id": 11, "vector": {"d": _vec(11)}}], update_filter={"must": []})
    with pytest.raises(ValidationError):  # a bad point anywhere: no shard takes any point
        c.upsert("w4", [{"id": i, "vector": {"d": _vec(i)}} for i in range(20, 30)] + [{"id": 31, "vector": {"d": [1.0]}}])
    assert c.count("w4").count == 4
    remote.delete_collection("w4")
    assert remote.get_aliases().aliases == []


def test_shard_and_collection_snapshots_through_qdrant_client(remote, coordinator):  # noqa: F811
    c = coordinator
    remote.create_collection("w5", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             shard_number=2, replication_factor=2)
    remote.upsert("w5", [qm.PointStruct(id=i, vector=_vec(i), payload={"i": i}) for i in range(10)])
    everything = sorted((p.id, p.payload["i"]) for p in remote.scroll("w5", limit=100)[0])
    on_shard_0 = set(c.route(c.layout("w5"), list(range(10)), None)[0])

    shot = remote.create_shard_snapshot("w5", 0)
    assert [s.name for s in remote.list_shard_snapshots("w5", 0)] == [shot.name]
    remote.delete("w5", qm.PointIdsList(points=list(range(10))))  # both shards emptied
    assert remote.recover_shard_snapshot("w5", 0, f"file://{c.snapshots_path}/w5/shards/0/{shot.name}")
    assert sorted(p.id for p in remote.scroll("w5", limit=100)[0]) == sorted(on_shard_0)
    layout = c.layout("w5")
    for r in layout.shards[0].replicas:  # every replica of the shard took the recovered data
        assert c.get(c.handle(layout, 0, r.replica_id).read.remote("count", {}))["count"] == len(on_shard_0)
    with pytest.raises(UnexpectedResponse) as missing:
        remote.create_shard_snapshot("w5", 7)
    assert missing.value.status_code == 404

    remote.upsert("w5", [qm.PointStruct(id=i, vector=_vec(i), payload={"i": i}) for i in range(10)])
    whole = remote.create_snapshot("w5")
    assert [s.name for s in remote.list_snapshots("w5")] == [whole.name]
    location = f"file://{c.snapshots_path}/w5/{whole.name}"
    remote.delete_collection("w5")
    assert remote.recover_snapshot("w5", location, checksum=whole.checksum)  # re-created with its shards
    assert remote.get_collection("w5").config.params.shard_number == 2
    assert sorted((p.id, p.payload["i"]) for p in remote.scroll("w5", limit=100)[0]) == everything
    remote.delete_collection("w5")
