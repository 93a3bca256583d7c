"""Search matrix (pairs and offsets) through the real qdrant-client 1.20 on every transport. With a
sample larger than the matching points every point is drawn, so the answer is exact: it must
equal the brute-force nearest neighbours among them, and the embedded Client's answer."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from tests.e2e.conftest import dataset

NAME = "mx"
RED = qm.Filter(must=[qm.FieldCondition(key="tag", match=qm.MatchValue(value="red"))])


@pytest.fixture(scope="module")
def matrix_twins(remote):
    from tests.e2e.conftest import make_twins

    local = make_twins(remote, NAME) if not remote.collection_exists(NAME) else None
    yield remote, local
    if local is not None:
        local.close()


def brute_force(limit: int) -> list[tuple[int, int, float]]:
    points = [p for p in dataset() if p["payload"]["tag"] == "red"]
    ids = [p["id"] for p in points]
    unit = np.array([p["vector"]["d"] for p in points], dtype=np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :limit]
    return [(ids[i], ids[j], scores[i, j]) for i in range(len(ids)) for j in order[i]]


def test_pairs_and_offsets_are_the_exact_neighbours(matrix_twins):
    remote, local = matrix_twins
    pairs = remote.search_matrix_pairs(NAME, query_filter=RED, limit=3, sample=100, using="d").pairs
    expected = brute_force(3)
    assert [(p.a, p.b) for p in pairs] == [(a, b) for a, b, _ in expected]
    assert np.allclose([p.score for p in pairs], [s for _, _, s in expected], atol=1e-4)
    offsets = remote.search_matrix_offsets(NAME, query_filter=RED, limit=3, sample=100, using="d")
    assert [(offsets.ids[r], offsets.ids[c]) for r, c in zip(offsets.offsets_row, offsets.offsets_col)] == \
        [(a, b) for a, b, _ in expected]
    if local is not None:
        embedded = local.search_matrix_pairs(NAME, query_filter=RED, limit=3, sample=100, using="d").pairs
        assert [(p.a, p.b) for p in embedded] == [(a, b) for a, b, _ in expected]


def test_sampling_and_errors(matrix_twins, refused):
    remote, _ = matrix_twins
    sampled = remote.search_matrix_offsets(NAME, sample=5, limit=2, using="d")
    assert len(sampled.ids) == 5 and len(set(sampled.ids)) == 5 and sampled.ids == sorted(sampled.ids)
    assert len(sampled.scores) == 10 and all(r != c for r, c in zip(sampled.offsets_row, sampled.offsets_col))
    for bad, status in (({"using": "s"}, 400), ({"using": "nope"}, 400), ({"sample": 1}, 422), ({"limit": 0}, 422)):
        with refused(status):
            remote.search_matrix_pairs(NAME, **{"using": "d", **bad})
    with refused(404):
        remote.search_matrix_offsets("mx_nope", using="d")


@pytest.mark.transports("rest")  # async REST; async gRPC is the grpc-async transport of the tests above
def test_async_client(server, matrix_twins):
    async def run() -> list:
        client = AsyncQdrantClient(url=server.url, timeout=60)
        try:
            return (await client.search_matrix_pairs(NAME, query_filter=RED, limit=2, sample=100, using="d")).pairs
        finally:
            await client.close()

    pairs = asyncio.run(run())
    assert [(p.a, p.b) for p in pairs] == [(a, b) for a, b, _ in brute_force(2)]
