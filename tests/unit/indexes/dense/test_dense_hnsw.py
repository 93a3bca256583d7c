"""HnswIndex: recall against the exact oracle, every distance, edge cases and validation."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.dense import HnswIndex, HnswParams
from indexes.plain import dense_search, normalize_rows

DIM = 32


def clustered(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    """Seeded Gaussian mixture (20 clusters; the centres depend on `seed` only)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim)).astype(np.float32) * 3
    draw = np.random.default_rng([seed, n])
    return (centres[draw.integers(0, 20, n)] + draw.standard_normal((n, dim))).astype(np.float32)


def recall(index: HnswIndex, vectors: np.ndarray, queries: np.ndarray, distance: str, k: int = 10,
           ef: int = 64) -> float:
    """Share of returned hits scoring at least the true k-th score (robust to exact ties)."""
    found = 0
    if distance == "Cosine":
        queries = normalize_rows(queries)
    for query in queries:
        truth = dense_search(vectors, query, distance, k)
        hits = index.search(query, k, ef=ef)
        found += np.count_nonzero(hits.scores >= truth.scores[-1] - 1e-5 * abs(truth.scores[-1]))
    return found / (k * len(queries))


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_recall_matches_exact_oracle_for_every_distance(distance):
    points = clustered(3040, seed=1)
    vectors, queries = points[:3000], points[3000:]
    if distance == "Cosine":
        vectors = normalize_rows(vectors)
    index = HnswIndex.build(vectors, distance, HnswParams(m=12, ef_construct=80))
    # inner product is not a metric: HNSW (Qdrant's too) needs a wider beam for it
    assert recall(index, vectors, queries, distance, ef=128 if distance == "Dot" else 64) >= 0.95


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_full_beam_is_exact_and_scores_match_the_oracle(distance):
    """With ef = n the beam covers the whole (connected) graph: the result is the exact top-k."""
    points = clustered(1501, seed=3)
    vectors, query = points[:1500], points[1500]
    if distance == "Cosine":
        vectors = normalize_rows(vectors)
    index = HnswIndex.build(vectors, distance, HnswParams(m=8, ef_construct=40))
    hits = index.search(query, 10, ef=1500)
    assert hits.offsets.dtype == np.int64 and hits.scores.dtype == np.float32
    assert np.all(np.diff(hits.scores) <= 0)
    expected = index.score(query, hits.offsets)
    np.testing.assert_allclose(hits.scores, expected, rtol=1e-5, atol=1e-4)
    oracle = dense_search(vectors, query / np.linalg.norm(query) if distance == "Cosine" else query,
                          distance, 10)
    np.testing.assert_allclose(hits.scores, oracle.scores, rtol=1e-4, atol=1e-3)


def test_duplicates_and_zero_vectors_keep_the_graph_navigable():
    base = clustered(600, seed=5)
    vectors = np.concatenate([base, np.repeat(base[:5], 60, axis=0), np.zeros((200, DIM), np.float32)])
    vectors = np.random.default_rng(6).permutation(vectors)
    index = HnswIndex.build(vectors, "Euclid", HnswParams(m=8, ef_construct=64))
    assert recall(index, vectors, clustered(30, seed=5), "Euclid") >= 0.95
    # the duplicate group is reachable and every copy comes back
    hits = index.search(base[0], 60, ef=200)
    assert np.count_nonzero(hits.scores == 0.0) >= 55
    zero_hits = index.search(np.zeros(DIM, np.float32), 5, ef=64)
    assert np.all(zero_hits.scores == 0.0)


def test_all_zero_vectors_with_cosine():
    vectors = normalize_rows(np.concatenate([clustered(300, seed=8), np.zeros((50, DIM), np.float32)]))
    index = HnswIndex.build(vectors, "Cosine", HnswParams(m=8, ef_construct=32))
    hits = index.search(clustered(1, seed=8)[0], 10)
    assert hits.offsets.size == 10 and np.all(np.isfinite(hits.scores))


@pytest.mark.parametrize("n", [0, 1, 2, 5, 15])
def test_tiny_indexes_return_every_point(n):
    vectors = clustered(max(n, 1), seed=10)[:n]
    index = HnswIndex.build(vectors, "Dot", HnswParams(m=16))
    hits = index.search(np.ones(DIM, np.float32), 20)
    assert sorted(hits.offsets.tolist()) == list(range(n))
    assert index.search_batch(np.ones((3, DIM), np.float32), 4)[2].offsets.size == min(n, 4)


def test_limit_zero_and_ef_below_limit():
    vectors = clustered(500, seed=11)
    index = HnswIndex.build(vectors, "Euclid", HnswParams(m=8))
    assert index.search(vectors[0], 0).offsets.size == 0
    hits = index.search(vectors[0], 50, ef=4)  # ef is raised to the limit
    assert hits.offsets.size == 50 and hits.offsets[0] == 0


