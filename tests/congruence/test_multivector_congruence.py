"""Multivectors (MaxSim) through hybrid.Client and qdrant_client.QdrantClient(":memory:").

Data is written in batches past a tiny indexing threshold, so most points live in sealed
segments (with their MaxSim index) while updates and deletes tombstone them; queries run at the
top level and as a rerank of a dense prefetch, with filters.
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from hybrid import Client

N = 240
DIM = 6
MAX_SIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
EVEN = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchAny(any=[0, 2]))])
NOT_ONE = models.Filter(must_not=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])


def _matrix(rng: np.random.Generator, datatype: str | None) -> list[list[float]]:
    shape = (int(rng.integers(1, 5)), DIM)
    if datatype == "uint8":
        return rng.integers(0, 256, size=shape).astype(float).tolist()
    if datatype == "float16":  # exactly representable, so local mode's float32 scores agree exactly
        return (rng.integers(-16, 17, size=shape) / 8).tolist()
    return rng.normal(size=shape).round(4).tolist()


def _points(rng: np.random.Generator, ids: range, datatype: str | None) -> list[models.PointStruct]:
    out = []
    for i in ids:
        vector = {"d": rng.normal(size=8).round(4).tolist()}
        if i % 17 != 5:  # a few points have no multivector
            vector["m"] = _matrix(rng, datatype)
        out.append(models.PointStruct(id=i, vector=vector, payload={"g": i % 4}))
    return out


def _scenario(distance: str, datatype: str | None = None, full_scan_threshold: int | None = None):
    """Both clients after batched upserts (sealing), re-upserts, vector updates and deletes."""
    rng = np.random.default_rng(11)
    ours, ref = Client(), QdrantClient(":memory:")
    for client in (ours, ref):
        client.create_collection(
            "c", vectors_config={
                "d": models.VectorParams(size=8, distance=models.Distance.COSINE),
                "m": models.VectorParams(size=DIM, distance=distance, multivector_config=MAX_SIM, datatype=datatype,
                                         hnsw_config=models.HnswConfigDiff(full_scan_threshold=full_scan_threshold))},
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1, default_segment_number=100))  # ~32 points a segment, no merges
    batches = [_points(rng, range(start, start + 40), datatype) for start in range(0, N, 40)]
    rewrites = _points(rng, range(10, 70, 2), datatype)
    updates = [models.PointVectors(id=i, vector={"m": _matrix(rng, datatype)}) for i in range(100, 160, 3)]
    collection = ours._get("c")
    for client in (ours, ref):
        steps = [lambda b=batch: client.upsert("c", b) for batch in batches] + [
            lambda: client.upsert("c", rewrites),
            lambda: client.update_vectors("c", updates),
            lambda: client.delete("c", models.PointIdsList(points=list(range(30, 90, 4)))),
            lambda: client.delete("c", models.FilterSelector(filter=models.Filter(must=[
                models.FieldCondition(key="g", match=models.MatchValue(value=3)),
                models.HasIdCondition(has_id=list(range(150, 200)))])))]
        for step in steps:
            step()
            collection.optimizer.wait()  # sealing runs in a thread: wait, so segments are deterministic
    sealed = [s for s in collection.segments if not s.appendable]
    assert len(sealed) >= 3 and sum(s.size - s.live_count for s in sealed) > 0
    indexed = [s.vectors["m"].index is not None for s in sealed]  # hnsw m > 0, unless a plain scan is as good
    assert all(indexed) if full_scan_threshold == 0 else not any(indexed)
    return ours, ref, rng


def _same(ours, ref) -> None:
    """Same scores in order; within a run of tied scores the same set of ids."""
    a, b = ours.points, ref.points
    assert len(a) == len(b)
    scores = np.array([p.score for p in a])
    np.testing.assert_allclose(scores, [p.score for p in b], rtol=1e-4, atol=1e-5)
    starts = [0] + [i for i in range(1, len(a)) if not np.isclose(scores[i], scores[i - 1], rtol=1e-5)] + [len(a)]
    for lo, hi in zip(starts, starts[1:]):
        assert {p.id for p in a[lo:hi]} == {p.id for p in b[lo:hi]} or hi == len(a)


def _queries(rng: np.random.Generator, datatype: str | None):
    for _ in range(4):
        matrix = _matrix(rng, datatype)
        dense = rng.normal(size=8).round(4).tolist()
        yield {"query": matrix, "using": "m", "limit": 10}
        yield {"query": matrix, "using": "m", "limit": 7, "query_filter": EVEN}
        yield {"prefetch": models.Prefetch(query=dense, using="d", limit=40), "query": matrix, "using": "m", "limit": 10}
        yield {"prefetch": models.Prefetch(query=dense, using="d", limit=60, filter=NOT_ONE),
               "query": matrix, "using": "m", "limit": 10, "query_filter": EVEN}
        yield {"prefetch": models.Prefetch(query=matrix, using="m", limit=25), "query": dense, "using": "d", "limit": 10}


@pytest.mark.parametrize("full_scan_threshold", [None, 0], ids=["plain-scan", "through-index"])
@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid"])
def test_multivector_queries_match_qdrant_local(distance: str, full_scan_threshold: int | None) -> None:
    ours, ref, rng = _scenario(distance, full_scan_threshold=full_scan_threshold)
    for request in _queries(rng, None):
        _same(ours.query_points("c", **request), ref.query_points("c", **request))
    request = {"query": 7, "using": "m", "limit": 5}  # by id: the stored matrix, the point excluded
    _same(ours.query_points("c", **request), ref.query_points("c", **request))


@pytest.mark.parametrize("distance", ["Dot", "Euclid", "Cosine"])
@pytest.mark.parametrize("datatype", ["float16", "uint8"])
def test_multivector_datatypes_match_qdrant_local(datatype: str, distance: str) -> None:
    if datatype == "float16" and distance == "Cosine":
        pytest.skip("normalised rows are not float16-exact; local mode keeps float32")
    ours, ref, rng = _scenario(distance, datatype, full_scan_threshold=0)
    stores = [s.vectors["m"] for s in ours._get("c").segments]
    assert all(store.flat[0].dtype == np.dtype(datatype) for store in stores)
    for request in _queries(rng, datatype):
        _same(ours.query_points("c", **request), ref.query_points("c", **request))


def test_multivector_vectors_read_back_like_qdrant_local() -> None:
    ours, ref, _ = _scenario("Dot")
    ids = list(range(0, N, 7))
    mine = {p.id: p.vector for p in ours.retrieve("c", ids, with_vectors=["m"])}
    theirs = {p.id: p.vector for p in ref.retrieve("c", ids, with_vectors=["m"])}
    assert mine.keys() == theirs.keys()
    for key, vector in theirs.items():
        assert set(mine[key]) == set(vector)
        if "m" in vector:
            np.testing.assert_allclose(mine[key]["m"], vector["m"], rtol=1e-6)
