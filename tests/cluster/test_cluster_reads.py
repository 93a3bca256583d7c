"""A collection sharded 3 ways answers exactly as one node with the same data (points and
scores): dense, sparse (with IDF: collection-wide statistics), BM25 (over different average
lengths: test_cluster_bm25.py), multivector, prefetch with RRF, DBSF, linear fusion, rescoring,
formula, MMR, order_by, groups (with_lookup), filters, count, scroll (by id and order_by),
facet, search matrix; point-id examples of every kind, lookup_from, BM25 over a prefetch pool,
explain; custom shard keys route."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client

N, DIM = 240, 8
CONFIG = dict(
    vectors_config={"d": {"size": DIM, "distance": "Cosine"}, "e": {"size": DIM, "distance": "Euclid"},
                    "mv": {"size": 4, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
    sparse_vectors_config={"s": {}, "idf": {"modifier": "idf"}},
)
TAGS = ["red", "green", "blue", "amber"]


def _points(rng):
    points = []
    for i in range(N):
        idx = np.sort(rng.choice(40, size=5, replace=False))
        points.append({
            "id": i if i % 5 else f"00000000-0000-0000-0000-{i:012d}",
            "vector": {"d": rng.normal(size=DIM).tolist(), "e": rng.normal(size=DIM).tolist(),
                       "mv": rng.normal(size=(3, 4)).tolist(),
                       "s": {"indices": idx.tolist(), "values": rng.random(5).round(3).tolist()},
                       "idf": {"indices": idx.tolist(), "values": [1.0] * 5}},
            "payload": {"n": int(i % 17), "tag": TAGS[i % 4],
                        "text": " ".join(f"w{k}" for k in rng.integers(0, 30, size=8))},  # one length: one avgdl
        })
    return points


@pytest.fixture(scope="module")
def pair(coordinator):
    rng = np.random.default_rng(21)
    points = _points(rng)
    single = Client()
    single.create_collection("c", **CONFIG)
    coordinator.create_collection("c", shard_number=3, replication_factor=2, **CONFIG)
    for target in (single, coordinator):
        target.create_payload_index("c", "n", "integer")
        target.create_payload_index("c", "tag", "keyword")
        target.create_payload_index("c", "text", "text")
        for start in range(0, N, 60):
            target.upsert("c", points[start: start + 60])
    yield single, coordinator, rng
    coordinator.delete_collection("c")
    single.close()


def _requests(rng):
    q = lambda: rng.normal(size=DIM).tolist()  # noqa: E731
    sparse = {"indices": [1, 3, 5, 7, 11, 13], "values": [0.5, 1.0, 0.2, 0.7, 0.9, 0.4]}
    flt = {"must": [{"key": "n", "range": {"gte": 3, "lt": 12}}], "must_not": [{"key": "tag", "match": {"value": "red"}}]}
    return [
        dict(query=q(), using="d", limit=15),
        dict(query=q(), using="e", limit=10, query_filter=flt),
        dict(query=q(), using="d", limit=5, offset=4, score_threshold=0.1),
        dict(query=sparse, using="s", limit=20),
        dict(query=sparse, using="idf", limit=20),
        dict(query=rng.normal(size=(2, 4)).tolist(), using="mv", limit=10),
        dict(query=7, using="d", limit=8),
        dict(prefetch=[{"query": q(), "using": "d", "limit": 30}, {"query": sparse, "using": "idf", "limit": 30}],
             query={"fusion": "rrf"}, limit=12),
        dict(prefetch=[{"query": q(), "using": "d", "limit": 25, "filter": flt}, {"query": sparse, "using": "s", "limit": 25}],
             query={"fusion": "dbsf"}, limit=12),
        dict(prefetch=[{"query": q(), "using": "e", "limit": 20}, {"query": q(), "using": "d", "limit": 20}],
             query={"linear": {"weights": [0.3, 0.7]}}, limit=10),
        dict(prefetch=[{"prefetch": [{"query": q(), "using": "d", "limit": 40}], "query": q(), "using": "e", "limit": 20}],
             query=rng.normal(size=(2, 4)).tolist(), using="mv", limit=10, query_filter={"must": [{"key": "n", "range": {"gte": 2}}]}),
        dict(query=None, limit=10, query_filter=flt),
        dict(prefetch=[{"query": q(), "using": "d", "limit": 30}, {"query": 11, "using": "e", "limit": 30}],
             query={"formula": {"sum": ["$score[0]", {"mult": [0.01, "n"]}]}}, limit=8),
        dict(query={"nearest": q(), "mmr": {"diversity": 0.5, "candidates_limit": 30}}, using="d", limit=6),
        dict(query={"order_by": {"key": "n", "direction": "desc"}}, limit=9, query_filter=flt),
        dict(query={"bm25": {"field": "text", "text": "w3 w17 w25"}}, limit=12),
    ]


def test_queries_equal_one_node(pair):
    single, cluster, rng = pair
    for request in _requests(rng):
        ours = cluster.query_points("c", with_payload=True, **request).points
        ref = single.query_points("c", with_payload=True, **request).points
        assert [p.id for p in ours] == [p.id for p in ref], request
        np.testing.assert_allclose([p.score for p in ours], [p.score for p in ref], rtol=1e-5, atol=1e-6)
        assert [p.payload for p in ours] == [p.payload for p in ref]
        assert [p.order_value for p in ours] == [p.order_value for p in ref]


def test_point_id_examples_lookup_from_and_bm25_over_a_pool_equal_one_node(pair, coordinator):
    """Ids as examples of every query kind are read from their shard (and excluded), also from
    another collection by `lookup_from`; BM25 restricted to a prefetch pool runs on the shards."""
    single, cluster, rng = pair
    other = {"vectors_config": {"x": {"size": DIM, "distance": "Cosine"}}}
    single.create_collection("lk", **other)
    coordinator.create_collection("lk", shard_number=2, **other)
    looked_up = [{"id": i, "vector": {"x": rng.normal(size=DIM).tolist()}} for i in range(20)]
    for target in (single, coordinator):
        target.upsert("lk", looked_up)
    uuid = "00000000-0000-0000-0000-000000000015"
    sparse = {"indices": [1, 3, 5, 7], "values": [0.5, 1.0, 0.2, 0.7]}
    naive = {"naive": {"a": 1.0, "b": 1.0, "c": 1.0}}
    requests = [
        dict(query={"recommend": {"positive": [3, uuid], "negative": [7]}}, using="d", limit=10),
        dict(query={"recommend": {"positive": [3, 4], "negative": [8], "strategy": "best_score"}}, using="e", limit=10),
        dict(query={"discover": {"target": 6, "context": [{"positive": 8, "negative": 9}]}}, using="d", limit=10),
        dict(query={"context": [{"positive": 12, "negative": 13}]}, using="e", limit=10),
        dict(query={"relevance_feedback": {"target": 14, "feedback": [{"example": 16, "score": 0.8}],
                                           "strategy": naive}}, using="d", limit=10),
        dict(query=11, using="mv", limit=10),
        dict(query=4, using="d", limit=10, lookup_from={"collection": "lk", "vector": "x"}),
        dict(query=4, using="d", limit=10, lookup_from={"collection": "c"}),
        dict(prefetch=[{"query": {"recommend": {"positive": [17]}}, "using": "d", "limit": 30}], query=18, using="e",
             limit=10),
        dict(prefetch=[{"query": rng.normal(size=DIM).tolist(), "using": "d", "limit": 40},
                       {"query": sparse, "using": "s", "limit": 40}],
             query={"bm25": {"field": "text", "text": "w3 w17 w25 w8"}}, limit=10),
        dict(prefetch=[{"query": rng.normal(size=DIM).tolist(), "using": "d", "limit": 60}],
             query={"bm25": {"field": "text", "text": "w4 w11"}}, limit=7, query_filter={"must": [{"key": "n", "range": {"gte": 5}}]}),
    ]
    try:
        for request in requests:
            ours = cluster.query_points("c", **request).points
            ref = single.query_points("c", **request).points
            assert [p.id for p in ours] == [p.id for p in ref], request
            np.testing.assert_allclose([p.score for p in ours], [p.score for p in ref], rtol=1e-5, atol=1e-6)
        explained = dict(prefetch=[{"query": rng.normal(size=DIM).tolist(), "using": "d", "limit": 20},
                                   {"query": sparse, "using": "s", "limit": 20}], query={"fusion": "rrf"}, limit=5,
                         explain=True)
        ours, ref = cluster.query_points("c", **explained), single.query_points("c", **explained)
        assert [(p.id, p.explain) for p in ours.points] == [(p.id, p.explain) for p in ref.points]
        assert ours.plan is not None
        from hybrid.errors import PointNotFound

        for target in (single, cluster):
            with pytest.raises(PointNotFound):
                target.query_points("c", {"recommend": {"positive": [100_000]}}, using="d")
    finally:
        single.delete_collection("lk")
        coordinator.delete_collection("lk")


def test_groups_equal_one_node(pair):
    single, cluster, rng = pair
    query = rng.normal(size=DIM).tolist()
    ours = cluster.query_points_groups("c", "tag", query=query, using="d", limit=3, group_size=4).groups
    ref = single.query_points_groups("c", "tag", query=query, using="d", limit=3, group_size=4).groups
    assert [(g.id, [(p.id, round(p.score, 5)) for p in g.hits]) for g in ours] == \
        [(g.id, [(p.id, round(p.score, 5)) for p in g.hits]) for g in ref]


def test_groups_with_lookup_and_read_arguments(pair, coordinator):
    """with_lookup reads each group's point from its shard (this collection or another); the
    read methods take exactly the single-node Client's arguments: `timeout` is a deadline."""
    import inspect

    from hybrid.cluster.coordinator import ClusterClient

    single, cluster, rng = pair
    query = rng.normal(size=DIM).tolist()
    for lookup in ("c", {"collection": "c", "with_payload": ["tag"], "with_vectors": ["d"]}):
        ours = cluster.query_points_groups("c", "n", query=query, using="d", limit=4, group_size=2, with_lookup=lookup,
                                           timeout=30).groups
        ref = single.query_points_groups("c", "n", query=query, using="d", limit=4, group_size=2, with_lookup=lookup).groups
        assert [(g.id, g.lookup) for g in ours] == [(g.id, g.lookup) for g in ref] and any(g.lookup for g in ref)
    for name in ("count", "retrieve", "scroll", "facet", "query_points", "query_points_groups", "query_batch_points",
                 "search_matrix_pairs", "search_matrix_offsets"):
        ours, ref = inspect.signature(getattr(ClusterClient, name)), inspect.signature(getattr(Client, name))
        # no catch-all (an unknown argument is a TypeError); read consistency where Client has none
        assert set(ref.parameters) <= set(ours.parameters) <= set(ref.parameters) | {"consistency"}, name
    with pytest.raises(TypeError, match="bogus"):
        cluster.count("c", bogus=1)
    from hybrid.errors import ValidationError

    with pytest.raises(ValidationError, match="timeout"):
        cluster.count("c", timeout=0)
    assert cluster.count("c", timeout=30).count == single.count("c").count