def test_search_batch_equals_single_searches():
    vectors = clustered(2000, seed=12)
    queries = clustered(7, seed=13)
    index = HnswIndex.build(vectors, "Manhattan", HnswParams(m=8, ef_construct=48))
    batch = index.search_batch(queries, 5, ef=32)
    for query, hits in zip(queries, batch):
        single = index.search(query, 5, ef=32)
        np.testing.assert_array_equal(single.offsets, hits.offsets)
        np.testing.assert_array_equal(single.scores, hits.scores)


@pytest.mark.parametrize("per_query_filter", [False, True])
def test_a_batch_split_over_threads_equals_single_searches(monkeypatch, per_query_filter):
    """A big batch is split over the search threads (each part with its own buffers): every
    query's hits are still those of the query alone, with one allowed row each or shared."""
    from indexes.dense import hnsw

    monkeypatch.setattr(hnsw, "SEARCH_THREADS", 3)  # split even on a one-core machine
    vectors = clustered(3000, seed=14)
    queries = clustered(4 * hnsw.BATCH_PER_THREAD + 5, seed=15)
    rng = np.random.default_rng(16)
    allowed = rng.random((len(queries) if per_query_filter else 1, len(vectors))) < 0.5
    index = HnswIndex.build(vectors, "Cosine", HnswParams(m=8, ef_construct=48))
    spy, real = [], hnsw._search_pool
    monkeypatch.setattr(hnsw, "_search_pool", lambda: spy.append(1) or real())
    batch = index.search_batch(queries, 7, allowed=allowed, ef=40)
    assert spy  # the threaded path ran
    for q, (query, hits) in enumerate(zip(queries, batch)):
        single = index.search(query, 7, allowed=allowed[q % len(allowed)], ef=40)
        np.testing.assert_array_equal(single.offsets, hits.offsets)
        np.testing.assert_array_equal(single.scores, hits.scores)


def test_concurrent_searches_match_sequential_ones():
    """Kernels release the GIL; every thread must get its own scratch buffers."""
    from concurrent.futures import ThreadPoolExecutor

    vectors = clustered(3000, seed=18)
    queries = clustered(64, seed=18)
    index = HnswIndex.build(vectors, "Euclid", HnswParams(m=8, ef_construct=32))
    expected = [index.search(q, 10, ef=48).offsets for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda q: index.search(q, 10, ef=48).offsets, queries))
    for a, b in zip(expected, found):
        np.testing.assert_array_equal(a, b)
    assert index.nbytes == index.graph.nbytes > 0


def test_build_is_deterministic_for_a_seed():
    vectors = clustered(800, seed=14)
    a = HnswIndex.build(vectors, "Euclid", HnswParams(m=8, seed=3))
    b = HnswIndex.build(vectors, "Euclid", HnswParams(m=8, seed=3))
    np.testing.assert_array_equal(a.graph.links0, b.graph.links0)
    np.testing.assert_array_equal(a.graph.upper, b.graph.upper)


def test_level_zero_degree_is_bounded_by_two_m():
    vectors = clustered(2000, seed=15)
    index = HnswIndex.build(vectors, "Euclid", HnswParams(m=6, ef_construct=32))
    degrees = index.graph.links0[:, 0]
    assert degrees.max() <= 12 and degrees.min() >= 1
    assert index.graph.links0.shape == (2000, 13)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda i, v: i.search(v[:3], 5), ValueError),
        (lambda i, v: i.search(v[0][:5], 5), ValueError),
        (lambda i, v: i.search(v[0], -1), ValueError),
        (lambda i, v: i.search(v[0], 5, ef=0), ValueError),
        (lambda i, v: i.search(v[0], 5, allowed=np.ones(3, bool)), ValueError),
        (lambda i, v: i.search(v[0], 5, allowed=np.ones(len(v), np.int8)), TypeError),
        (lambda i, v: i.search(v[0], 5, oversampling=0), ValueError),
        (lambda i, v: i.score(v[0], np.array([len(v)])), ValueError),
        (lambda i, v: i.score(v[0], np.array([0.5])), TypeError),
    ],
)
def test_invalid_arguments_raise(call, error):
    vectors = clustered(100, seed=16)
    index = HnswIndex.build(vectors, "Dot", HnswParams(m=4))
    with pytest.raises(error):
        call(index, vectors)


def test_invalid_build_arguments_raise():
    vectors = clustered(10, seed=17)
    with pytest.raises(ValueError, match="distance"):
        HnswIndex.build(vectors, "L2", HnswParams())
    with pytest.raises(ValueError, match="m must"):
        HnswParams(m=1)
    with pytest.raises(ValueError, match="ef_construct"):
        HnswParams(ef_construct=0)
    with pytest.raises(TypeError, match="dtype"):
        HnswIndex.build(vectors.astype(np.float64), "Dot", HnswParams())
    with pytest.raises(ValueError, match="2-D"):
        HnswIndex.build(vectors[0], "Dot", HnswParams())
