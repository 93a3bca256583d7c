"""Growing a graph (a merge keeps the biggest source's graph) recalls like building it anew."""

from __future__ import annotations

import numpy as np

from indexes.dense.hnsw import HnswIndex, HnswParams


def _recall(index: HnswIndex, queries: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([np.intersect1d(index.search(q, 10, ef=64).offsets, t).size / 10
                          for q, t in zip(queries, truth)]))


def test_an_extended_graph_keeps_its_links_and_recalls_like_a_fresh_one() -> None:
    rng = np.random.default_rng(4)
    data = rng.normal(size=(3000, 16)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = rng.normal(size=(50, 16)).astype(np.float32)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    params = HnswParams(m=8, ef_construct=64)
    first = HnswIndex.build(data[:2000], "Cosine", params)
    grown = HnswIndex.build(data, "Cosine", params, extend=first)
    fresh = HnswIndex.build(data, "Cosine", params)
    assert grown.size == 3000 and grown.graph.links0[2000:, 0].min() >= 1  # new points are linked
    kept = first.graph.links0[:, 1:] >= 0
    assert np.isin(first.graph.links0[:, 1:][kept], np.arange(3000)).all()
    assert _recall(grown, queries, truth) >= _recall(fresh, queries, truth) - 0.03
    other = HnswIndex.build(data, "Cosine", HnswParams(m=12, ef_construct=64), extend=first)  # other params: rebuilt
    assert other.params.m == 12 and _recall(other, queries, truth) >= 0.9


def test_a_parallel_build_recalls_like_a_serial_one(monkeypatch) -> None:
    import indexes.dense.graph as graph

    monkeypatch.setattr(graph, "_SERIAL_FIRST", 500)  # most points go through the parallel batches
    rng = np.random.default_rng(6)
    data = rng.normal(size=(3000, 16)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = rng.normal(size=(50, 16)).astype(np.float32)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    params = HnswParams(m=8, ef_construct=64)
    serial = HnswIndex.build(data, "Cosine", params)
    parallel = HnswIndex.build(data, "Cosine", params, threads=3)
    degrees = parallel.graph.links0[:, 0]
    assert degrees.min() >= 1 and degrees.max() <= 2 * params.m
    assert _recall(parallel, queries, truth) >= _recall(serial, queries, truth) - 0.03
    grown = HnswIndex.build(data, "Cosine", params, extend=HnswIndex.build(data[:1000], "Cosine", params), threads=2)
    assert _recall(grown, queries, truth) >= _recall(serial, queries, truth) - 0.03
