"""Sealed segments get HNSW graphs: recall vs exact, filters, deletes/updates, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client

N, DIM = 3000, 16
HNSW = {"m": 16, "ef_construct": 64, "full_scan_threshold": 10}  # 10 KB: graphs on small segments


def _client(path=None, distance: str = "Cosine", **vector_extra) -> tuple[Client, np.ndarray]:
    c = Client() if path is None else Client(path=path)
    c.create_collection("c", vectors_config={"size": DIM, "distance": distance, **vector_extra}, hnsw_config=HNSW,
                        optimizers_config={"indexing_threshold": 100})
    data = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    for s in range(0, N, 500):
        c.upsert("c", {"ids": list(range(s, s + 500)), "vectors": data[s:s + 500],
                       "payloads": [{"g": i % 10} for i in range(s, s + 500)]})
    c.collection("c").optimizer.optimize()  # one sealed segment with a graph
    return c, data


def _recall(c: Client, queries: np.ndarray, **kwargs) -> float:
    hit = 0
    for q in queries:
        approx = {p.id for p in c.query_points("c", query=q, limit=10, **kwargs).points}
        exact_kwargs = {**kwargs, "search_params": {"exact": True}}
        exact = {p.id for p in c.query_points("c", query=q, limit=10, **exact_kwargs).points}
        hit += len(approx & exact)
    return hit / (10 * len(queries))


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_graph_recall_against_exact(distance: str) -> None:
    c, _ = _client(distance=distance)
    assert c.get_collection("c").indexed_vectors_count == N
    queries = np.random.default_rng(1).normal(size=(30, DIM)).astype(np.float32)
    assert _recall(c, queries, search_params={"hnsw_ef": 128}) >= 0.95


def test_filtered_and_deleted_points_never_returned() -> None:
    c, data = _client()
    c.delete("c", list(range(0, N, 2)))
    c.upsert("c", {"ids": [1], "vectors": -data[1:2]})  # update: the sealed copy is stale now
    queries = np.random.default_rng(2).normal(size=(20, DIM)).astype(np.float32)
    for q in queries:
        for flt in (None, {"must": [{"key": "g", "match": {"value": 3}}]}):
            hits = c.query_points("c", query=q, limit=10, query_filter=flt).points
            assert all(h.id % 2 == 1 for h in hits)
            if flt:
                assert all(h.id % 10 == 3 for h in hits) and len(hits) == 10
    top = c.query_points("c", query=-data[1], limit=1).points[0]
    assert top.id == 1 and top.score == pytest.approx(1.0, abs=1e-5)
    assert _recall(c, queries, query_filter={"must": [{"key": "g", "match": {"any": [1, 3]}}]}) >= 0.95


def test_graph_persists_without_rebuild(tmp_path) -> None:
    c, _ = _client(tmp_path)
    q = np.ones(DIM, dtype=np.float32)
    before = [(p.id, round(p.score, 5)) for p in c.query_points("c", query=q, limit=10).points]
    c.close()
    reopened = Client(path=tmp_path)
    store = reopened.collection("c").segments[0].vectors[""]
    assert store.index is not None  # loaded from disk
    assert [(p.id, round(p.score, 5)) for p in reopened.query_points("c", query=q, limit=10).points] == before
    reopened.close()


def test_reads_during_background_sealing() -> None:
    c = Client()
    c.create_collection("c", vectors_config={"size": DIM, "distance": "Dot"}, hnsw_config=HNSW,
                        optimizers_config={"indexing_threshold": 50})
    rng = np.random.default_rng(5)
    total = 0
    for s in range(0, 4000, 250):
        c.upsert("c", {"ids": list(range(s, s + 250)), "vectors": rng.normal(size=(250, DIM)).astype(np.float32)})
        total += 250
        assert c.count("c").count == total  # never a missing or duplicated point mid-seal
        assert len(c.query_points("c", query=np.ones(DIM), limit=20).points) == 20
    c.collection("c").optimizer.wait()
    assert c.get_collection("c").status == "green"


def test_fast_path_equals_general_path() -> None:
    c, data = _client()
    c.upsert("c", {"ids": [10**6, 10**6 + 1], "vectors": data[:2]})  # appendable points and ties
    queries = np.random.default_rng(3).normal(size=(10, DIM)).astype(np.float32)
    for q in [*queries, data[0]]:
        fast = c.query_points("c", query=q, limit=10, with_vectors=True).points
        general = c.query_points("c", query=q, limit=10, with_vectors=True, query_filter={"must": []}).points
        assert [(p.id, p.score, p.payload, p.vector) for p in fast] == [(p.id, p.score, p.payload, p.vector) for p in general]
    batch = c.query_batch_points("c", [{"query": q.tolist(), "limit": 5, "params": {"hnsw_ef": 64}} for q in queries])
    for q, res in zip(queries, batch):
        assert [p.id for p in res.points] == [p.id for p in c.query_points("c", query=q, limit=5, search_params={"hnsw_ef": 64}).points]


def test_int8_quantized_on_disk_keeps_recall(tmp_path) -> None:
    c, _ = _client(tmp_path, on_disk=True, quantization_config={"scalar": {"type": "int8", "quantile": 0.99}})
    store = c.collection("c").segments[0].vectors[""]
    assert isinstance(store.data, np.memmap) and store.index is not None
    queries = np.random.default_rng(7).normal(size=(30, DIM)).astype(np.float32)
    params = {"hnsw_ef": 128, "quantization": {"rescore": True, "oversampling": 2.0}}
    assert _recall(c, queries, search_params=params) >= 0.95
    c.close()
    reopened = Client(path=tmp_path)
    assert isinstance(reopened.collection("c").segments[0].vectors[""].data, np.memmap)
    assert _recall(reopened, queries, search_params=params) >= 0.95
    reopened.close()


@pytest.mark.parametrize("datatype,distance", [("float16", "Cosine"), ("uint8", "Dot"), ("float16", "Euclid")])
def test_storage_datatypes(datatype: str, distance: str) -> None:
    c = Client()
    c.create_collection("c", vectors_config={"size": 4, "distance": distance, "datatype": datatype})
    c.upsert("c", [{"id": 1, "vector": [1.5, 300.0, -2.0, 7.25]}, {"id": 2, "vector": [0.1, 0.2, 0.3, 0.4]}])
    stored = c.retrieve("c", [1], with_vectors=True)[0].vector
    if datatype == "uint8":
        assert stored == [1.0, 255.0, 0.0, 7.0]  # saturated and truncated
    assert c.query_points("c", query=[1.0, 0.0, 0.0, 0.0], limit=2).points[0].id in (1, 2)
    c.collection("c").optimizer.optimize()
    assert c.collection("c").segments[0].vectors[""].data.dtype == np.dtype(datatype)
    assert c.retrieve("c", [1], with_vectors=True)[0].vector == stored


def test_uint8_cosine_is_rejected() -> None:
    from hybrid.errors import ValidationError

    with pytest.raises(ValidationError, match="datatype"):
        Client().create_collection("c", vectors_config={"size": 4, "distance": "Cosine", "datatype": "uint8"})


def test_vacuum_rebuilds_segments_with_many_deletions() -> None:
    c = Client()
    c.create_collection("c", vectors_config={"size": 4, "distance": "Dot"},
                        optimizers_config={"indexing_threshold": 0, "deleted_threshold": 0.2, "vacuum_min_vector_number": 10})
    c.upsert("c", {"ids": list(range(200)), "vectors": np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)})
    coll = c.collection("c")
    coll.optimizer.optimize()
    assert coll.segments[0].size == 200
    c.delete("c", list(range(0, 100)))  # 50% deleted: this write triggers a vacuum
    coll.optimizer.wait()
    c.upsert("c", [{"id": 1000, "vector": [1.0, 0, 0, 0]}])
    sealed = [s for s in coll.segments if not s.appendable]
    assert [s.size for s in sealed] == [100] and c.count("c").count == 101