def test_search_matrix_equals_one_node_when_the_sample_is_every_match(pair):
    single, cluster, _ = pair
    flt = {"must": [{"key": "n", "match": {"value": 3}}]}
    ours = cluster.search_matrix_offsets("c", flt, limit=3, sample=50, using="d", consistency="all", timeout=30)
    ref = single.search_matrix_offsets("c", flt, limit=3, sample=50, using="d")
    assert ours.ids == ref.ids and len(ref.ids) > 10
    assert ours.offsets_col == ref.offsets_col
    np.testing.assert_allclose(ours.scores, ref.scores, rtol=1e-5)
    assert len(cluster.search_matrix_pairs("c", flt, limit=2, sample=5, using="d").pairs) == 10


def test_count_scroll_facet_retrieve(pair):
    single, cluster, _ = pair
    flt = {"must": [{"key": "tag", "match": {"any": ["red", "blue"]}}]}
    for f in (None, flt):
        assert cluster.count("c", f).count == single.count("c", f).count
        assert cluster.facet("c", "n", f, limit=7) == single.facet("c", "n", f, limit=7)
        pages, offset = [], None
        while True:
            page, offset = cluster.scroll("c", f, limit=37, offset=offset, with_payload=True)
            pages.extend(page)
            if offset is None:
                break
        ref, _ = single.scroll("c", f, limit=N)
        assert [(r.id, r.payload) for r in pages] == [(r.id, r.payload) for r in ref]
        for order_by in ("n", {"key": "n", "direction": "desc", "start_from": 9}):
            page, _ = cluster.scroll("c", f, limit=25, order_by=order_by)
            ref, _ = single.scroll("c", f, limit=25, order_by=order_by)
            assert [(r.id, r.order_value) for r in page] == [(r.id, r.order_value) for r in ref]
    ids = [5, 3, "00000000-0000-0000-0000-000000000010", 999]
    assert [r.id for r in cluster.retrieve("c", ids)] == [r.id for r in single.retrieve("c", ids)]


