"""maxsim / maxsim_all against a slow, obviously correct per-document oracle."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.base import DISTANCES
import indexes.multivector.maxsim as maxsim_module
from indexes.multivector.maxsim import maxsim, maxsim_all, normalize_tokens, prepare_query
from indexes.multivector.store import MultiVectorStore

DIM = 8


def oracle(query: np.ndarray, document: np.ndarray, distance: str, is_bytes: bool = False) -> float:
    """sum_i max_j sim(q_i, d_j), written one pair at a time; Euclid as -sqrt(sum of minima)."""
    q = query.astype(np.float64)
    d = document.astype(np.float64)
    if is_bytes:  # Qdrant casts the query to the storage type
        q = np.trunc(np.clip(q, 0, 255))
    if distance == "Cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        if is_bytes:  # float rows were normalised on upsert; uint8 rows are stored raw
            d = d / np.linalg.norm(d, axis=1, keepdims=True)
    total = 0.0
    for row in q:
        if distance in ("Cosine", "Dot"):
            total += max(float(row @ token) for token in d)
        elif distance == "Euclid":
            total += min(float(((row - token) ** 2).sum()) for token in d)
        else:
            total -= min(float(np.abs(row - token).sum()) for token in d)
    return -np.sqrt(total) if distance == "Euclid" else total


def random_store(rng: np.random.Generator, datatype: str, distance: str, n_docs: int = 40) -> tuple[MultiVectorStore, list]:
    store = MultiVectorStore(DIM, datatype)
    stored = []
    for offset in range(n_docs):
        m = rng.standard_normal((int(rng.integers(1, 12)), DIM)).astype(np.float32)
        if datatype == "uint8":  # stored raw even for Cosine (unit rows would truncate to 0)
            m = rng.integers(1, 256, size=m.shape).astype(np.float32)
        elif distance == "Cosine":
            m = normalize_tokens(m)
        store.append(offset, m)
        stored.append(store.get(offset))  # what the store really holds (float16/uint8 rounding)
    return store, stored


@pytest.mark.parametrize("datatype", ["float32", "float16", "uint8"])
@pytest.mark.parametrize("distance", DISTANCES)
def test_maxsim_matches_oracle(datatype: str, distance: str) -> None:
    rng = np.random.default_rng([DISTANCES.index(distance), len(datatype)])
    store, stored = random_store(rng, datatype, distance)
    if datatype == "uint8":
        query = rng.uniform(-20, 300, size=(5, DIM)).astype(np.float32)  # cast like storage: clipped
    else:
        query = rng.standard_normal((5, DIM)).astype(np.float32)
    offsets = rng.permutation(len(stored))[:25]
    expected = np.array([oracle(query, stored[o], distance, datatype == "uint8") for o in offsets])
    got = maxsim(query, store, offsets, distance)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-4 * np.abs(expected).max())
    everything = maxsim_all(query, store, distance)
    np.testing.assert_allclose(everything[offsets], got, rtol=1e-6)


@pytest.mark.parametrize("distance", DISTANCES)
def test_small_chunks_with_gathers_match_one_chunk(monkeypatch, distance: str) -> None:
    rng = np.random.default_rng(7)
    store, _ = random_store(rng, "float16", distance, n_docs=60)
    store.append(3, rng.standard_normal((30, DIM)))  # longer than a chunk, and leaves garbage
    store.remove(10)
    query = rng.standard_normal((4, DIM)).astype(np.float32)
    offsets = rng.permutation(60)  # not adjacent: chunks are gathered
    one_chunk = maxsim(query, store, offsets, distance)
    monkeypatch.setattr(maxsim_module, "CHUNK_TOKENS", 7)
    np.testing.assert_allclose(maxsim(query, store, offsets, distance), one_chunk, rtol=1e-5)
    np.testing.assert_allclose(maxsim_all(query, store, distance)[offsets], one_chunk, rtol=1e-5)  # slices


def test_read_only_memmap_tokens(tmp_path) -> None:
    rng = np.random.default_rng(9)
    store, stored = random_store(rng, "float32", "Euclid", n_docs=10)
    store.save(tmp_path)
    mapped = MultiVectorStore.load(tmp_path, on_disk=True)
    assert not mapped.tokens.flags.writeable
    query = rng.standard_normal((3, DIM))
    np.testing.assert_allclose(maxsim(query, mapped, np.arange(10), "Euclid"),
                               [oracle(query, d, "Euclid") for d in stored], rtol=1e-5)


def test_offsets_without_matrix_score_minus_infinity() -> None:
    rng = np.random.default_rng(8)
    store, stored = random_store(rng, "float32", "Dot", n_docs=5)
    store.remove(2)
    query = rng.standard_normal((2, DIM))
    scores = maxsim(query, store, [4, 2, 99, -1, 0], "Dot")
    assert np.isneginf(scores[[1, 2, 3]]).all()
    np.testing.assert_allclose(scores[[0, 4]], [oracle(query, stored[4], "Dot"), oracle(query, stored[0], "Dot")], rtol=1e-5)
    assert np.isneginf(maxsim_all(query, store, "Dot")[2])
    assert maxsim(query, store, np.zeros(0, dtype=np.int64), "Dot").shape == (0,)


def test_euclid_of_identical_document_is_zero_not_nan() -> None:
    store = MultiVectorStore(3)
    doc = np.array([[1e3, -2e3, 5e2], [0.1, 0.2, 0.3]], dtype=np.float32)
    store.append(0, doc)
    score = maxsim(doc, store, [0], "Euclid")
    assert np.isfinite(score).all() and score[0] <= 0 and score[0] > -1.0


def test_cosine_normalises_the_query_rows() -> None:
    store = MultiVectorStore(2)
    store.append(0, normalize_tokens([[3.0, 4.0]]))
    query = np.array([[30.0, 40.0], [0.0, 2.0]])
    np.testing.assert_allclose(maxsim(query, store, [0], "Cosine"), [1.0 + 0.8], rtol=1e-6)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (np.zeros((0, DIM)), "non-empty matrix"),
        (np.zeros(DIM), "non-empty matrix"),
        (np.zeros((2, DIM - 1)), "expected dim 8, got 7"),
        (np.full((1, DIM), np.inf), "finite"),
    ],
)
def test_query_validation(query: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prepare_query(query, DIM, "Dot")


def test_distance_and_offsets_validation() -> None:
    store = MultiVectorStore(DIM)
    store.append(0, np.ones((1, DIM)))
    with pytest.raises(ValueError, match="distance"):
        maxsim(np.ones((1, DIM)), store, [0], "cosine")
    with pytest.raises(TypeError, match="offsets"):
        maxsim(np.ones((1, DIM)), store, [0.5], "Dot")
