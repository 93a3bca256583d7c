"""A shard primary that dies while it forwards a write: the write reached one replica, the
coordinator's retry is refused (too few live replicas for write_consistency_factor), and the
replicas left take the write back, so a 503 leaves it nowhere, and the dead primary, when it
returns, is caught up to the same points."""

from __future__ import annotations

import threading

import pytest

from hybrid.cluster.meta import ACTIVE, NAMESPACE
from hybrid.errors import Unavailable
from tests.cluster.test_cluster_writes import _points, _span, _vec, _wait


def _gate_class():
    import ray

    @ray.remote(num_cpus=0, max_concurrency=4)
    class Gate:
        """A peer a replica syncs with whose `position` waits until opened: the replica holds
        its write lock meanwhile, so a forward to it waits too (a slow replica, for real)."""

        def __init__(self) -> None:
            self.opened, self.entered = threading.Event(), threading.Event()

        def position(self):
            self.entered.set()
            self.opened.wait(60)
            return 0, None

        def catch_up(self, entries):
            return 0

        def is_entered(self) -> bool:
            return self.entered.is_set()

        def open(self) -> None:
            self.opened.set()

    return Gate


def test_a_write_whose_primary_dies_while_forwarding_is_taken_back(ray_cluster, coordinator):
    c = coordinator
    c.create_collection("pd", vectors_config={"size": 4, "distance": "Dot"}, shard_number=1, replication_factor=3,
                        write_consistency_factor=3)
    c.upsert("pd", [{"id": i, "vector": _vec(i), "payload": {"v": 0}} for i in range(10)])
    before, layout = _points(c, "pd", 0), c.layout("pd")
    primary, reached, slow = (c.handle(layout, 0, r) for r in (0, 1, 2))
    seq = c.get(reached.last_seq.remote())

    gate = _gate_class().options(name="pd-gate", namespace=NAMESPACE).remote()
    held = slow.sync_peer.remote("pd-gate", NAMESPACE)  # replica 2 holds its write lock until the gate opens
    assert _wait(lambda: c.get(gate.is_entered.remote()), 30)
    refused = []

    def write():
        try:
            c.upsert("pd", [{"id": i, "vector": _vec(-i), "payload": {"v": 1}} for i in range(5, 15)])
        except Unavailable as exc:
            refused.append(str(exc))

    writer = threading.Thread(target=write)
    writer.start()
    assert _wait(lambda: c.get(reached.last_seq.remote()) == seq + 1, 30)  # replica 1 took it; 2 waits
    c.ray.kill(primary, no_restart=True)  # the primary dies before it can answer
    assert _wait(lambda: c.layout("pd").shards[0].replicas[0].state != ACTIVE, 30)
    c.get(gate.open.remote())
    writer.join(120)
    c.get(held)
    assert len(refused) == 1 and "primary died" in refused[0] and "taken back" in refused[0]
    assert _points(c, "pd", 1) == before and _points(c, "pd", 2) == before  # nowhere, not half-applied

    assert c.recover() == 1  # the primary's node is alive: it is respawned on its folder and caught up
    assert all(r.state == ACTIVE for r in c.layout("pd").shards[0].replicas)
    assert _points(c, "pd", 0) == before and len({_span(c, "pd", r)[1] for r in range(3)}) == 1
    c.upsert("pd", [{"id": 99, "vector": _vec(99)}])  # acknowledged by all three again
    assert _points(c, "pd", 0) == _points(c, "pd", 1) == _points(c, "pd", 2)
    c.ray.kill(gate)
    c.delete_collection("pd")
