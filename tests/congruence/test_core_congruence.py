"""Same seeded scenarios through hybrid.Client and qdrant_client.QdrantClient(":memory:")."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from hybrid import Client

DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]
N, DIM = 300, 8


def _points(rng: np.random.Generator, n: int = N, start: int = 0) -> list[models.PointStruct]:
    pts = []
    for i in range(start, start + n):
        k = int(rng.integers(1, 6))
        idx = rng.choice(50, size=k, replace=False).tolist()
        vec = {
            "dense": rng.normal(size=DIM).round(3).tolist(),
            "sparse": models.SparseVector(indices=idx, values=rng.random(k).round(3).tolist()),
            "sparse_idf": models.SparseVector(indices=idx, values=rng.random(k).round(3).tolist()),
            "multi": rng.normal(size=(int(rng.integers(1, 5)), 4)).round(3).tolist(),
        }
        pts.append(models.PointStruct(id=i, vector=vec, payload={"i": i, "group": ["a", "b", "c"][i % 3]}))
    return pts


def _pair(distance: str):
    ours, ref = Client(), QdrantClient(":memory:")
    for client in (ours, ref):
        client.create_collection(
            "c",
            vectors_config={
                "dense": models.VectorParams(size=DIM, distance=distance),
                "multi": models.VectorParams(size=4, distance=distance if distance != "Manhattan" else "Dot",
                                             multivector_config=models.MultiVectorConfig(comparator="max_sim")),
            },
            sparse_vectors_config={"sparse": models.SparseVectorParams(),
                                   "sparse_idf": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
    return ours, ref


def _same(a, b, same_up_to_ties) -> None:
    """Scores in order, tied ids as sets (conftest.py), and each point's payload."""
    same_up_to_ties(a, b)
    assert {p.id: p.payload for p in a} == {p.id: p.payload for p in b}


def _queries(rng: np.random.Generator):
    for _ in range(8):
        idx = rng.choice(50, size=4, replace=False).tolist()
        yield "dense", rng.normal(size=DIM).tolist()
        yield "sparse", models.SparseVector(indices=idx, values=rng.random(4).tolist())
        yield "sparse_idf", models.SparseVector(indices=idx, values=rng.random(4).tolist())
        yield "multi", rng.normal(size=(3, 4)).tolist()


@pytest.mark.parametrize("distance", DISTANCES)
def test_query_scroll_count_match_qdrant_local(distance: str, same_up_to_ties) -> None:
    rng = np.random.default_rng(7)
    ours, ref = _pair(distance)
    points = _points(rng)
    for client in (ours, ref):
        for chunk in range(0, N, 64):
            client.upsert("c", points[chunk:chunk + 64])
        client.delete("c", models.PointIdsList(points=list(range(0, N, 17))))
        client.upsert("c", _points(np.random.default_rng(3), 20, start=5))  # overwrite some
        client.set_payload("c", {"extra": True}, points=[1, 2, 3])
        client.delete_payload("c", ["group"], points=[4])
    qrng = np.random.default_rng(11)
    for using, q in _queries(qrng):
        for limit, offset in ((10, 0), (5, 3)):
            a = ours.query_points("c", query=q, using=using, limit=limit, offset=offset).points
            b = ref.query_points("c", query=q, using=using, limit=limit, offset=offset).points
            _same(a, b, same_up_to_ties)
    assert ours.count("c").count == ref.count("c").count
    offset = None
    while True:
        a, next_a = ours.scroll("c", limit=37, offset=offset)
        b, next_b = ref.scroll("c", limit=37, offset=offset)
        assert [r.id for r in a] == [r.id for r in b] and [r.payload for r in a] == [r.payload for r in b]
        assert next_a == next_b
        if next_a is None:
            break
        offset = next_a


def test_query_by_id_and_threshold_match(same_up_to_ties) -> None:
    ours, ref = _pair("Euclid")
    pts = _points(np.random.default_rng(1), 100)
    for client in (ours, ref):
        client.upsert("c", pts)
    for pid in (0, 17, 99):
        a = ours.query_points("c", query=pid, using="dense", limit=5).points
        b = ref.query_points("c", query=pid, using="dense", limit=5).points
        _same(a, b, same_up_to_ties)
    q = np.random.default_rng(2).normal(size=DIM).tolist()
    a = ours.query_points("c", query=q, using="dense", limit=50, score_threshold=3.5).points
    b = ref.query_points("c", query=q, using="dense", limit=50, score_threshold=3.5).points
    _same(a, b, same_up_to_ties)


def test_retrieve_vectors_match() -> None:
    ours, ref = _pair("Cosine")
    pts = _points(np.random.default_rng(5), 30)
    for client in (ours, ref):
        client.upsert("c", pts)
    a = ours.retrieve("c", [3, 1, 999], with_vectors=True)
    b = ref.retrieve("c", [3, 1, 999], with_vectors=True)
    assert sorted(r.id for r in a) == sorted(r.id for r in b)
    for ra in a:
        rb = next(r for r in b if r.id == ra.id)
        np.testing.assert_allclose(ra.vector["dense"], rb.vector["dense"], rtol=1e-5)
        assert ra.vector["sparse"]["indices"] == list(rb.vector["sparse"].indices)
        np.testing.assert_allclose(ra.vector["multi"], rb.vector["multi"], rtol=1e-5)
