"""Read `consistency` by Qdrant's rule: one replica of three holds a write the others lack (an
operation applied to it alone); "all" and "majority" read every replica and keep what all /
most agree on, so the stray point is not seen; a single-replica read may see it."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.errors import ValidationError

DIM = 4


@pytest.fixture(scope="module")
def diverged(coordinator):
    rng = np.random.default_rng(3)
    coordinator.create_collection("rc", vectors_config={"size": DIM, "distance": "Dot"}, shard_number=1,
                                  replication_factor=3)
    coordinator.create_payload_index("rc", "tag", "keyword")
    coordinator.upsert("rc", [{"id": i, "vector": rng.random(DIM).tolist(), "payload": {"tag": "a" if i % 2 else "b"}}
                              for i in range(30)])
    layout = coordinator.layout("rc")
    stray = coordinator.handle(layout, 0, 2)
    seq = coordinator.get(stray.last_seq.remote())
    point = {"id": 99, "vector": [10.0] * DIM, "payload": {"tag": "c"}}
    assert coordinator.get(stray.apply.remote(seq + 1, "upsert", {"points": [point]})) == ("ok", seq + 1)
    yield coordinator
    coordinator.delete_collection("rc")


@pytest.mark.parametrize("consistency", ["all", "majority", {"type": "majority"}])
def test_every_replica_read_drops_what_one_replica_alone_holds(diverged, consistency):
    cluster = diverged
    assert cluster.count("rc", consistency=consistency).count == 30
    hits = cluster.query_points("rc", [1.0] * DIM, limit=5, consistency=consistency).points
    # the stray point took one of the 5 slots on its replica: the 5th of the others is in 2 of 3 lists
    assert 99 not in [p.id for p in hits] and len(hits) == (4 if consistency == "all" else 5)
    assert cluster.retrieve("rc", [99, 3], consistency=consistency)[0].id == 3
    assert "c" not in [h.value for h in cluster.facet("rc", "tag", consistency=consistency).hits]
    page, _ = cluster.scroll("rc", limit=100, consistency=consistency)
    assert [r.id for r in page] == list(range(30))


def test_quorum_and_numbers_ask_that_many_replicas(diverged):
    cluster = diverged
    for _ in range(3):  # two of three replicas: the stray one is in some pairs, never agreed on by both
        assert cluster.count("rc", consistency="quorum").count == 30
        assert cluster.count("rc", consistency=2).count == 30
    assert {cluster.count("rc").count for _ in range(3)} == {30, 31}  # one replica, each in turn
    assert cluster.count("rc", consistency=7).count == 30  # at most every replica
    with pytest.raises(ValidationError):
        cluster.count("rc", consistency="most")
