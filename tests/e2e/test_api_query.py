"""The Query API, the legacy search/recommend/discover routes and facets through the server,
compared with the embedded Client answering the same requests."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client import models as qm

from hybrid import models as m

NAME = "q_main"
QUERY = [0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.7]
SPARSE = {"indices": [1, 5, 9], "values": [0.5, 1.0, 0.25]}
RED = {"must": [{"key": "tag", "match": {"value": "red"}}]}
FUSED = [{"query": QUERY, "using": "d", "limit": 20}, {"query": SPARSE, "using": "s", "limit": 20}]


def post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/collections/{NAME}/{path}", json=body, timeout=60)


def local_args(request: dict) -> dict:
    """A REST QueryRequest as Client.query_points keyword arguments (REST defaults: no payload)."""
    return {"query": request.get("query"), "using": request.get("using"), "prefetch": request.get("prefetch"),
            "query_filter": request.get("filter"), "search_params": request.get("params"),
            "limit": request.get("limit", 10), "offset": request.get("offset"),
            "with_payload": request.get("with_payload", False), "with_vectors": request.get("with_vector", False),
            "score_threshold": request.get("score_threshold")}


@pytest.mark.parametrize("request_", [
    {"query": QUERY, "using": "d", "limit": 5},
    {"query": QUERY, "using": "d", "limit": 4, "offset": 3, "with_payload": ["tag"], "with_vector": True},
    {"query": QUERY, "using": "d", "filter": RED, "score_threshold": 0.1},
    {"query": SPARSE, "using": "s", "limit": 6, "with_payload": True},
    {"query": 7, "using": "d", "limit": 3},
    {"query": {"nearest": QUERY}, "using": "d", "params": {"exact": True}},
    {"prefetch": FUSED, "query": {"fusion": "rrf"}, "limit": 8},
    {"prefetch": FUSED, "query": {"fusion": "dbsf"}, "limit": 8, "filter": RED},
    {"query": {"recommend": {"positive": [1, 2], "negative": [3]}}, "using": "d", "limit": 5},
    {"filter": RED, "limit": 5},
], ids=["dense", "paged", "filtered", "sparse", "by-id", "nearest-exact", "rrf", "dbsf", "recommend", "no-query"])
def test_query_matches_embedded(server, shared_twin, plain, request_):
    local = shared_twin(NAME)
    got = post(server, "points/query", request_)
    assert got.status_code == 200, got.text
    assert plain(got.json()["result"]) == plain(local.query_points(NAME, **local_args(request_)))


BATCH = [
    {"query": QUERY, "using": "d", "limit": 5},
    {"query": [v * 2 for v in QUERY], "using": "d", "limit": 5},
    {"query": QUERY, "using": "d", "limit": 4, "offset": 3, "with_payload": ["tag"], "with_vector": True},
    {"query": QUERY, "using": "d", "filter": RED, "score_threshold": 0.1},
    {"query": SPARSE, "using": "s", "limit": 6, "with_payload": True},
    {"prefetch": FUSED, "query": {"fusion": "rrf"}, "limit": 8},
]


def test_query_batch_matches_embedded_entries(server, shared_twin, plain):
    """A REST batch runs through query_batch_points (planned all first): each answer is its
    entry's embedded answer; a bad entry fails the whole batch as a client mistake."""
    local = shared_twin(NAME)
    got = post(server, "points/query/batch", {"searches": BATCH})
    assert got.status_code == 200, got.text
    want = [m.to_builtins(local.query_points(NAME, **local_args(r))) for r in BATCH]
    assert plain(got.json()["result"]) == plain(want)
    bad = post(server, "points/query/batch", {"searches": [BATCH[0], BATCH[1], {"query": QUERY[:3], "using": "d"}]})
    assert bad.status_code == 400, bad.text
    assert "dimension" in bad.text


def test_query_points_and_batch_with_qdrant_client(remote, shared_twin, plain):
    local = shared_twin(NAME)
    got = remote.query_points(NAME, query=QUERY, using="d", limit=5, with_payload=True)
    assert plain(got) == plain(local.query_points(NAME, query=QUERY, using="d", limit=5, with_payload=True))
    batch = [qm.QueryRequest(query=QUERY, using="d", limit=3),
             qm.QueryRequest(prefetch=[qm.Prefetch(**p) for p in FUSED], query=qm.FusionQuery(fusion=qm.Fusion.RRF))]
    want = [local.query_points(NAME, query=QUERY, using="d", limit=3, with_payload=False),
            local.query_points(NAME, prefetch=FUSED, query={"fusion": "rrf"}, with_payload=False)]
    assert plain(remote.query_batch_points(NAME, batch)) == plain(want)


def test_query_groups(remote, shared_twin, plain):
    local = shared_twin(NAME)
    got = remote.query_points_groups(NAME, group_by="group", query=QUERY, using="d", limit=3, group_size=2)
    want = local.query_points_groups(NAME, group_by="group", query=QUERY, using="d", limit=3, group_size=2)
    assert len(got.groups) == 3 and plain(got) == plain(want)


def test_legacy_search_routes_translate_to_query(server, shared_twin, plain):
    local = shared_twin(NAME)
    search = post(server, "points/search", {"vector": {"name": "d", "vector": QUERY}, "limit": 4, "filter": RED,
                                            "with_payload": True})
    want = local.query_points(NAME, query=QUERY, using="d", limit=4, query_filter=RED, with_payload=True).points
    assert search.status_code == 200 and plain(search.json()["result"]) == plain(want)
    sparse = post(server, "points/search", {"vector": {"name": "s", "vector": SPARSE}, "limit": 3})
    assert plain(sparse.json()["result"]) == plain(local.query_points(NAME, query=SPARSE, using="s", limit=3,
                                                                      with_payload=False).points)
    batch = post(server, "points/search/batch", {"searches": [{"vector": {"name": "d", "vector": QUERY}, "limit": 2},
                                                              {"vector": {"name": "s", "vector": SPARSE}, "limit": 2}]})
    assert [len(r) for r in batch.json()["result"]] == [2, 2]
    groups = post(server, "points/search/groups", {"vector": {"name": "d", "vector": QUERY}, "group_by": "tag",
                                                   "group_size": 2, "limit": 2})
    assert groups.status_code == 200 and len(groups.json()["result"]["groups"]) == 2


