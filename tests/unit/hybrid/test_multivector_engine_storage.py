"""Multivectors through hybrid.Client: sealed segments on disk (memmap, float16, int8 copy),
reopened with their MaxSim index; approximate vs exact search; write validation."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import ValidationError

DIM = 16
N = 1200


def _documents(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Token matrices (4-12 noisy copies of 3 of 40 topics) and the topics."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, DIM))
    docs = [topics[rng.choice(40, 3)][rng.integers(0, 3, size=rng.integers(4, 13))] for _ in range(N)]
    return [(d + 0.3 * rng.standard_normal(d.shape)).astype(np.float32) for d in docs], topics


def _queries(topics: np.ndarray, n: int = 8) -> list[list[list[float]]]:
    rng = np.random.default_rng(1)
    return [(topics[rng.integers(0, 40, size=5)] + 0.3 * rng.standard_normal((5, DIM))).tolist() for _ in range(n)]


def _create(client: Client, **vector_options) -> None:
    client.create_collection("c", vectors_config={"mv": {
        "size": DIM, "distance": "Dot", "multivector_config": {"comparator": "max_sim"},
        "hnsw_config": {"full_scan_threshold": 0}, **vector_options}},
        optimizers_config={"indexing_threshold": 300,  # 1 KB per multivector point: 300 points a segment
                           "default_segment_number": 100})  # kept apart (no merges)


def _fill(client: Client, docs: list[np.ndarray], batch: int = 400) -> None:
    for start in range(0, N, batch):
        client.upsert("c", [{"id": i, "vector": {"mv": docs[i]}, "payload": {"odd": i % 2}}
                            for i in range(start, start + batch)])
        client.collection("c").optimizer.wait()


def _results(client: Client, queries, **options) -> list[list[tuple[int, float]]]:
    return [[(p.id, round(p.score, 3)) for p in client.query_points("c", query=q, using="mv", limit=10, **options).points]
            for q in queries]


def test_on_disk_float16_int8_segments_reopen_with_their_index(tmp_path) -> None:
    docs, topics = _documents()
    queries = _queries(topics)
    client = Client(path=tmp_path / "data")
    _create(client, on_disk=True, datatype="float16", quantization_config={"scalar": {"type": "int8"}})
    _fill(client, docs)
    client.delete("c", list(range(0, N, 5)))
    client.upsert("c", [{"id": 3, "vector": {"mv": docs[7]}}])  # a sealed point rewritten
    for segment in client.collection("c").segments:  # sealed and checkpointed: served from the files
        store = segment.vectors["mv"]
        assert segment.appendable or (isinstance(store.flat[0], np.memmap)
                                      and isinstance(store.index.store.tokens, np.memmap))
    before = _results(client, queries)
    filtered = _results(client, queries, query_filter={"must": [{"key": "odd", "match": {"value": 1}}]})
    client.close()

    client = Client(path=tmp_path / "data")
    indexed = client.collection("c").optimizer.indexed  # (the appendable one reopens as a plain copy)
    sealed = [s.vectors["mv"] for s in client.collection("c").segments if s.name in indexed]
    assert len(sealed) >= 2
    for store in sealed:
        assert isinstance(store.flat[0], np.memmap) and store.flat[0].dtype == np.float16
        assert store.index is not None and store.index.centroids is not None and store.index.int8 is not None
    assert _results(client, queries) == before
    assert _results(client, queries, query_filter={"must": [{"key": "odd", "match": {"value": 1}}]}) == filtered
    assert all(pid % 2 == 1 for row in filtered for pid, _ in row)
    client.delete("c", [before[0][0][0]])  # deletes still work on memory-mapped segments
    assert before[0][0][0] not in [pid for pid, _ in _results(client, queries[:1])[0]]
    client.close()


def test_approximate_search_recalls_exact_and_exact_param_is_exact() -> None:
    docs, topics = _documents(seed=2)
    queries = _queries(topics, 10)
    client = Client()
    _create(client)
    _fill(client, docs, batch=N)  # one sealed segment of 1,200 documents
    assert [s.size for s in client.collection("c").segments if not s.appendable] == [N]
    approx = _results(client, queries)
    exact = _results(client, queries, search_params={"exact": True})
    wide = _results(client, queries, search_params={"hnsw_ef": N})
    assert wide == exact
    recall = np.mean([len({p for p, _ in a} & {p for p, _ in e}) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.9
    for q, row in zip(queries, exact):  # brute force over all documents in numpy: the oracle of `exact`
        scores = np.array([np.max(np.asarray(q, np.float32) @ d.T, axis=1).sum() for d in docs])
        np.testing.assert_allclose([s for _, s in row], np.sort(scores)[::-1][:10], atol=2e-3)


@pytest.mark.parametrize("matrix, message", [
    ([], "at least one vector|expected a list of vectors"),
    ([[1.0] * DIM, [1.0] * (DIM - 1)], "equal-length"),
    ([[1.0] * (DIM + 1)], "dimension"),
])
def test_bad_matrices_are_rejected_with_the_field(matrix, message: str) -> None:
    client = Client()
    _create(client)
    with pytest.raises(ValidationError, match=message) as error:
        client.upsert("c", [{"id": 1, "vector": {"mv": matrix}}])
    assert "mv" in str(error.value) or "points[0]" in str(error.value)
