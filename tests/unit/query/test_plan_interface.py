"""The plan interface for distributed execution: leaves per shard, statistics summed across
shards, results gathered, the merge tree finished once over points fetched from the shards,
gives the answer of the whole collection."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.ids import id_of_key
from hybrid.query.execute import (
    execute, execute_leaves, finish, gather, leaf_statistics, records_candidates, sum_statistics,
)
from hybrid.query.plan import plan
from hybrid.query.request import QueryRequest

VECTORS = {"d": {"size": 4, "distance": "Euclid"},
           "mv": {"size": 3, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}}}
SPARSE = {"s": {"modifier": "idf"}}


def _points(n: int, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"id": i, "vector": {"d": rng.normal(size=4).round(2).tolist(), "mv": rng.normal(size=(2, 3)).tolist(),
                                 "s": {"indices": sorted(rng.choice(12, 3, replace=False).tolist()),
                                       "values": rng.random(3).round(2).tolist()}},
             "payload": {"n": i % 7, "tag": ["a", "b", "c"][i % 3]}} for i in range(n)]


@pytest.fixture(scope="module")
def shards():
    """The whole collection, and the same points split over three shard collections."""
    client = Client()
    points = _points(90)
    client.create_collection("all", vectors_config=VECTORS, sparse_vectors_config=SPARSE)
    client.upsert("all", points)
    for k in range(3):
        client.create_collection(f"shard{k}", vectors_config=VECTORS, sparse_vectors_config=SPARSE)
        client.upsert(f"shard{k}", [p for p in points if p["id"] % 3 == k])
    yield client
    client.close()


REQUESTS = [
    dict(query=[0.1, 0.2, -0.3, 0.4], using="d", limit=7),
    dict(query={"indices": [1, 4, 9], "values": [1.0, 0.5, 0.2]}, using="s", limit=6),
    dict(prefetch=[{"query": [0.1, 0.2, -0.3, 0.4], "using": "d", "limit": 20},
                   {"query": {"indices": [2, 3], "values": [1.0, 1.0]}, "using": "s", "limit": 20,
                    "filter": {"must": [{"key": "n", "range": {"gte": 2}}]}}],
         query={"fusion": "rrf"}, limit=8, offset=2),
    dict(prefetch=[{"prefetch": [{"query": [0.3, 0.1, 0.0, -0.2], "using": "d", "limit": 25},
                                 {"query": {"indices": [5], "values": [1.0]}, "using": "s", "limit": 25}],
                    "query": {"fusion": "dbsf"}, "limit": 30}],
         query=[[0.1, 0.2, 0.3], [0.0, -1.0, 0.5]], using="mv", limit=5),
    dict(query={"nearest": [0.5, -0.5, 0.1, 0.0], "mmr": {"diversity": 0.6, "candidates_limit": 25}}, using="d", limit=5),
    dict(prefetch=[{"query": [0.1, 0.2, -0.3, 0.4], "using": "d", "limit": 30}],
         query={"formula": {"sum": ["$score", {"mult": [0.5, "n"]}]}}, limit=6),
    dict(query={"order_by": {"key": "n", "direction": "desc"}}, limit=9),
    dict(query=None, limit=12, filter={"must": [{"key": "tag", "match": {"value": "b"}}]}),
]


@pytest.mark.parametrize("raw", REQUESTS)
def test_shards_then_coordinator_equal_the_whole_collection(shards, raw):
    if "order_by" in str(raw):
        for k in range(3):
            shards.create_payload_index(f"shard{k}", "n", "integer")
        shards.create_payload_index("all", "n", "integer")
    whole = shards._view("all")
    views = [shards._view(f"shard{k}") for k in range(3)]
    req = QueryRequest(**raw, with_payload=True)
    p = plan(req, whole)
    stats = sum_statistics([leaf_statistics(p, v) for v in views])
    gathered = gather(p, [execute_leaves(p, v, stats) for v in views])

    def fetch(keys, needs):  # the coordinator asks the shards for the candidates' records
        ids = [id_of_key(k) for k in keys.tolist()]
        records = [r for k in range(3) for r in shards.retrieve(f"shard{k}", ids, with_payload=True, with_vectors=True)]
        return records_candidates(whole.schema, records)

    got = finish(p, gathered, fetch)
    want = execute(p, whole)
    assert [(q.id, q.payload) for q in got.points] == [(q.id, q.payload) for q in want.points]
    np.testing.assert_allclose([q.score for q in got.points], [q.score for q in want.points], rtol=1e-5, atol=1e-6)
    if req.query is not None and "order_by" in str(raw):
        assert [q.order_value for q in got.points] == [q.order_value for q in want.points]
