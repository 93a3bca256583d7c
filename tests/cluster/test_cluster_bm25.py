"""BM25 over shards whose documents differ in length (custom shard keys put the long ones on one
shard): the same points and scores as one node, for our `bm25` query, Qdrant 1.20's text query,
with a filter and inside prefetch + RRF. Each shard scores with the collection's statistics
(documents, document frequencies and total tokens summed over shards)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client

N, DIM = 150, 4
CONFIG = dict(vectors_config={"d": {"size": DIM, "distance": "Cosine"}})
WORDS = [f"w{i}" for i in range(25)]


def _points(rng):
    points = []
    for i in range(N):
        long = i % 3 == 0
        length = int(rng.integers(40, 120) if long else rng.integers(2, 8))
        points.append({"id": i, "vector": {"d": rng.normal(size=DIM).tolist()},
                       "payload": {"n": i % 7, "long": long, "text": " ".join(rng.choice(WORDS, length))}})
    return points


@pytest.fixture(scope="module")
def pair(coordinator):
    rng = np.random.default_rng(5)
    points = _points(rng)
    single = Client()
    single.create_collection("b", **CONFIG)
    coordinator.create_collection("b", sharding_method="custom", **CONFIG)
    coordinator.create_shard_key("b", "long")
    coordinator.create_shard_key("b", "short", shards_number=2)
    for target in (single, coordinator):
        target.create_payload_index("b", "n", "integer")
        target.create_payload_index("b", "text", {"type": "text", "scoring": True})
    single.upsert("b", points)
    coordinator.upsert("b", [p for p in points if p["payload"]["long"]], shard_key_selector="long")
    coordinator.upsert("b", [p for p in points if not p["payload"]["long"]], shard_key_selector="short")
    yield single, coordinator, rng
    coordinator.delete_collection("b")
    single.close()


def _same(ours, ref, request):
    assert [p.id for p in ours] == [p.id for p in ref], request
    np.testing.assert_allclose([p.score for p in ours], [p.score for p in ref], rtol=1e-6, atol=0)


def test_shards_really_differ_in_average_length(pair):
    _, cluster, _ = pair
    layout = cluster.layout("b")
    averages = []
    for shard in layout.shards:
        rows = cluster.get(cluster.handle(layout, shard.shard_id, 0).read.remote(
            "scroll", {"limit": N, "with_payload": ["text"]}))[0]
        averages.append(np.mean([len(r["payload"]["text"].split()) for r in rows]))
    assert max(averages) > 8 * min(averages)


def test_bm25_equals_one_node(pair):
    single, cluster, rng = pair
    requests = []
    for k in range(6):
        text = " ".join(rng.choice(WORDS, 1 + k % 4))
        requests += [dict(query={"bm25": {"field": "text", "text": text}}, limit=5 + 3 * k),
                     dict(query={"text": text}, using="text", limit=10),
                     dict(query={"bm25": {"field": "text", "text": text}}, limit=10,
                          query_filter={"must": [{"key": "n", "range": {"gte": 2}}]}),
                     dict(prefetch=[{"query": {"bm25": {"field": "text", "text": text}}, "limit": 20},
                                    {"query": rng.normal(size=DIM).tolist(), "using": "d", "limit": 20}],
                          query={"fusion": "rrf"}, limit=10)]
    for request in requests:
        _same(cluster.query_points("b", **request).points, single.query_points("b", **request).points, request)
