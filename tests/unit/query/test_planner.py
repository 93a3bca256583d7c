"""The planner is pure: it validates the whole request, touches no data and prints its plan."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import ValidationError
from hybrid.query import execute as execute_module
from hybrid.query.plan import plan
from hybrid.query.request import QueryGroupsRequest, QueryRequest

DENSE = [0.1, 0.2, 0.3, 0.4]


@pytest.fixture(scope="module")
def client():
    c = Client()
    c.create_collection("c", vectors_config={"d": {"size": 4, "distance": "Cosine"},
                                             "mv": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
                        sparse_vectors_config={"s": {"modifier": "idf"}})
    rng = np.random.default_rng(3)
    c.upsert("c", [{"id": i, "vector": {"d": rng.random(4).tolist(), "mv": rng.random((2, 2)).tolist(),
                                        "s": {"indices": [i % 5, 9], "values": [1.0, 0.5]}},
                    "payload": {"n": i, "text": f"word{i % 4} common"}} for i in range(40)])
    c.create_payload_index("c", "text", {"type": "text"})
    yield c
    c.close()


@pytest.fixture
def searches(monkeypatch):
    """Counts leaf searches (a spy around the real function)."""
    calls = []
    real = execute_module.run_leaf

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(execute_module, "run_leaf", spy)
    return calls


def test_plans_print_as_trees(client) -> None:
    view = client._view("c")
    hybrid_req = QueryRequest(
        prefetch=[{"query": DENSE, "using": "d", "limit": 20},
                  {"query": {"indices": [1, 9], "values": [1.0, 1.0]}, "using": "s", "limit": 30,
                   "filter": {"must": [{"key": "n", "range": {"gte": 3}}]}},
                  {"query": {"bm25": {"text": "word1", "field": "text"}}, "limit": 15}],
        query={"rrf": {"k": 30}}, limit=5, offset=1)
    assert str(plan(hybrid_req, view)) == "\n".join([
        "plan limit=6 offset=1",
        "└─ rrf(k=30) limit=6",
        "   ├─ leaf#0 nearest dense 'd' [4] limit=20",
        "   ├─ leaf#1 nearest sparse 's' nnz=2 idf limit=30 filtered",
        "   └─ leaf#2 bm25 'text' 'word1' limit=15",
    ])
    rerank = QueryRequest(prefetch=[{"prefetch": [{"query": DENSE, "using": "d"}, {"query": DENSE, "using": "d",
                                                                                  "params": {"hnsw_ef": 64}}],
                                     "query": {"fusion": "dbsf"}, "limit": 40}],
                          query=[[0.1, 0.2], [0.3, 0.4]], using="mv", limit=3, score_threshold=0.5)
    assert str(plan(rerank, view)) == "\n".join([
        "plan limit=3 offset=0",
        "└─ rescore 'mv' limit=3 threshold=0.5 needs=vector:mv",
        "   └─ dbsf limit=40",
        "      ├─ leaf#0 nearest dense 'd' [4] limit=10",
        "      └─ leaf#1 nearest dense 'd' [4] limit=10 params=hnsw_ef=64",
    ])
    mmr = QueryRequest(query={"nearest": DENSE, "mmr": {"diversity": 0.5, "candidates_limit": 25}}, using="d")
    assert str(plan(mmr, view)).splitlines()[1:] == [
        "└─ mmr 'd' diversity=0.5 limit=10 needs=vector:d",
        "   └─ leaf#0 nearest dense 'd' [4] limit=25",
    ]
    groups = QueryGroupsRequest(query={"order_by": "n"}, group_by="n", limit=2, group_size=2)
    assert str(plan(groups, view)) == "plan limit=16 offset=0 group_by='n' group_size=2\n└─ leaf#0 order_by 'n' asc limit=16"


def test_a_bad_third_prefetch_raises_before_any_search(client, searches) -> None:
    prefetch = [{"query": DENSE, "using": "d"}, {"query": DENSE, "using": "d"}, {"query": [1.0, 2.0], "using": "d"}]
    with pytest.raises(ValidationError) as err:
        client.query_points("c", prefetch=prefetch, query={"fusion": "rrf"})
    assert "prefetch[2].query" in str(err.value) and "expected dim: 4" in str(err.value)
    assert searches == []
    client.query_points("c", prefetch=prefetch[:2], query={"fusion": "rrf"})
    assert len(searches) == 2


@pytest.mark.parametrize("bad, where", [
    (dict(query=DENSE, using="nope"), "nope"),
    (dict(query={"indices": [1], "values": [1.0]}, using="d"), "query"),
    (dict(prefetch=[{"query": DENSE, "using": "d", "limit": -1}], query={"fusion": "rrf"}), "prefetch[0].limit"),
    (dict(prefetch=[{"query": DENSE, "using": "d"}], query={"rrf": {"weights": [1, 2]}}), "query"),
    (dict(prefetch=[{"query": DENSE, "using": "d"}, {"query": DENSE, "using": "d",
                                                     "filter": {"must": [{"key": "n", "range": {"gte": "x"}}]}}],
          query={"fusion": "rrf"}), "prefetch[1].filter"),
    (dict(query={"bm25": {"text": "a", "field": "missing"}}), "query.bm25.field"),
    (dict(query={"fusion": "rrf"}), "query"),
])
def test_every_part_is_validated_before_running(client, searches, bad, where) -> None:
    with pytest.raises(ValidationError) as err:
        plan(QueryRequest(**bad), client._view("c"))
    assert where in str(err.value)
    assert searches == []


def test_depth_is_limited_at_planning(client) -> None:
    node = {"query": DENSE, "using": "d"}
    for _ in range(10):
        node = {"prefetch": [node], "query": {"fusion": "rrf"}}
    with pytest.raises(ValidationError, match="deeper than 8"):
        plan(QueryRequest(**node), client._view("c"))


def test_planning_reads_nothing_and_changes_nothing(client, searches) -> None:
    view = client._view("c")
    before = [(seg.size, seg.live.copy()) for seg in view.segments]
    req = QueryRequest(prefetch=[{"query": 3, "using": "d"}, {"query": {"bm25": {"text": "word2", "field": "text"}}}],
                       query={"formula": {"sum": ["$score[0]", "n"]}}, limit=4)
    first, second = plan(req, view), plan(req, view)
    assert str(first) == str(second)
    assert all(seg.size == size and np.array_equal(seg.live, live) for (size, live), seg in zip(before, view.segments))
    assert searches == []
    assert "must_not" not in str(first)  # the example id is excluded through the leaf's parsed filter
    assert first.leaves[0].filter is not None


def test_explain_adds_the_printed_plan(client) -> None:
    req = dict(prefetch=[{"query": DENSE, "using": "d"}, {"query": {"indices": [1], "values": [1.0]}, "using": "s"}],
               query={"fusion": "rrf"}, limit=3)
    plain = client.query_points("c", **req)
    explained = client.query_points("c", **req, explain=True)
    assert plain.plan is None and "plan" not in plain.model_dump()
    assert explained.plan.startswith("plan limit=3") and "leaf#1 nearest sparse 's'" in explained.plan
    assert [p.id for p in plain.points] == [p.id for p in explained.points]
    assert all(len(p.explain["prefetch"]) == 2 for p in explained.points)
