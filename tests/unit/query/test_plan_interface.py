"""The plan interface for distributed execution: leaves per shard, statistics summed across
shards, results gathered, the merge tree finished once over points fetched from the shards,
gives the answer of the whole collection."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.ids import id_of_key
from hybrid.query.execute import (
    TermStats, execute, execute_leaves, finish, gather, leaf_statistics, records_candidates, sum_statistics,
)
from hybrid.query.plan import plan
from hybrid.query.request import QueryRequest

VECTORS = {"d": {"size": 4, "distance": "Euclid"},
           "mv": {"size": 3, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}}}
SPARSE = {"s": {"modifier": "idf"}}
WORDS = ["river", "stone", "light", "cloud", "field", "stone", "night"]


def _points(n: int, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"id": i, "vector": {"d": rng.normal(size=4).round(2).tolist(), "mv": rng.normal(size=(2, 3)).tolist(),
                                 "s": {"indices": sorted(rng.choice(12, 3, replace=False).tolist()),
                                       "values": rng.random(3).round(2).tolist()}},
             "payload": {"n": i % 7, "tag": ["a", "b", "c"][i % 3],
                         "text": " ".join(rng.choice(WORDS, 1 + i % 5).tolist())}} for i in range(n)]


@pytest.fixture(scope="module")
def shards():
    """The whole collection, and the same points split over three shard collections."""
    client = Client()
    points = _points(90)
    client.create_collection("all", vectors_config=VECTORS, sparse_vectors_config=SPARSE)
    client.upsert("all", points)
    client.create_payload_index("all", "text", {"type": "text"})
    for k in range(3):
        client.create_collection(f"shard{k}", vectors_config=VECTORS, sparse_vectors_config=SPARSE)
        client.upsert(f"shard{k}", [p for p in points if p["id"] % 3 == k])
        client.create_payload_index(f"shard{k}", "text", {"type": "text"})
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
    dict(prefetch=[{"query": [0.2, -0.1, 0.3, 0.0], "using": "d", "limit": 40}],
         query={"indices": [0, 6, 11], "values": [0.7, 1.0, 0.4]}, using="s", limit=6),
    dict(query=None, limit=12, filter={"must": [{"key": "tag", "match": {"value": "b"}}]}),
    dict(query={"bm25": {"text": "river stone light", "field": "text"}}, limit=10),
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

    got = finish(p, gathered, fetch, stats=stats)  # no view: the coordinator has only the statistics
    want = execute(p, whole)
    assert [(q.id, q.payload) for q in got.points] == [(q.id, q.payload) for q in want.points]
    np.testing.assert_allclose([q.score for q in got.points], [q.score for q in want.points], rtol=1e-5, atol=1e-6)
    if req.query is not None and "order_by" in str(raw):
        assert [q.order_value for q in got.points] == [q.order_value for q in want.points]


def test_summed_bm25_statistics_give_the_whole_collections_idf(shards):
    """One shard alone scores with its own IDF; with the summed statistics its BM25 scores are
    the whole collection's (the shards' average lengths are equal here: the length norm stays
    each shard's own)."""
    whole, shard = shards._view("all"), shards._view("shard1")
    p = plan(QueryRequest(query={"bm25": {"text": "night river", "field": "text"}}, limit=5), whole)
    stats = sum_statistics([leaf_statistics(p, shards._view(f"shard{k}")) for k in range(3)])
    assert stats[0].docs == 90 and stats[0].df.tolist() == list(TermStats(*whole.text.term_stats("text", "night river")).df)
    local, summed = execute_leaves(p, shard)[0], execute_leaves(p, shard, stats)[0]
    full = execute_leaves(p, whole)[0]
    by_key = dict(zip(full.keys.tolist(), full.scores.tolist()))
    assert not np.allclose(local.scores, [by_key.get(k, 0) for k in local.keys.tolist()])
    both = [k for k in summed.keys.tolist() if k in by_key]
    assert both and np.allclose([dict(zip(summed.keys.tolist(), summed.scores.tolist()))[k] for k in both],
                                [by_key[k] for k in both], rtol=1e-5)


def test_groups_finish_at_the_coordinator(shards):
    from hybrid.query.request import QueryGroupsRequest

    whole = shards._view("all")
    views = [shards._view(f"shard{k}") for k in range(3)]
    p = plan(QueryGroupsRequest(query=[0.1, 0.2, -0.3, 0.4], using="d", group_by="tag", limit=2, group_size=3,
                                with_payload=True), whole)
    gathered = gather(p, [execute_leaves(p, v) for v in views])

    def fetch(keys, needs):
        assert needs == ()
        records = [r for k in range(3) for r in shards.retrieve(f"shard{k}", [id_of_key(x) for x in keys.tolist()],
                                                                with_payload=True, with_vectors=True)]
        return records_candidates(whole.schema, records)

    got, want = finish(p, gathered, fetch), execute(p, whole)
    assert [(g.id, [h.id for h in g.hits]) for g in got.groups] == [(g.id, [h.id for h in g.hits]) for g in want.groups]
    assert len(got.groups) == 2
