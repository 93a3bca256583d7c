"""Int8 quantization with rescoring, memmap originals, float16/uint8 storage, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexes.dense import HnswIndex, HnswParams, ScalarQuantization
from indexes.dense.quantization import Int8Codes
from indexes.plain import dense_search, normalize_rows

DIM = 32


def mixture(n: int, seed: int = 31) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM)).astype(np.float32) * 3
    return (centres[rng.integers(0, 20, n)] + rng.standard_normal((n, DIM))).astype(np.float32)


def overlap(index: HnswIndex, vectors: np.ndarray, queries: np.ndarray, distance: str, **kw) -> float:
    found = 0
    for query in queries:
        truth = dense_search(vectors, query, distance, 10).offsets
        found += np.intersect1d(index.search(query, 10, **kw).offsets, truth).size
    return found / (10 * len(queries))


@pytest.fixture(scope="module")
def cosine_data():
    points = normalize_rows(mixture(3040))
    return points[:3000], points[3000:]


@pytest.mark.parametrize("distance", ["Cosine", "Euclid", "Manhattan"])
def test_int8_walk_with_rescoring_keeps_recall(distance):
    points = mixture(3040, seed=32)
    if distance == "Cosine":
        points = normalize_rows(points)
    vectors, queries = points[:3000], points[3000:]
    index = HnswIndex.build(vectors, distance, HnswParams(m=12, ef_construct=64),
                            ScalarQuantization())
    assert index.codes.codes.dtype == np.int8
    assert overlap(index, vectors, queries, distance, ef=64, oversampling=2.0) >= 0.95


def test_rescored_scores_are_exact_and_unrescored_are_close(cosine_data):
    vectors, queries = cosine_data
    index = HnswIndex.build(vectors, "Cosine", HnswParams(m=12), ScalarQuantization())
    rescored = index.search(queries[0], 10, ef=64)
    np.testing.assert_allclose(rescored.scores, index.score(queries[0], rescored.offsets), rtol=1e-5)
    approx = index.search(queries[0], 10, ef=64, rescore=False)
    exact = index.score(queries[0], approx.offsets)
    assert np.abs(approx.scores - exact).max() < 0.02
    plain = index.search(queries[0], 10, ef=64, ignore_quantization=True)
    np.testing.assert_allclose(plain.scores, index.score(queries[0], plain.offsets), rtol=1e-5)


def test_quantile_clips_outliers():
    values = np.concatenate([np.linspace(-1, 1, 1000, dtype=np.float32), [50.0, -50.0]])
    vectors = np.resize(values, (334, 3)).astype(np.float32)
    clipped = Int8Codes.fit(vectors, ScalarQuantization(quantile=0.99))
    full = Int8Codes.fit(vectors, ScalarQuantization(quantile=None))
    assert clipped.step < full.step / 10
    assert clipped.codes.min() == -127 and clipped.codes.max() == 127
    with pytest.raises(ValueError, match="quantile"):
        ScalarQuantization(quantile=1.5)


def test_memmap_originals(tmp_path, cosine_data):
    vectors, queries = cosine_data
    np.save(tmp_path / "vectors.npy", vectors)
    on_disk = np.load(tmp_path / "vectors.npy", mmap_mode="r")
    index = HnswIndex.build(on_disk, "Cosine", HnswParams(m=12), ScalarQuantization())
    in_ram = HnswIndex.build(vectors, "Cosine", HnswParams(m=12), ScalarQuantization())
    for query in queries[:5]:
        a, b = index.search(query, 10, ef=32), in_ram.search(query, 10, ef=32)
        np.testing.assert_array_equal(a.offsets, b.offsets)
    assert overlap(index, vectors, queries, "Cosine", ef=64, oversampling=2.0) >= 0.95


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
def test_memmap_rows_are_read_from_the_file(tmp_path, dtype):
    """Exact scores over a memmap (and a row slice of one) come from pread at the right rows."""
    vectors = (np.abs(mixture(700, seed=35)) * 10).astype(dtype)
    np.save(tmp_path / "v.npy", vectors)
    for start in (0, 123):
        on_disk = np.load(tmp_path / "v.npy", mmap_mode="r")[start:]
        index = HnswIndex.build(on_disk, "Manhattan", HnswParams(m=8), ScalarQuantization())
        assert index._originals.fd >= 0
        offsets = np.array([0, 5, len(on_disk) - 1])
        expected = -np.abs(vectors[start:][offsets].astype(np.float32) - 1.0).sum(axis=1)
        np.testing.assert_allclose(index.score(np.ones(DIM, np.float32), offsets), expected, rtol=1e-5)
        hits = index.search(np.ones(DIM, np.float32), 5, ef=32)
        np.testing.assert_allclose(hits.scores, index.score(np.ones(DIM, np.float32), hits.offsets),
                                   rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float16, np.uint8])
def test_float16_and_uint8_storage(dtype):
    points = mixture(2040, seed=33)
    if dtype == np.uint8:
        points = np.clip(points * 12 + 128, 0, 255)
    vectors = points[:2000].astype(dtype)
    queries = points[2000:].astype(np.float32)
    index = HnswIndex.build(vectors, "Euclid", HnswParams(m=12, ef_construct=64))
    assert overlap(index, vectors.astype(np.float32), queries, "Euclid", ef=64) >= 0.95
    hits = index.search(queries[0], 5)
    expected = dense_search(vectors.astype(np.float32), queries[0], "Euclid", 5)
    np.testing.assert_allclose(hits.scores, expected.scores, rtol=1e-4)


@pytest.mark.parametrize("quantized", [False, True])
def test_save_load_round_trip(tmp_path, cosine_data, quantized):
    vectors, queries = cosine_data
    quantization = ScalarQuantization(0.99) if quantized else None
    index = HnswIndex.build(vectors, "Cosine", HnswParams(m=8, ef_construct=32, seed=5), quantization)
    index.save(tmp_path / "hnsw")
    assert not list((tmp_path / "hnsw").glob("*.tmp"))
    loaded = HnswIndex.load(tmp_path / "hnsw", vectors)
    assert loaded.params == index.params and loaded.distance == "Cosine"
    allowed = np.random.default_rng(34).random(len(vectors)) < 0.3
    for query in queries[:5]:
        for kwargs in ({}, {"allowed": allowed}):
            a, b = index.search(query, 10, ef=40, **kwargs), loaded.search(query, 10, ef=40, **kwargs)
            np.testing.assert_array_equal(a.offsets, b.offsets)
            np.testing.assert_array_equal(a.scores, b.scores)
    # saving again over an existing directory replaces it
    loaded.save(tmp_path / "hnsw")
    assert json.loads((tmp_path / "hnsw" / "meta.json").read_text())["size"] == len(vectors)


def test_load_rejects_other_vectors(tmp_path, cosine_data):
    vectors, _ = cosine_data
    HnswIndex.build(vectors, "Cosine", HnswParams(m=8)).save(tmp_path / "hnsw")
    with pytest.raises(ValueError, match="do not match"):
        HnswIndex.load(tmp_path / "hnsw", vectors[:10])
    with pytest.raises(ValueError, match="do not match"):
        HnswIndex.load(tmp_path / "hnsw", vectors.astype(np.float16))


def test_empty_index_round_trip(tmp_path):
    empty = np.zeros((0, DIM), dtype=np.float32)
    HnswIndex.build(empty, "Dot", HnswParams(), ScalarQuantization()).save(tmp_path / "hnsw")
    loaded = HnswIndex.load(tmp_path / "hnsw", empty)
    assert loaded.search(np.ones(DIM, np.float32), 3).offsets.size == 0
