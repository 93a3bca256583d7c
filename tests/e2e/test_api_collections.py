"""Collections, aliases and payload indexes through the server vs the embedded Client."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client import models as qm

from hybrid import Client

FULL = {
    "vectors_config": {"dense": qm.VectorParams(size=16, distance=qm.Distance.DOT, on_disk=False,
                                                hnsw_config=qm.HnswConfigDiff(m=12)),
                       "colbert": qm.VectorParams(size=4, distance=qm.Distance.COSINE, multivector_config=qm.MultiVectorConfig(
                           comparator=qm.MultiVectorComparator.MAX_SIM))},
    "sparse_vectors_config": {"bm25": qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
    "hnsw_config": qm.HnswConfigDiff(m=24, ef_construct=64),
    "optimizers_config": qm.OptimizersConfigDiff(indexing_threshold=5000, deleted_threshold=0.3),
    "quantization_config": qm.ScalarQuantization(scalar=qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8,
                                                                                     quantile=0.99)),
    "on_disk_payload": False,
}


def test_create_with_full_config_matches_embedded(remote, server, plain, refused):
    assert remote.create_collection("col_full", **FULL)
    info = remote.get_collection("col_full")  # parses as qdrant-client's CollectionInfo
    assert info.config.hnsw_config.ef_construct == 64 and info.config.params.vectors["colbert"].multivector_config
    with Client() as local:
        local.create_collection("col_full", **FULL)
        raw = httpx.get(f"{server.url}/collections/col_full").json()["result"]
        assert plain(raw) == plain(local.get_collection("col_full"))
    assert "col_full" in [c.name for c in remote.get_collections().collections]
    assert remote.collection_exists("col_full") and not remote.collection_exists("col_nope")
    with refused(409):
        remote.create_collection("col_full", vectors_config=qm.VectorParams(size=2, distance=qm.Distance.DOT))
    with refused(404):
        remote.get_collection("col_nope")


def test_update_collection(remote, refused):
    remote.create_collection("col_upd", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.COSINE))
    assert remote.update_collection("col_upd", optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=123),
                                    hnsw_config=qm.HnswConfigDiff(ef_construct=77),
                                    vectors_config={"": qm.VectorParamsDiff(on_disk=True)})
    config = remote.get_collection("col_upd").config
    assert config.optimizer_config.indexing_threshold == 123 and config.hnsw_config.ef_construct == 77
    assert config.params.vectors.on_disk is True
    with refused(400):
        remote.update_collection("col_upd", vectors_config={"nope": qm.VectorParamsDiff(on_disk=True)})


def test_delete_collection(remote):
    remote.create_collection("col_del", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.COSINE))
    remote.update_collection_aliases([qm.CreateAliasOperation(create_alias=qm.CreateAlias(
        collection_name="col_del", alias_name="col_del_alias"))])
    assert remote.delete_collection("col_del") is True
    assert not remote.collection_exists("col_del")
    assert "col_del_alias" not in [a.alias_name for a in remote.get_aliases().aliases]
    assert remote.delete_collection("col_del") is False


def test_aliases_resolve_everywhere(remote, twins, plain, refused):
    local = twins("col_alias")
    create = qm.CreateAliasOperation(create_alias=qm.CreateAlias(collection_name="col_alias", alias_name="prod"))
    assert remote.update_collection_aliases([create])
    query = [0.1] * 8
    via_alias = remote.query_points("prod", query=query, using="d", limit=3)
    assert plain(via_alias) == plain(local.query_points("col_alias", query=query, using="d", limit=3))
    assert remote.count("prod").count == 60
    assert [(a.alias_name, a.collection_name) for a in remote.get_collection_aliases("col_alias").aliases] == \
        [("prod", "col_alias")]
    rename = qm.RenameAliasOperation(rename_alias=qm.RenameAlias(old_alias_name="prod", new_alias_name="live"))
    remote.update_collection_aliases([rename])
    names = {a.alias_name for a in remote.get_aliases().aliases}
    assert "live" in names and "prod" not in names
    bad = [qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name="live")),
           qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name="never-existed"))]
    with refused(404):
        remote.update_collection_aliases(bad)
    assert "live" in {a.alias_name for a in remote.get_aliases().aliases}  # all or nothing
    remote.update_collection_aliases([bad[0]])
    assert "live" not in {a.alias_name for a in remote.get_aliases().aliases}


def test_payload_index_create_and_delete(remote, twins):
    twins("col_index")
    remote.create_payload_index("col_index", "tag", qm.PayloadSchemaType.KEYWORD)
    remote.create_payload_index("col_index", "price", qm.PayloadSchemaType.FLOAT)
    schema = remote.get_collection("col_index").payload_schema
    assert schema["tag"].data_type == qm.PayloadSchemaType.KEYWORD and schema["price"].points == 60
    remote.delete_payload_index("col_index", "tag")
    assert set(remote.get_collection("col_index").payload_schema) == {"price"}


def test_optimizations_report_through_qdrant_client(remote, server):
    remote.create_collection("col_opt", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=1, default_segment_number=2))
    remote.upsert("col_opt", [qm.PointStruct(id=i, vector=[1.0, i, 0.5, -i]) for i in range(300)])
    assert server.client.collection("col_opt").optimizer.wait(timeout=60)
    report = remote.get_optimizations("col_opt", with_=["queued", "completed", "idle_segments"], completed_limit=5)
    assert report.running == [] and report.queued == [] and report.summary.queued_optimizations == 0
    assert 1 <= len(report.completed) <= 5 and all(op.status == "done" for op in report.completed)
    assert report.summary.idle_segments == len(report.idle_segments) == remote.get_collection("col_opt").segments_count
    assert sum(s.points_count for s in report.idle_segments) == 300
    bare = httpx.get(f"{server.url}/collections/col_opt/optimizations").json()["result"]
    assert set(bare) == {"summary", "running"}  # optional fields only on request
    bad = httpx.get(f"{server.url}/collections/col_opt/optimizations", params={"with": "nope"})
    assert bad.status_code == 400 and "with" in bad.json()["status"]["error"]  # the field is named
