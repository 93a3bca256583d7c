"""A node killed mid-load loses no acknowledged write (replication 2, write consistency 2),
queries keep answering, and the node's return brings its replicas back, caught up, to active.
(Runs after the read tests: it removes and re-adds a node of the shared cluster.)"""

from __future__ import annotations

import threading
import time

from hybrid.cluster.meta import ACTIVE, DEAD
from hybrid.errors import Unavailable


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_node_loss_and_return(ray_cluster, coordinator):
    cluster, nodes, add_node = ray_cluster
    c = coordinator
    c.create_collection("f", vectors_config={"size": 4, "distance": "Dot"}, shard_number=3, replication_factor=2,
                        write_consistency_factor=2)
    acked: list[int] = []
    refused = [0]
    stop = threading.Event()

    def writer() -> None:
        start = 0
        while not stop.is_set():
            batch = [{"id": start + k, "vector": [1.0, float(start + k), 0.0, 0.0], "payload": {"b": start}}
                     for k in range(10)]
            try:
                c.upsert("f", batch)
                acked.extend(p["id"] for p in batch)
            except Unavailable:
                refused[0] += 1
            start += 10

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert _wait(lambda: len(acked) >= 150, 120)
    cluster.remove_node(nodes[2], allow_graceful=False)  # slot 2: one replica of two of the three shards
    before = len(acked)
    assert _wait(lambda: refused[0] >= 5, 120), "writes to shards with a dead replica must be refused at wcf 2"
    stop.set()
    thread.join(60)
    assert not thread.is_alive()

    found = {r.id for r in c.retrieve("f", acked, with_payload=False)}
    assert found == set(acked) and len(acked) >= before  # not one acknowledged write lost
    hits = c.query_points("f", [0.0, 1.0, 0.0, 0.0], limit=3).points  # queries keep answering
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    assert c.count("f").count >= len(acked)
    c.recover()
    states = {(s.shard_id, r.slot): r.state for s in c.layout("f").shards for r in s.replicas}
    assert {st for (_, slot), st in states.items() if slot == "hybrid_slot_2"} == {DEAD}

    add_node(2)  # the machine of slot 2 is back (same folders)
    assert _wait(lambda: c.recover() >= 0 and all(r.state == ACTIVE for s in c.layout("f").shards
                                                  for r in s.replicas), 120)
    layout = c.layout("f")
    for shard in layout.shards:  # the returned replicas hold exactly what their peers hold
        counts = {c.get(c.handle(layout, shard.shard_id, r.replica_id).read.remote("count", {}))["count"]
                  for r in shard.replicas}
        seqs = {c.get(c.handle(layout, shard.shard_id, r.replica_id).last_seq.remote()) for r in shard.replicas}
        assert len(counts) == 1 and len(seqs) == 1, (shard.shard_id, counts, seqs)
    c.upsert("f", [{"id": 10**6, "vector": [1.0, 0.0, 0.0, 0.0]}])  # writes are accepted again
    assert c.count("f", consistency="all").count == c.count("f").count
    c.delete_collection("f")
