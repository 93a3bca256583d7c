"""hybrid.storage.multivectors: the segment's MultiStore (datatypes, index choice, search paths)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hybrid import models as m
from hybrid.config import DenseSpec
from hybrid.storage.multivectors import MultiStore, index_config

DIM = 16


def _spec(distance: str = "Dot", datatype: str = "float32", hnsw: m.HnswConfig | None = None,
          quantization: m.ScalarQuantization | None = None, params=None) -> DenseSpec:
    return DenseSpec(name="mv", size=DIM, distance=distance, datatype=datatype, multivector=True,
                     hnsw=hnsw or m.HnswConfig(), quantization=quantization, params=params)


def _clustered(n_docs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat rows, lengths, topics): each document's 4-12 tokens are noisy copies of 3 topics."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, DIM)).astype(np.float32)
    lengths = rng.integers(4, 13, size=n_docs)
    owner_topics = rng.integers(0, 40, size=(n_docs, 3))
    owner = np.repeat(np.arange(n_docs), lengths)
    rows = topics[owner_topics[owner, rng.integers(0, 3, size=owner.size)]]
    return (rows + 0.3 * rng.standard_normal(rows.shape)).astype(np.float32), lengths, topics


def _sealed(spec: DenseSpec, n_docs: int = 1500) -> tuple[MultiStore, np.ndarray]:
    flat, lengths, topics = _clustered(n_docs)
    store = MultiStore(spec)
    store.reserve(n_docs)
    store.write(np.arange(n_docs), lengths, flat)
    store.build_index()
    return store, topics


def _query(topics: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (topics[rng.integers(0, 40, size=6)] + 0.3 * rng.standard_normal((6, DIM))).astype(np.float32)


def test_datatypes_store_rows_in_their_type() -> None:
    rows = np.array([[-3.0, 300.0, 2.7] + [1.0] * (DIM - 3)], dtype=np.float32)
    for datatype, expected in (("uint8", [0.0, 255.0, 2.0]), ("float16", [-3.0, 300.0, 2.69921875])):
        store = MultiStore(_spec("Cosine", datatype))
        store.reserve(1)
        store.write(np.array([0]), np.array([1]), rows)
        assert store.flat[0].dtype == np.dtype(datatype)
        if datatype == "uint8":  # raw (saturated, truncated); Cosine normalises when scoring
            assert store.get(0)[0][:3] == expected
        else:  # float rows are normalised on write
            np.testing.assert_allclose(np.linalg.norm(store.get(0)[0]), 1.0, rtol=1e-3)


def test_uint8_cosine_query_is_cast_like_the_rows() -> None:
    store = MultiStore(_spec("Cosine", "uint8"))
    store.reserve(2)
    store.write(np.array([0, 1]), np.array([1, 1]), np.array([[3.0] + [0.0] * (DIM - 1), [0.0, 4.0] + [0.0] * (DIM - 2)]))
    query = store.prepare_query(np.array([[2.9, -5.0] + [0.0] * (DIM - 2)]))
    np.testing.assert_allclose(query[0, :2], [1.0, 0.0])  # 2.9 -> 2, -5 -> 0, then normalised
    np.testing.assert_allclose(store.score(query, np.array([0, 1])), [1.0, 0.0], atol=1e-6)


def test_unknown_datatype_is_rejected() -> None:
    with pytest.raises(ValueError, match="datatype"):
        MultiStore(_spec(datatype="int4"))


def test_index_config_follows_hnsw_m_and_scalar_quantization() -> None:
    assert index_config(_spec()).approximate == "centroids"
    assert index_config(_spec(hnsw=m.HnswConfig(m=0))) is None
    scalar = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(quantile=0.95))
    config = index_config(_spec(hnsw=m.HnswConfig(m=0), quantization=scalar))
    assert (config.approximate, config.quantization, config.quantile) == (None, "int8", 0.95)


def test_index_config_extension_overrides_and_names_bad_fields() -> None:
    tuned = index_config(_spec(hnsw=m.HnswConfig(m=0), params=SimpleNamespace(
        multivector_index={"type": "centroids", "n_probe": 3, "n_candidates": 64})))
    assert (tuned.approximate, tuned.n_probe, tuned.n_candidates) == ("centroids", 3, 64)
    assert index_config(_spec(params=SimpleNamespace(multivector_index={"type": "exact"}))) is None
    for bad, field in (({"type": "graph"}, "multivector_index.type"), ({"n_prob": 2}, "multivector_index.n_prob"),
                       ({"n_probe": 0}, "multivector_index")):
        with pytest.raises(ValueError, match=f"vectors.mv.{field}"):
            index_config(_spec(params=SimpleNamespace(multivector_index=bad)))


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid"])
def test_index_search_recalls_exact_search(distance: str) -> None:
    store, topics = _sealed(_spec(distance, hnsw=m.HnswConfig(full_scan_threshold=0)))
    assert store.index is not None and store.index.centroids is not None
    refined: list[int] = []
    exact_stage = store.index._exact
    store.index._exact = lambda q, offsets, limit: refined.append(offsets.size) or exact_stage(q, offsets, limit)
    allowed = np.ones(1500, dtype=bool)
    found = []
    for seed in range(10):
        q = store.prepare_query(_query(topics, seed))
        exact = store.search(q, 10, allowed, 1500, exact=True)
        approx = store.search(q, 10, allowed, 1500)
        assert refined[-1] == 256  # the centroid stage kept n_candidates of 1,500 for exact MaxSim
        np.testing.assert_allclose(exact.scores, store.score(q, exact.offsets), rtol=1e-5)  # internal units
        np.testing.assert_allclose(approx.scores, store.score(q, approx.offsets), rtol=1e-4)
        found.append(np.intersect1d(exact.offsets, approx.offsets).size / 10)
        wide = store.search(q, 10, allowed, 1500, ef=1500)  # hnsw_ef: every document refined exactly
        np.testing.assert_array_equal(wide.offsets, exact.offsets)
    assert np.mean(found) >= 0.9


def test_small_segments_and_small_allowed_sets_are_scanned_exactly() -> None:
    store, topics = _sealed(_spec("Dot"))  # default threshold 10,000 KB > these tokens: no index
    assert store.index is None
    store, topics = _sealed(_spec("Dot", hnsw=m.HnswConfig(full_scan_threshold=20)))  # 20 KB ~ 40 documents
    assert store.index is not None
    store.index.search_prepared = None  # any use of the index would fail
    q = store.prepare_query(_query(topics, 1))
    allowed = np.zeros(1500, dtype=bool)
    allowed[:30] = True
    hits = store.search(q, 5, allowed, 1500)
    best = np.argsort(-store.score(q, np.arange(30)), kind="stable")[:5]
    np.testing.assert_array_equal(hits.offsets, best)


def test_int8_first_stage_rescored_exactly_and_ignorable() -> None:
    scalar = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig())
    store, topics = _sealed(_spec("Dot", hnsw=m.HnswConfig(m=0, full_scan_threshold=0), quantization=scalar))
    assert store.index.int8 is not None and store.index.centroids is None
    allowed = np.zeros(1500, dtype=bool)
    allowed[::2] = True  # filtered: only even offsets
    for seed in range(5):
        q = store.prepare_query(_query(topics, seed))
        exact = store.search(q, 10, allowed, 1500, exact=True)
        for hits in (store.search(q, 10, allowed, 1500, oversampling=3.0),
                     store.search(q, 10, allowed, 1500, ignore_quantization=True)):
            assert (hits.offsets % 2 == 0).all()
            np.testing.assert_allclose(hits.scores, store.score(q, hits.offsets), rtol=1e-5)
            assert np.intersect1d(hits.offsets, exact.offsets).size >= 8
