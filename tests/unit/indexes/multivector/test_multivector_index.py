"""MultiVectorIndex: exact search, approximate stages (recall vs exact), freshness, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.base import DISTANCES, VectorIndex, top_k
from indexes.multivector.index import MultiVectorConfig, MultiVectorIndex
from indexes.multivector.maxsim import maxsim_all, normalize_tokens, prepare_query
from indexes.multivector.store import MultiVectorStore

DIM = 32
N_DOCS = 1200
N_TOPICS = 96


def topic_collection(seed: int, distance: str = "Cosine", datatype: str = "float32") -> tuple[MultiVectorStore, np.random.Generator]:
    """Documents whose tokens are noisy copies of a few topic vectors (ColBERT-like structure);
    uint8 stores them raw, shifted and scaled into 0..255."""
    rng = np.random.default_rng(seed)
    topics = normalize_tokens(rng.standard_normal((N_TOPICS, DIM)))
    doc_topics = rng.integers(0, N_TOPICS, size=(N_DOCS, 4))
    lengths = rng.integers(4, 17, size=N_DOCS)
    owner = np.repeat(np.arange(N_DOCS), lengths)
    chosen = doc_topics[owner, rng.integers(0, 4, size=owner.size)]
    flat = topics[chosen] + 0.6 / np.sqrt(DIM) * rng.standard_normal((owner.size, DIM))
    if datatype == "uint8":
        flat = flat * 200 + 128
    elif distance == "Cosine":
        flat = normalize_tokens(flat)
    store = MultiVectorStore(DIM, datatype)
    store.extend(np.arange(N_DOCS), flat, lengths)
    return store, rng


def topic_query(rng: np.random.Generator, store: MultiVectorStore) -> np.ndarray:
    """Query tokens near those of one random document."""
    tokens = store.get(int(rng.integers(0, N_DOCS)))
    picked = tokens[rng.integers(0, tokens.shape[0], size=8)]
    return picked + 0.5 / np.sqrt(DIM) * rng.standard_normal(picked.shape)


def recall_at_10(index: MultiVectorIndex, store: MultiVectorStore, queries: list, distance: str) -> np.ndarray:
    recalls = []
    for query in queries:
        truth = set(top_k(maxsim_all(query, store, distance), 10).offsets.tolist())
        hits = index.search(query, 10)
        recalls.append(len(truth & set(hits.offsets.tolist())) / 10)
    return np.array(recalls)


@pytest.mark.parametrize("distance", DISTANCES)
def test_exact_search_is_top_k_of_all_scores_within_allowed(distance: str) -> None:
    store, rng = topic_collection(1, distance)
    store.remove(5)
    index = MultiVectorIndex(store, distance)
    query = topic_query(rng, store)
    allowed = rng.random(N_DOCS) < 0.3
    scores = maxsim_all(query, store, distance)
    for mask in (None, allowed):
        hits = index.search(query, 7, allowed=mask)
        expected = top_k(scores, 7, None if mask is None else mask & store.present)
        np.testing.assert_array_equal(hits.offsets, expected.offsets)
        np.testing.assert_allclose(hits.scores, expected.scores, rtol=1e-6)
    assert 5 not in index.search(query, N_DOCS).offsets
    assert index.search(query, 0).offsets.size == 0
    assert index.search(query, 5, allowed=np.zeros(N_DOCS, dtype=bool)).offsets.size == 0
    np.testing.assert_allclose(index.score(query, [3, 5]), [scores[3], -np.inf], rtol=1e-6)


@pytest.mark.parametrize(
    ("distance", "datatype", "config"),
    [
        ("Cosine", "float32", MultiVectorConfig(approximate="centroids", n_candidates=64)),
        ("Dot", "float32", MultiVectorConfig(approximate="centroids", n_candidates=64, quantization="int8")),
        ("Euclid", "float32", MultiVectorConfig(approximate="centroids", n_candidates=64)),
        ("Manhattan", "float32", MultiVectorConfig(approximate="centroids", n_candidates=64)),
        ("Cosine", "float32", MultiVectorConfig(quantization="int8", n_candidates=64)),
        ("Cosine", "uint8", MultiVectorConfig(approximate="centroids", n_candidates=64, quantization="int8")),
    ],
)
def test_approximate_recall_against_exact_with_failure_budget(distance: str, datatype: str,
                                                              config: MultiVectorConfig) -> None:
    store, rng = topic_collection(2, distance, datatype)
    index = MultiVectorIndex.build(store, distance, config)
    queries = [topic_query(rng, store) for _ in range(20)]
    recalls = recall_at_10(index, store, queries, distance)
    assert recalls.mean() >= 0.9, recalls
    assert np.count_nonzero(recalls < 0.7) <= 2, recalls  # failure budget: two poor queries
    hits = index.search(queries[0], 10)
    np.testing.assert_allclose(hits.scores, index.score(queries[0], hits.offsets), rtol=1e-6)  # exact scores


def test_centroid_probing_prunes_candidates() -> None:
    store, rng = topic_collection(3)
    index = MultiVectorIndex.build(store, "Cosine", MultiVectorConfig(approximate="centroids", n_probe=2))
    assert index.centroids is not None and index.centroids.centroids.shape[0] >= 16
    query = prepare_query(topic_query(rng, store), DIM, "Cosine")
    everything = np.ones(N_DOCS, dtype=bool)
    found = index.centroids.candidates(query, "Cosine", 2, everything, N_DOCS)
    assert 0 < found.size < N_DOCS  # probing two centroids per token does not reach everything
    assert index.centroids.candidates(query, "Cosine", 2, everything, 5).size == 5
    odd = np.arange(N_DOCS) % 2 == 1
    assert np.all(index.centroids.candidates(query, "Cosine", 2, odd, N_DOCS) % 2 == 1)


def test_writes_after_build_are_searched_exactly() -> None:
    store, rng = topic_collection(4)
    index = MultiVectorIndex.build(store, "Cosine", MultiVectorConfig(approximate="centroids", quantization="int8",
                                                                       n_candidates=32, n_probe=1))
    query = normalize_tokens(rng.standard_normal((6, DIM)))  # far from every topic
    store.append(N_DOCS + 3, query)  # new offset, beyond the built range
    assert index.search(query, 1).offsets.tolist() == [N_DOCS + 3]
    store.remove(N_DOCS + 3)
    store.append(17, query)  # update of a built offset
    assert index.search(query, 1).offsets.tolist() == [17]
    store.remove(17)
    assert 17 not in index.search(query, 50).offsets


@pytest.mark.parametrize("on_disk", [False, True])
def test_index_persistence_round_trip(tmp_path, on_disk: bool) -> None:
    store, rng = topic_collection(5)
    config = MultiVectorConfig(approximate="centroids", quantization="int8", n_candidates=48)
    index = MultiVectorIndex.build(store, "Cosine", config)
    store.save(tmp_path / "store")
    index.save(tmp_path / "index")
    loaded_store = MultiVectorStore.load(tmp_path / "store", on_disk=on_disk)
    loaded = MultiVectorIndex.load(tmp_path / "index", loaded_store)
    assert loaded.config == config and loaded.distance == "Cosine"
    for _ in range(5):
        query = topic_query(rng, store)
        before, after = index.search(query, 10), loaded.search(query, 10)
        np.testing.assert_array_equal(before.offsets, after.offsets)
        np.testing.assert_allclose(before.scores, after.scores, rtol=1e-6)


def test_empty_store_builds_and_searches() -> None:
    store = MultiVectorStore(DIM)
    index = MultiVectorIndex.build(store, "Dot", MultiVectorConfig(approximate="centroids", quantization="int8"))
    assert index.search(np.ones((2, DIM)), 3).offsets.size == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"approximate": "hnsw"}, "approximate"),
        ({"quantization": "binary"}, "quantization"),
        ({"n_probe": 0}, "n_probe"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"n_centroids": 0}, "n_centroids"),
        ({"oversampling": 0.5}, "oversampling"),
        ({"quantile": 0.2}, "quantile"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        MultiVectorConfig(**kwargs)


def test_search_argument_validation() -> None:
    store, _ = topic_collection(6)
    index = MultiVectorIndex(store, "Dot")
    with pytest.raises(TypeError, match="limit"):
        index.search(np.ones((1, DIM)), 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="allowed"):
        index.search(np.ones((1, DIM)), 2, allowed=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="distance"):
        MultiVectorIndex(store, "L2")
    assert isinstance(index, VectorIndex)
    assert MultiVectorConfig().centroid_count(1_000_000) == 1024
    assert MultiVectorConfig().centroid_count(10) == 16
