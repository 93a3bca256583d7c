"""AdminMixin: update_collection, payload indexes, facet, batch_update_points."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import PointNotFound, ValidationError

CONFIG = {"vectors_config": {"d": {"size": 3, "distance": "Cosine"}}, "sparse_vectors_config": {"s": {"modifier": "idf"}}}


def fill(client, name: str = "c", n: int = 30) -> None:
    client.create_collection(name, **CONFIG)
    rng = np.random.default_rng(3)
    client.upsert(name, [{"id": i, "vector": {"d": rng.normal(size=3).tolist()},
                          "payload": {"tag": ["a", "b", "c"][i % 3], "n": i % 5, "flag": i % 2 == 0}}
                         for i in range(n)])


def test_update_collection_changes_and_persists(tmp_path):
    with Client(path=tmp_path) as client:
        fill(client)
        client.update_collection("c", optimizers_config={"indexing_threshold": 7}, hnsw_config={"m": 4},
                                 vectors_config={"d": {"on_disk": True, "hnsw_config": {"ef_construct": 20}}},
                                 sparse_vectors_config={"s": {"index": {"full_scan_threshold": 50}}},
                                 collection_params={"on_disk_payload": False}, metadata={"owner": "me"})
    with Client(path=tmp_path) as client:
        config = client.get_collection("c").config
        d = config.params.vectors["d"]
        assert (config.optimizer_config.indexing_threshold, config.hnsw_config.m, d.on_disk) == (7, 4, True)
        assert d.hnsw_config.ef_construct == 20 and config.params.sparse_vectors["s"].index.full_scan_threshold == 50
        assert config.params.on_disk_payload is False and config.metadata == {"owner": "me"}
        assert client.count("c").count == 30


@pytest.mark.parametrize("change, field", [
    ({"vectors_config": {"nope": {"on_disk": True}}}, "vectors.nope"),
    ({"sparse_vectors_config": {"s": {"modifier": "none"}}}, "sparse_vectors.s.modifier"),
    ({"optimizers_config": {"indexing_threshold": "many"}}, "optimizers_config"),
    ({"metadata": ["x"]}, "metadata"),
])
def test_update_collection_rejects_and_keeps_config(client, change, field):
    fill(client)
    before = client.get_collection("c").config
    with pytest.raises(ValidationError, match=field.split(".")[0]):
        client.update_collection("c", **change)
    assert client.get_collection("c").config == before


def test_payload_indexes_survive_restart_and_checkpoints(tmp_path):
    with Client(path=tmp_path) as client:
        fill(client)
        client.create_payload_index("c", "tag", "keyword")
        client.create_payload_index("c", "n", {"type": "integer", "range": True})
        client.delete_payload_index("c", "n")
        client.collection("c").optimizer.optimize()  # a checkpoint drops the WAL records
        with pytest.raises(ValidationError, match="field_schema"):
            client.create_payload_index("c", "x", "vector")
    with Client(path=tmp_path) as client:
        schema = client.get_collection("c").payload_schema
        assert list(schema) == ["tag"] and schema["tag"].data_type == "keyword"


def test_facet_counts_match_brute_force(client):
    fill(client)
    client.delete("c", [0, 3])
    flt = {"must": [{"key": "n", "range": {"gte": 1}}]}
    got = client.facet("c", "tag", facet_filter=flt, limit=10)
    points, _ = client.scroll("c", scroll_filter=flt, limit=100)
    counts: dict = {}
    for p in points:
        counts[p.payload["tag"]] = counts.get(p.payload["tag"], 0) + 1
    want = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(h.value, h.count) for h in got.hits] == want
    assert [h.value for h in client.facet("c", "flag").hits] == [False, True]  # 14 each: ties by value
    assert len(client.facet("c", "tag", limit=1).hits) == 1


def test_batch_update_is_all_or_nothing(client):
    fill(client)
    before = client.scroll("c", limit=100, with_vectors=True)
    ops = [{"upsert": {"points": [{"id": 100, "vector": {"d": [1, 0, 0]}}]}},
           {"update_vectors": {"points": [{"id": 100, "vector": {"d": [0, 1, 0]}}]}},  # created earlier in the batch
           {"delete": {"filter": {"must": [{"key": "tag", "match": {"value": "a"}}]}}},
           {"update_vectors": {"points": [{"id": 555, "vector": {"d": [0, 1, 0]}}]}}]
    with pytest.raises(ValidationError, match=r"operations\[3\]"):
        client.batch_update_points("c", ops)
    assert client.scroll("c", limit=100, with_vectors=True) == before
    results = client.batch_update_points("c", ops[:3] + [{"clear_payload": {"points": [1]}},
                                                          {"delete_vectors": {"points": [2], "vector": ["d"]}},
                                                          {"overwrite_payload": {"payload": {"z": 1}, "points": [4]}},
                                                          {"set_payload": {"payload": {"k": 2}, "points": [4], "key": "sub"}},
                                                          {"delete_payload": {"keys": ["n"], "filter": {"must": [
                                                              {"key": "tag", "match": {"value": "b"}}]}}}])
    assert [r.status for r in results] == ["completed"] * 8
    assert client.retrieve("c", [100], with_vectors=True)[0].vector["d"] == pytest.approx([0, 1, 0])
    assert client.count("c").count == 21
    assert not client.retrieve("c", [1])[0].payload and not client.retrieve("c", [2], with_vectors=True)[0].vector
    assert client.retrieve("c", [4])[0].payload == {"z": 1, "sub": {"k": 2}}
    assert "n" not in client.retrieve("c", [7])[0].payload and "n" in client.retrieve("c", [5])[0].payload


def test_batch_update_unknown_point_and_bad_shapes(client):
    fill(client)
    for bad in ([{"upsert": 5}], [{"nope": {}}], [{"delete": {}}], [{"delete_vectors": {"points": [1], "vector": ["x"]}}],
                [{"delete_payload": {"points": [1], "keys": "n"}}], "x"):
        with pytest.raises((ValidationError, PointNotFound)):
            client.batch_update_points("c", bad)
    assert client.count("c").count == 30
