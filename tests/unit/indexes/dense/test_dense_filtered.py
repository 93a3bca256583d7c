"""Filtered HNSW search: `allowed` at several selectivities, per-query filters, exact fallback."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from indexes.dense import HnswIndex, HnswParams
from indexes.dense import hnsw as hnsw_module
from indexes.plain import dense_search

DIM = 32
N = 4000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    centres = rng.standard_normal((25, DIM)).astype(np.float32) * 3
    labels = rng.integers(0, 25, N + 40)
    points = (centres[labels] + rng.standard_normal((N + 40, DIM))).astype(np.float32)
    vectors, queries = points[:N], points[N:]
    index = HnswIndex.build(vectors, "Euclid", HnswParams(m=12, ef_construct=64))
    return vectors, queries, index


def filtered_recall(index, vectors, queries, allowed, ef=64, k=10):
    found = expected = 0
    for query in queries:
        truth = dense_search(vectors, query, "Euclid", k, allowed).offsets
        hits = index.search(query, k, allowed=allowed, ef=ef)
        assert allowed[hits.offsets].all()
        found += np.intersect1d(hits.offsets, truth).size
        expected += truth.size
    return found / expected


@pytest.mark.parametrize("share", [0.5, 0.1, 0.01])
def test_random_filters_keep_recall(data, share):
    vectors, queries, index = data
    allowed = np.random.default_rng(22).random(N) < share
    assert filtered_recall(index, vectors, queries, allowed) >= 0.95


@pytest.mark.parametrize("share", [0.5, 0.2, 0.1, 0.05, 0.01])
def test_graph_walk_without_exact_fallback(data, share, monkeypatch):
    """The walk itself (route or two-hop) must keep recall, not only the exact scan."""
    vectors, queries, index = data
    monkeypatch.setattr(hnsw_module, "ROUTE_COST_PER_EF", 0.0)
    monkeypatch.setattr(hnsw_module, "TWO_HOP_COST_PER_EF", 0.0)
    allowed = np.random.default_rng(23).random(N) < share
    assert filtered_recall(index, vectors, queries, allowed) >= 0.9


def test_filter_correlated_with_clusters(data):
    """Allowed points are far from most queries: the walk must leave the query's cluster."""
    vectors, queries, index = data
    allowed = vectors[:, 0] > np.quantile(vectors[:, 0], 0.8)
    assert filtered_recall(index, vectors, queries, allowed) >= 0.9


def test_deleted_points_are_routed_through_but_never_returned(data):
    vectors, queries, index = data
    allowed = np.ones(N, dtype=bool)
    first = index.search(queries[0], 10, ef=64).offsets
    allowed[first] = False
    hits = index.search(queries[0], 10, allowed=allowed, ef=64)
    assert hits.offsets.size == 10 and not np.isin(hits.offsets, first).any()


def test_nothing_allowed_returns_empty_and_fewer_allowed_than_limit(data):
    vectors, queries, index = data
    assert index.search(queries[0], 5, allowed=np.zeros(N, dtype=bool)).offsets.size == 0
    allowed = np.zeros(N, dtype=bool)
    allowed[[3, 99, 2000]] = True
    assert sorted(index.search(queries[0], 10, allowed=allowed).offsets.tolist()) == [3, 99, 2000]


def test_per_query_allowed_rows(data):
    vectors, queries, index = data
    rng = np.random.default_rng(24)
    allowed = rng.random((3, N)) < np.array([[0.9], [0.2], [0.005]])
    batch = index.search_batch(queries[:3], 10, allowed=allowed, ef=64)
    for row, query, hits in zip(allowed, queries[:3], batch):
        assert row[hits.offsets].all()
        single = index.search(query, 10, allowed=row, ef=64)
        np.testing.assert_array_equal(single.offsets, hits.offsets)


def test_prefers_exact_for_few_allowed(data):
    _, _, index = data
    assert index.prefers_exact(10)
    assert not index.prefers_exact(N)
    assert index.prefers_exact(1000, ef=64) and not index.prefers_exact(1000, ef=8)


def test_strategy_follows_the_cost_model(data, monkeypatch):
    """Two-hop inside TWO_HOP_SHARE, routed walk elsewhere, exact scan for few allowed."""
    vectors, queries, index = data
    from indexes.dense import _kernels

    seen = []
    real = _kernels.search_batch
    signature = inspect.signature(real.py_func)

    def spy(*args):
        seen.append(signature.bind(*args).arguments["modes"].tolist())
        return real(*args)

    monkeypatch.setattr(_kernels, "search_batch", spy)
    rng = np.random.default_rng(25)
    for share in (1.0, 0.5, 0.25):
        index.search(queries[0], 10, allowed=rng.random(N) < share, ef=8)
    index.search(queries[0], 10, allowed=np.arange(N) < 20, ef=8)  # 20 allowed: exact scan
    assert seen == [[_kernels.MODE_ALL], [_kernels.MODE_ROUTE], [_kernels.MODE_TWO_HOP]]


def test_search_offsets_is_the_exact_top_k_with_ties(data):
    vectors, queries, index = data
    offsets = np.sort(np.random.default_rng(26).choice(N, 300, replace=False)).astype(np.int64)
    for query in queries[:5]:
        hits = index.search_offsets(query, 10, offsets)
        expected = dense_search(vectors[offsets], query, "Euclid", 10)
        np.testing.assert_array_equal(hits.offsets, offsets[expected.offsets])
        np.testing.assert_allclose(hits.scores, expected.scores, rtol=1e-5)
    assert index.search_offsets(queries[0], 10, offsets[:3]).offsets.size == 3
    assert index.search_offsets(queries[0], 10, offsets[:0]).offsets.size == 0
    assert index.search_offsets(queries[0], 0, offsets).offsets.size == 0


def test_search_offsets_returns_every_tie_at_the_cut():
    vectors = np.zeros((6, 4), dtype=np.float32)
    vectors[:, 0] = [1.0, 3.0, 2.0, 2.0, 2.0, 0.5]
    index = HnswIndex.build(vectors, "Dot", HnswParams(m=4, ef_construct=8))
    hits = index.search_offsets(np.array([1.0, 0, 0, 0], np.float32), 2, np.arange(6, dtype=np.int64))
    assert hits.offsets.tolist() == [1, 2, 3, 4]  # the 2nd best score is shared by 2, 3 and 4
    assert hits.scores.tolist() == [3.0, 2.0, 2.0, 2.0]


def test_search_offsets_of_a_prepared_query_skips_only_the_checks(data):
    vectors, queries, index = data
    offsets = np.arange(0, N, 7, dtype=np.int64)
    query = np.ascontiguousarray(queries[0], dtype=np.float32)
    checked = index.search_offsets(query, 10, offsets)
    trusted = index.search_offsets(query, 10, offsets, prepared=True)
    np.testing.assert_array_equal(checked.offsets, trusted.offsets)
    with pytest.raises(ValueError, match="dimension"):
        index.search_offsets(query[:-1], 10, offsets)
