"""Universal Query API on the engine: segment layout independence, explain, validation errors."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import PointNotFound, ValidationError
from hybrid.query.request import QueryRequest, run_query

N = 120
EXACT = {"exact": True}


def _points(seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(N):
        idx = rng.choice(20, size=3, replace=False).tolist()
        out.append({"id": i, "vector": {"d": rng.normal(size=4).round(2).tolist(),
                                        "s": {"indices": idx, "values": rng.random(3).round(2).tolist()},
                                        "m": rng.normal(size=(2, 3)).round(2).tolist()},
                    "payload": {"g": i % 5, "x": float(i % 13), "tags": ["a", "b", "c"][: 1 + i % 3],
                                "when": f"2024-01-{1 + i % 28:02d}"}})
    return out


def _client(segments: bool) -> Client:
    """The same points in one appendable segment, or spread over many sealed ones."""
    c = Client()
    c.create_collection("c", vectors_config={"d": {"size": 4, "distance": "Euclid"},
                                             "m": {"size": 3, "distance": "Dot", "multivector_config": {}}},
                        sparse_vectors_config={"s": {}},
                        optimizers_config={"indexing_threshold": 1 if segments else 0})
    points = _points()
    for start in range(0, N, 25):
        c.upsert("c", points[start:start + 25])
    c.collection("c").optimizer.wait()
    c.upsert("c", points[::7])  # same points again: tombstones in the sealed segment, copies in the new one
    c.collection("c").optimizer.wait()
    return c


@pytest.fixture(scope="module")
def clients():
    one, many = _client(False), _client(True)
    assert len(one.collection("c").segments) == 1 and len(many.collection("c").segments) > 1
    yield one, many
    one.close()
    many.close()


def _prefetch(rng) -> list[dict]:
    return [{"query": rng.normal(size=4).tolist(), "using": "d", "limit": 30, "params": EXACT},
            {"query": {"indices": [1, 5, 7], "values": [0.5, 1.0, 0.2]}, "using": "s", "limit": 30}]


QUERIES = [
    {"fusion": "rrf"}, {"fusion": "dbsf"}, {"rrf": {"k": 4, "weights": [1.0, 2.0]}},
    {"linear": {"weights": [0.7, 0.3], "normalization": "zscore"}},
    {"formula": {"sum": ["$score[0]", {"mult": [0.1, "x"]}, {"key": "g", "match": {"value": 2}},
                         {"gauss_decay": {"x": {"datetime_key": "when"}, "target": {"datetime": "2024-01-10"}, "scale": 864000}}]},
     "defaults": {"$score[0]": 0.0}},
    {"order_by": {"key": "x", "direction": "desc"}},
]


@pytest.mark.parametrize("query", QUERIES)
def test_merges_do_not_depend_on_the_segment_layout(clients, query) -> None:
    one, many = clients
    rng = np.random.default_rng(1)
    for _ in range(3):
        kwargs = dict(prefetch=_prefetch(rng), query=query, limit=12, with_payload=False)
        a, b = one.query_points("c", **kwargs).points, many.query_points("c", **kwargs).points
        assert [(p.id, p.order_value) for p in a] == [(p.id, p.order_value) for p in b]
        np.testing.assert_allclose([p.score for p in a], [p.score for p in b], rtol=1e-5)


@pytest.mark.parametrize("query", [
    {"recommend": {"positive": [3, 8], "negative": [5], "strategy": "best_score"}},
    {"recommend": {"positive": [3], "negative": [5, 9], "strategy": "sum_scores"}},
    {"recommend": {"positive": [3, 4], "negative": [5]}},
    {"discover": {"target": 10, "context": [{"positive": 1, "negative": 2}]}},
    {"context": [{"positive": 1, "negative": 2}, {"positive": 6, "negative": 7}]},
    {"nearest": [0.1, 0.2, 0.3, 0.4], "mmr": {"diversity": 0.6, "candidates_limit": 40}},
])
@pytest.mark.parametrize("using", ["d", "s", "m"])
def test_vector_queries_do_not_depend_on_the_segment_layout(clients, query, using) -> None:
    one, many = clients
    if "mmr" in query and using != "d":
        query = {"nearest": 11, "mmr": query["mmr"]}
    for prefetch in (None, {"query": 12, "using": using, "limit": 60, "params": EXACT}):
        kwargs = dict(query=query, using=using, prefetch=prefetch, limit=10, search_params=EXACT)
        a, b = one.query_points("c", **kwargs).points, many.query_points("c", **kwargs).points
        assert [p.id for p in a] == [p.id for p in b]
        np.testing.assert_allclose([p.score for p in a], [p.score for p in b], rtol=1e-5)


def test_examples_given_by_id_are_excluded(clients) -> None:
    one, _ = clients
    hits = one.query_points("c", query={"recommend": {"positive": [3], "negative": [5]}}, using="d", limit=N).points
    assert {3, 5}.isdisjoint(p.id for p in hits) and len(hits) == N - 2
    hits = one.query_points("c", query={"context": [{"positive": 1, "negative": 2}]}, using="s", limit=N).points
    assert {1, 2}.isdisjoint(p.id for p in hits)


def test_explain_gives_each_prefetch_rank_and_score(clients) -> None:
    one, _ = clients
    prefetch = _prefetch(np.random.default_rng(2))
    fused = run_query(one.collection("c").view(), QueryRequest(prefetch=prefetch, query={"fusion": "rrf"}, limit=8, explain=True))
    branches = [one.query_points("c", query=p["query"], using=p["using"], search_params=p.get("params"), limit=30).points
                for p in prefetch]
    for point in fused:
        assert point.explain["score"] == point.score
        for branch, entry in zip(branches, point.explain["prefetch"]):
            ids = [p.id for p in branch]
            if entry is None:
                assert point.id not in ids
            else:
                assert ids[entry["rank"]] == point.id
                assert entry["score"] == pytest.approx(branch[entry["rank"]].score, rel=1e-6)
        rrf = sum(1.0 / (2 + e["rank"]) for e in point.explain["prefetch"] if e is not None)
        assert point.score == pytest.approx(rrf, rel=1e-6)
    plain = run_query(one.collection("c").view(), QueryRequest(query=[0.0, 0.0, 0.0, 1.0], using="d", limit=2, explain=True))
    assert plain[0].explain == {"score": plain[0].score, "prefetch": []}


def test_order_by_repeats_multi_valued_points_and_reports_values() -> None:
    c = Client()
    c.create_collection("o", vectors_config={"size": 2, "distance": "Dot"})
    c.upsert("o", [{"id": 1, "vector": [1, 0], "payload": {"v": [5, 1]}}, {"id": 2, "vector": [0, 1], "payload": {"v": 3}},
                   {"id": 3, "vector": [1, 1], "payload": {"v": "2024-01-01T00:00:00Z"}}, {"id": 4, "vector": [1, 1]}])
    hits = c.query_points("o", query={"order_by": "v"}, limit=10).points
    assert [(p.id, p.order_value, p.score) for p in hits] == [(1, 1, 0.0), (2, 3, 0.0), (1, 5, 0.0),
                                                              (3, 1704067200000000, 0.0)]
    hits = c.query_points("o", query={"order_by": {"key": "v", "direction": "desc", "start_from": 4}}, limit=10).points
    assert [p.id for p in hits] == [2, 1]


def test_groups_drop_unsupported_values_and_fill_groups() -> None:
    c = Client()
    c.create_collection("p", vectors_config={"size": 1, "distance": "Dot"})
    values = [1, 1, 1, 1, 1, 1, 1, 2, "a", 2.5, True, None, [3, "a"], [1, 1.5]]
    c.upsert("p", [{"id": i, "vector": [float(100 - i)], "payload": {"k": v}} for i, v in enumerate(values)])
    groups = c.query_points_groups("p", "k", query=[1.0], limit=5, group_size=2, with_lookup="p").groups
    assert [(g.id, [h.id for h in g.hits]) for g in groups] == [(1, [0, 1]), (2, [7]), ("a", [8, 12]), (3, [12])]
    assert [g.lookup.id if g.lookup else None for g in groups] == [1, 2, None, 3]
    only_best = c.query_points_groups("p", "k", query=[1.0], limit=1, group_size=1).groups
    assert [(g.id, [h.id for h in g.hits]) for g in only_best] == [(1, [0])]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"query": {"fusion": "rrf"}}, "query"),
    ({"query": {"formula": "$score"}}, "query"),
    ({"query": {"frobnicate": 1}}, "query"),
    ({"prefetch": [{"query": [1, 0, 0, 0], "using": "d"}]}, "query"),
    ({"query": {"order_by": "x"}, "score_threshold": 0.5}, "score_threshold"),
    ({"prefetch": [{"query": [1, 0, 0, 0], "using": "d"}], "query": {"fusion": "rrf"}, "using": "d"}, "using"),
    ({"query": {"recommend": {"negative": [1]}}, "using": "d"}, "query.recommend.positive"),
    ({"query": {"recommend": {"positive": [1], "strategy": "best"}}, "using": "d"}, "query.recommend.strategy"),
    ({"query": {"nearest": [1, 2], "mmr": {}}, "using": "d"}, "query.nearest"),
    ({"query": {"context": [{"positive": 1}]}, "using": "d"}, "query.context[0]"),
    ({"query": {"order_by": {"key": "x", "direction": "up"}}}, "query.order_by.direction"),
    ({"query": {"sample": "first"}}, "query.sample"),
    ({"query": [1, 0, 0, 0], "using": "d", "lookup_from": {"collection": "elsewhere"}}, "lookup_from.collection"),
])
def test_invalid_requests_name_the_field(clients, kwargs, field) -> None:
    one, _ = clients
    with pytest.raises(ValidationError) as info:
        one.query_points("c", **kwargs)
    assert info.value.field.startswith(field) or info.value.message.startswith(field)


def test_formula_rejects_non_numeric_payload_and_depth_is_limited(clients) -> None:
    one, _ = clients
    prefetch = {"query": [1.0, 0, 0, 0], "using": "d", "limit": 5}
    with pytest.raises(ValidationError, match="single number under 'tags'"):
        one.query_points("c", prefetch=prefetch, query={"formula": {"sum": ["$score", "tags"]}})
    node: dict = prefetch
    for _ in range(9):
        node = {"prefetch": node, "query": {"fusion": "rrf"}}
    with pytest.raises(ValidationError, match="deeper than 8"):
        one.query_points("c", prefetch=node, query={"fusion": "rrf"})
    with pytest.raises(PointNotFound):
        one.query_points("c", query=10_000, using="d")


def test_bm25_reranks_only_the_prefetched_points() -> None:
    c = Client()
    c.create_collection("t", vectors_config={"size": 2, "distance": "Dot"})
    c.create_payload_index("t", "body", {"type": "text", "tokenizer": "word", "lowercase": True})
    docs = ["fox fox fox", "fox", "the fox runs", "no match here", "fox and dog"]
    c.upsert("t", [{"id": i, "vector": [1.0, float(i)], "payload": {"body": d}} for i, d in enumerate(docs)])
    bm25 = {"bm25": {"text": "fox", "field": "body"}}
    everywhere = [p.id for p in c.query_points("t", query=bm25).points]
    prefetch = {"query": [0.0, 1.0], "limit": 3}  # ids 4, 3, 2
    rescored = [p.id for p in c.query_points("t", prefetch=prefetch, query=bm25).points]
    assert rescored == [i for i in everywhere if i in (2, 3, 4)] and set(everywhere) > set(rescored)
