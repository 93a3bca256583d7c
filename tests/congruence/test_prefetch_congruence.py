"""Prefetch + fusion / rescoring against qdrant-client local mode."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from hybrid import Client

N = 400


def _setup():
    rng = np.random.default_rng(3)
    ours, ref = Client(), QdrantClient(":memory:")
    pts = []
    for i in range(N):
        idx = rng.choice(30, size=3, replace=False).tolist()
        pts.append(models.PointStruct(id=i, payload={"g": i % 4}, vector={
            "d": rng.normal(size=6).round(3).tolist(),
            "s": models.SparseVector(indices=idx, values=rng.random(3).round(3).tolist()),
            "m": rng.normal(size=(int(rng.integers(1, 4)), 4)).round(3).tolist()}))
    for client in (ours, ref):
        client.create_collection("c", vectors_config={
            "d": models.VectorParams(size=6, distance="Cosine"),
            "m": models.VectorParams(size=4, distance="Dot", multivector_config=models.MultiVectorConfig(comparator="max_sim"))},
            sparse_vectors_config={"s": models.SparseVectorParams()})
        client.upsert("c", pts)
    return ours, ref, rng


FLT = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchAny(any=[0, 1, 2]))])


@pytest.mark.parametrize("fusion", [models.FusionQuery(fusion=models.Fusion.RRF), models.FusionQuery(fusion=models.Fusion.DBSF),
                                    models.RrfQuery(rrf=models.Rrf(k=5, weights=[2.0, 0.5]))])
@pytest.mark.parametrize("with_filter", [False, True])
def test_fusion_of_dense_and_sparse(fusion, with_filter, same_up_to_ties) -> None:
    ours, ref, rng = _setup()
    for _ in range(5):
        dense = rng.normal(size=6).tolist()
        sparse = models.SparseVector(indices=rng.choice(30, 4, replace=False).tolist(), values=rng.random(4).tolist())
        kwargs = dict(prefetch=[models.Prefetch(query=dense, using="d", limit=30),
                                models.Prefetch(query=sparse, using="s", limit=30)],
                      query=fusion, limit=10, query_filter=FLT if with_filter else None)
        same_up_to_ties(ours.query_points("c", **kwargs).points, ref.query_points("c", **kwargs).points)


def test_maxsim_rerank_of_nested_prefetch() -> None:
    ours, ref, rng = _setup()
    for _ in range(5):
        inner = [models.Prefetch(query=rng.normal(size=6).tolist(), using="d", limit=40),
                 models.Prefetch(query=models.SparseVector(indices=[1, 2, 3], values=[1.0, 0.5, 0.2]), using="s", limit=40)]
        kwargs = dict(prefetch=models.Prefetch(prefetch=inner, query=models.FusionQuery(fusion=models.Fusion.RRF), limit=80),  # no cut inside RRF ties
                      query=rng.normal(size=(2, 4)).tolist(), using="m", limit=10)
        a = ours.query_points("c", **kwargs).points
        b = ref.query_points("c", **kwargs).points
        assert [p.id for p in a] == [p.id for p in b]
        np.testing.assert_allclose([p.score for p in a], [p.score for p in b], rtol=1e-4)
