"""Property: the fast cases and the general plan give identical results.

- a plain dense query planned directly (`plan(fast=True)`, the one-leaf plan) and through the
  general parse (`fast=False`);
- the same queries as one batch (`execute_batch`: one graph walk per segment) and one by one;
- the one-leaf plan run as the distributed split (`execute_leaves` per shard, `gather`,
  `finish` over fetched points) with a single shard;
- a sparse query planned directly and through the general parse, alone and as a prefetch
  rescored by itself (leaf vs merge tree).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid import Client
from hybrid import models as m
from hybrid.ids import id_of_key
from hybrid.query.batch import execute_batch
from hybrid.query.execute import execute, execute_leaves, finish, gather, records_candidates
from hybrid.query.plan import plan
from hybrid.query.request import QueryRequest

DIM = 6


@pytest.fixture(scope="module")
def client():
    """Sealed HNSW segments (a rough graph, so the walk matters) plus an appendable one."""
    rng = np.random.default_rng(11)
    c = Client()
    c.create_collection("c", vectors_config={"d": {"size": DIM, "distance": "Cosine"}},
                        sparse_vectors_config={"s": {"modifier": "idf"}},
                        hnsw_config={"full_scan_threshold": 1, "m": 4, "ef_construct": 8},
                        optimizers_config={"indexing_threshold": 1, "default_segment_number": 2})
    points = [{"id": i, "vector": {"d": rng.normal(size=DIM).round(1).tolist(),
                                   "s": {"indices": sorted(rng.choice(9, 2, replace=False).tolist()),
                                         "values": rng.integers(1, 3, 2).astype(float).tolist()}},
               "payload": {"g": i % 4}} for i in range(400)]
    c.upsert("c", points[:300])
    c.collection("c").optimizer.optimize()
    c.upsert("c", points[300:])
    c.delete("c", list(range(0, 400, 13)))
    yield c
    c.close()


def _rows(resp):
    return [(p.id, round(p.score, 4)) for p in resp.points]


vectors = st.lists(st.integers(-3, 3), min_size=DIM, max_size=DIM).filter(any).map(lambda v: [x / 2 for x in v])
filters = st.sampled_from([None, {"must": [{"key": "g", "match": {"value": 1}}]},
                           {"must_not": [{"key": "g", "match": {"any": [0, 2]}}]}])
params = st.sampled_from([None, {"exact": True}, {"hnsw_ef": 4}])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries=st.lists(vectors, min_size=2, max_size=5), limit=st.integers(0, 12), flt=filters, search=params,
       offset=st.integers(0, 3))
def test_fast_cases_equal_the_general_plan(client, queries, limit, flt, search, offset) -> None:
    view = client._view("c")
    singles = []
    for q in queries:
        req = QueryRequest(query=q, using="d", limit=limit, offset=offset, filter=flt, params=search, with_payload=True)
        fast, general = plan(req, view), plan(req, view, fast=False)
        assert str(fast) == str(general)
        answer = execute(fast, view)
        assert _rows(answer) == _rows(execute(general, view))
        gathered = gather(fast, [execute_leaves(fast, view)])
        fetch = (lambda keys, needs: records_candidates(
            view.schema, client.retrieve("c", [id_of_key(k) for k in keys.tolist()], with_vectors=True)))
        assert _rows(finish(fast, gathered, fetch)) == _rows(answer)
        singles.append(answer)
    batch = execute_batch([plan(QueryRequest(query=q, using="d", limit=limit, params=search), view) for q in queries],
                          view)
    expected = [execute(plan(QueryRequest(query=q, using="d", limit=limit, params=search), view), view) for q in queries]
    assert [[p.id for p in r.points] for r in batch] == [[p.id for p in r.points] for r in expected]
    for got, want in zip(batch, expected):
        np.testing.assert_allclose([p.score for p in got.points], [p.score for p in want.points], rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dims=st.lists(st.integers(0, 8), min_size=1, max_size=3, unique=True), limit=st.integers(1, 15), flt=filters)
def test_a_sparse_leaf_equals_its_rescored_prefetch(client, dims, limit, flt) -> None:
    view = client._view("c")
    query = {"indices": dims, "values": [1.0] * len(dims)}
    single = QueryRequest(query=query, using="s", limit=limit, filter=flt)
    alone = execute(plan(single, view), view)
    general = plan(single, view, fast=False)
    assert str(general) == str(plan(single, view)) and _rows(execute(general, view)) == _rows(alone)
    model = QueryRequest(query=m.SparseVector(indices=dims, values=[1.0] * len(dims)), using="s", limit=limit, filter=flt)
    assert str(plan(model, view)) == str(general) and _rows(execute(plan(model, view), view)) == _rows(alone)
    tree = QueryRequest(prefetch=[{"query": query, "using": "s", "limit": limit, "filter": flt}], query=query,
                        using="s", limit=limit)
    assert _rows(execute(plan(tree, view), view)) == _rows(alone)