def test_legacy_recommend_and_discover(server, shared_twin, plain):
    local = shared_twin(NAME)
    rec = post(server, "points/recommend", {"positive": [1, 2], "negative": [3], "using": "d", "limit": 5})
    want = local.query_points(NAME, query={"recommend": {"positive": [1, 2], "negative": [3]}}, using="d", limit=5,
                              with_payload=False).points
    assert rec.status_code == 200, rec.text
    assert plain(rec.json()["result"]) == plain(want)
    batch = post(server, "points/recommend/batch", {"searches": [{"positive": [4], "using": "d", "limit": 2}]})
    assert batch.status_code == 200 and len(batch.json()["result"][0]) == 2
    context = [{"positive": 1, "negative": 2}]
    disc = post(server, "points/discover", {"target": 5, "context": context, "using": "d", "limit": 4})
    want = local.query_points(NAME, query={"discover": {"target": 5, "context": context}}, using="d", limit=4,
                              with_payload=False).points
    assert disc.status_code == 200, disc.text
    assert plain(disc.json()["result"]) == plain(want)
    groups = post(server, "points/recommend/groups", {"positive": [1], "using": "d", "group_by": "tag", "limit": 2})
    assert groups.status_code == 200 and len(groups.json()["result"]["groups"]) == 2


def test_facet(remote, shared_twin, plain):
    local = shared_twin(NAME)
    got = remote.facet(NAME, "tag", facet_filter=qm.Filter(must=[qm.FieldCondition(
        key="group", match=qm.MatchAny(any=[0, 1]))]), limit=2)
    want = local.facet(NAME, "tag", facet_filter={"must": [{"key": "group", "match": {"any": [0, 1]}}]}, limit=2)
    assert len(got.hits) == 2 and plain(got) == plain(want)


def test_explain_returns_the_plan_only_when_asked(server, shared_twin):
    shared_twin(NAME)
    plain_answer = post(server, "points/query", {"prefetch": FUSED, "query": {"fusion": "rrf"}, "limit": 3}).json()
    assert "plan" not in plain_answer["result"]
    explained = post(server, "points/query", {"prefetch": FUSED, "query": {"fusion": "rrf"}, "limit": 3,
                                              "explain": True}).json()["result"]
    assert explained["plan"].splitlines()[1] == "└─ rrf limit=3"
    assert [p["id"] for p in explained["points"]] == [p["id"] for p in plain_answer["result"]["points"]]
    assert all(len(p["explain"]["prefetch"]) == 2 for p in explained["points"])


@pytest.mark.parametrize("path,body", [
    ("points/query", {"query": QUERY, "using": "d", "limit": 3}),
    ("points/query/batch", {"searches": [{"query": QUERY, "using": "d", "limit": 3}]}),
    ("points/query/groups", {"query": QUERY, "using": "d", "group_by": "tag", "limit": 2}),
    ("points/count", {"filter": RED}),
    ("points/scroll", {"limit": 3}),
    ("points", {"ids": [1, 2]}),
    ("facet", {"key": "tag"}),
    ("points/search/matrix/pairs", {"sample": 5, "limit": 2, "using": "d"}),
])
def test_read_routes_take_consistency_and_timeout(server, shared_twin, path, body):
    """Qdrant's `?consistency=` (a number of replicas, majority, quorum, all) and `?timeout=`:
    one node answers the same with any valid value; anything else is a 400 naming it."""
    shared_twin(NAME)
    def call(params: str) -> httpx.Response:
        return httpx.post(f"{server.url}/collections/{NAME}/{path}?{params}", json=body, timeout=60)

    plain = call("")
    assert plain.status_code == 200, plain.text
    for params in ("consistency=2", "consistency=majority", "consistency=quorum&timeout=5", "consistency=all"):
        got = call(params)
        assert got.status_code == 200, (params, got.text)
        if "matrix" not in path:  # (a matrix samples at random)
            assert got.json()["result"] == plain.json()["result"], params
    for params in ("consistency=most", "consistency=0", "consistency=-1"):
        bad = call(params)
        assert bad.status_code in (400, 422) and "consistency" in bad.text, (params, bad.text)
    assert call("timeout=0").status_code in (400, 422)


def test_qdrant_client_read_consistency_reaches_the_server(remote, shared_twin, plain):
    """qdrant-client's `consistency` (a number or a type) and `timeout`, over REST and gRPC: the
    same answer on one node; a consistency the server refuses is a client mistake there too."""
    local = shared_twin(NAME)
    want = plain(local.query_points(NAME, query=QUERY, using="d", limit=4))
    for consistency in (2, qm.ReadConsistencyType.MAJORITY, qm.ReadConsistencyType.ALL):
        got = remote.query_points(NAME, query=QUERY, using="d", limit=4, consistency=consistency, timeout=10)
        assert plain(got) == want
        assert remote.retrieve(NAME, [1, 2], consistency=consistency)
        assert remote.scroll(NAME, limit=2, consistency=consistency)[0]
    with pytest.raises(Exception, match="consistency") as refused:
        remote.query_points(NAME, query=QUERY, using="d", consistency=0)
    assert "Internal" not in str(refused.value) and "500" not in str(refused.value)
