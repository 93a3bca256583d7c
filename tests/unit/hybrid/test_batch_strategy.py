"""A batch of plain dense queries takes, segment by segment, the same exact-vs-graph decision
as each query alone (`hybrid.query.allowed.use_graph`), so it returns the same points."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client

N, DIM = 1500, 16


@pytest.fixture(scope="module")
def client():
    rng = np.random.default_rng(5)
    with Client() as c:
        c.create_collection("c", vectors_config={"size": DIM, "distance": "Cosine"},
                            hnsw_config={"full_scan_threshold": 10, "m": 4, "ef_construct": 8})  # a rough graph
        c.upsert("c", [{"id": i, "vector": rng.normal(size=DIM).tolist()} for i in range(N)])
        c.collection("c").optimizer.optimize()
        assert c.collection("c").segments[0].vectors[""].index is not None
        yield c


def test_batch_equals_single_queries(client) -> None:
    """Every point, a few deleted, half, a selective share, almost all, for the default,
    exact and a small-ef search: the same ids; scores equal but for float rounding (a batch
    multiplies matrices)."""
    for deleted in (0, 15, 700, 1300, 1480):
        client.delete("c", list(range(deleted)))
        client.collection("c").optimizer.wait()  # a vacuum may follow: both reads see its result
        queries = np.random.default_rng(deleted).normal(size=(6, DIM)).tolist()
        for params in (None, {"exact": True}, {"hnsw_ef": 4}):
            batch = client.query_batch_points("c", [{"query": q, "limit": 5, "params": params} for q in queries])
            for q, answer in zip(queries, batch):
                single = client.query_points("c", query=q, limit=5, search_params=params).points
                assert [p.id for p in answer.points] == [p.id for p in single], (deleted, params)
                np.testing.assert_allclose([p.score for p in answer.points], [p.score for p in single], rtol=1e-6)
