"""A batch of plain dense queries takes, segment by segment, the same exact-vs-graph decision
as each query alone (`hybrid.query.allowed.use_graph`), so it returns the same points."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import ValidationError

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


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(6)
    with Client() as c:
        c.create_collection("c", vectors_config={"size": DIM, "distance": "Cosine"}, hnsw_config={"m": 4})
        c.upsert("c", [{"id": i, "vector": rng.normal(size=DIM).tolist(), "payload": {"k": i % 3}} for i in range(300)])
        c.collection("c").optimizer.optimize()
        yield c


def test_a_batch_of_several_shapes_equals_its_entries_alone(mixed) -> None:
    """Entries sharing the first one's shape are planned together (hybrid.query.batch); the
    others (another limit, a filter, payload, a point id as query) alone: each answer is the
    entry's single answer."""
    rng = np.random.default_rng(1)
    vec = lambda: rng.normal(size=DIM).astype(np.float32)  # noqa: E731
    entries = [{"query": vec(), "limit": 4}, {"query": vec().tolist(), "limit": 4}, {"query": vec(), "limit": 2},
               {"query": vec(), "limit": 4, "filter": {"must": [{"key": "k", "match": {"value": 1}}]}},
               {"query": 7, "limit": 4}, {"query": vec(), "limit": 4, "with_payload": True}, {"query": vec(), "limit": 4}]
    shared = [{"query": vec(), "limit": 4}, {"query": vec(), "limit": 4, "with_payload": True}]  # one walk
    for entry, answer in [*zip(entries, mixed.query_batch_points("c", entries)),
                          *zip(shared, mixed.query_batch_points("c", shared))]:
        single = mixed.query_points("c", **{("query_filter" if k == "filter" else k): v for k, v in entry.items()})
        assert [(p.id, p.payload) for p in answer.points] == [(p.id, p.payload) for p in single.points]
        np.testing.assert_allclose([p.score for p in answer.points], [p.score for p in single.points], rtol=1e-6)


@pytest.mark.parametrize("bad, message", [([1.0] * (DIM - 1), "dimension"), ([float("nan")] * DIM, "NaN")])
def test_a_bad_vector_in_a_batch_is_refused_as_alone(mixed, bad, message) -> None:
    good = np.ones(DIM, np.float32).tolist()
    with pytest.raises(ValidationError, match=message) as alone:
        mixed.query_points("c", query=bad)
    with pytest.raises(ValidationError, match=message) as batched:
        mixed.query_batch_points("c", [{"query": good}, {"query": good}, {"query": bad}])
    assert str(batched.value) == str(alone.value)


def test_one_segments_lists_are_ranked_as_alone(mixed) -> None:
    """`_ranked_lists` (one test for ties over the whole batch) equals ranking each list alone:
    strictly descending lists, ties inside and across lists, lists longer than the limit."""
    from hybrid.query.batch import _ranked_lists
    from hybrid.query.search import merge_hits
    from indexes.base import Hits

    seg = [s for s in mixed._view("c").segments if s.size][0]
    rng = np.random.default_rng(3)
    hits = []
    for size in (0, 1, 4, 4, 6, 4, 3):
        scores = -np.sort(-rng.integers(0, 3, size)).astype(np.float32) if size != 4 else -np.arange(4, dtype=np.float32)
        hits.append(Hits(rng.permutation(seg.size)[:size].astype(np.int64), scores))
    for got, h in zip(_ranked_lists(seg, hits, 4), hits):
        want = merge_hits([(seg, h)]).ranked(4)
        assert got.off.tolist() == want.off.tolist() and got.score.tolist() == want.score.tolist()