def test_writes_by_filter_and_ids_reach_every_shard(pair):
    single, cluster, _ = pair
    for target in (single, cluster):
        target.set_payload("c", {"seen": True}, {"filter": {"must": [{"key": "n", "match": {"value": 4}}]}})
        target.delete("c", [1, 2, 3])
        target.delete("c", {"filter": {"must": [{"key": "n", "match": {"value": 16}}]}})
    seen = {"must": [{"key": "seen", "match": {"value": True}}]}
    assert cluster.count("c", seen).count == single.count("c", seen).count > 0
    assert cluster.count("c").count == single.count("c").count
    assert cluster.count("c", consistency="all").count == single.count("c").count


def test_custom_shard_keys_route_as_qdrant(coordinator):
    from hybrid.errors import ValidationError

    coordinator.create_collection("k", vectors_config={"size": 4, "distance": "Dot"}, sharding_method="custom")
    coordinator.create_shard_key("k", "eu", shards_number=2)
    coordinator.create_shard_key("k", "us")
    coordinator.upsert("k", [{"id": i, "vector": [1.0, i, 0, 0]} for i in range(10)], shard_key_selector="eu")
    coordinator.upsert("k", [{"id": 100 + i, "vector": [1.0, i, 0, 0]} for i in range(4)], shard_key_selector="us")
    assert coordinator.count("k").count == 14
    assert coordinator.count("k", shard_key_selector="us").count == 4
    assert coordinator.count("k", shard_key_selector=["eu", "us"]).count == 14
    hits = coordinator.query_points("k", [0.0, 1.0, 0, 0], limit=3, shard_key_selector="us").points
    assert [p.id for p in hits] == [103, 102, 101]
    layout = coordinator.layout("k")
    eu = [s for s in layout.shards if s.shard_key == "eu"]
    per_shard = [coordinator.get(coordinator.handle(layout, s.shard_id, 0).read.remote("count", {})) for s in eu]
    assert sorted(c["count"] for c in per_shard) != [0, 10] and sum(c["count"] for c in per_shard) == 10
    with pytest.raises(ValidationError):
        coordinator.upsert("k", [{"id": 1, "vector": [1.0, 0, 0, 0]}])  # no shard key on a custom collection
    with pytest.raises(ValidationError):
        coordinator.count("k", shard_key_selector="asia")
    coordinator.delete_shard_key("k", "us")
    assert coordinator.count("k").count == 10
    coordinator.delete_collection("k")


def test_a_second_coordinator_sees_the_same_collections(pair, coordinator):
    """Layouts live in the GCS: a restarted or additional coordinator serves the same data."""
    from hybrid.cluster.coordinator import ClusterClient

    single, _, rng = pair
    second = ClusterClient(data_root=coordinator.root, health_interval=0)
    try:
        assert "c" in [d.name for d in second.get_collections().collections]
        query = rng.normal(size=DIM).tolist()
        ours = second.query_points("c", query, using="d", limit=5).points
        assert [p.id for p in ours] == [p.id for p in single.query_points("c", query, using="d", limit=5).points]
        assert second.count("c").count == single.count("c").count
    finally:
        second.close()
