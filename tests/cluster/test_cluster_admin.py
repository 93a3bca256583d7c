"""Operations a cluster once refused, through qdrant-client over REST: a collection's
optimizations (every live replica's optimizer, merged as Qdrant merges them) and full snapshots
(every collection's cluster snapshot and the aliases, recovered whole)."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import models as qm

from hybrid.errors import ValidationError
from tests.cluster.test_cluster_rest import remote  # noqa: F401 - the REST server fixture
from tests.cluster.test_cluster_writes import _vec

FIELDS = ["queued", "completed", "idle_segments"]


def test_optimizations_merge_every_replica(remote, coordinator):  # noqa: F811
    c = coordinator
    remote.create_collection("op", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             shard_number=2, replication_factor=2)
    remote.upsert("op", [qm.PointStruct(id=i, vector=_vec(i)) for i in range(40)])
    report = remote.get_optimizations("op", with_=FIELDS, completed_limit=3)
    layout = c.layout("op")
    parts = [c.get(c.handle(layout, s.shard_id, r.replica_id).read.remote(
        "get_optimizations", {"with_": FIELDS, "completed_limit": 3})) for s in layout.shards for r in s.replicas]
    summed = {k: sum(p["summary"][k] for p in parts) for k in parts[0]["summary"]}
    assert report.summary.model_dump() == summed and summed["idle_segments"] >= 4  # four replicas' segments
    assert sorted(str(s.uuid) for s in report.idle_segments) == sorted(s["uuid"] for p in parts for s in p["idle_segments"])
    assert report.queued == [] and report.running == [] and len(report.completed) <= 3
    assert remote.get_optimizations("op").queued is None  # the optional lists only when asked for, as one node
    with pytest.raises(ValidationError, match="everything"):  # the replicas' own check, as on one node
        c.get_optimizations("op", with_=["everything"])
    remote.delete_collection("op")


def test_full_snapshots_hold_every_collection_and_alias(remote, coordinator):  # noqa: F811
    c = coordinator
    for name, shards in (("fa", 2), ("fb", 1)):
        remote.create_collection(name, vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                                 shard_number=shards)
        remote.upsert(name, [qm.PointStruct(id=i, vector=_vec(i), payload={name: i}) for i in range(12)])
    remote.update_collection_aliases([qm.CreateAliasOperation(create_alias=qm.CreateAlias(
        collection_name="fa", alias_name="fa-alias"))])
    before = {n: sorted((p.id, p.payload[n]) for p in remote.scroll(n, limit=100)[0]) for n in ("fa", "fb")}

    shot = remote.create_full_snapshot()
    assert shot.name.startswith("full-snapshot-") and [s.name for s in remote.list_full_snapshots()] == [shot.name]
    archive = Path(c.full_snapshot_file(shot.name))
    remote.delete_collection("fa")
    remote.delete("fb", qm.PointIdsList(points=list(range(6))))
    assert {"fa", "fb"} <= set(c.recover_full_snapshot(archive, checksum=shot.checksum))
    assert {n: sorted((p.id, p.payload[n]) for p in remote.scroll(n, limit=100)[0]) for n in ("fa", "fb")} == before
    assert remote.get_collection("fa").config.params.shard_number == 2
    assert [(a.alias_name, a.collection_name) for a in remote.get_aliases().aliases] == [("fa-alias", "fa")]
    assert remote.delete_full_snapshot(shot.name) and remote.list_full_snapshots() == []
    for name in ("fa", "fb"):
        remote.delete_collection(name)
