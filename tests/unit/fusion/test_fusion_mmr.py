import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from fusion.mmr import mmr


def _client_mmr(vectors: np.ndarray, query: np.ndarray, limit: int, diversity: float, candidates: int):
    client = QdrantClient(":memory:")
    client.create_collection("c", vectors_config=models.VectorParams(size=vectors.shape[1], distance=models.Distance.COSINE))
    client.upsert("c", [models.PointStruct(id=i, vector=v.tolist()) for i, v in enumerate(vectors)])
    result = client.query_points(
        "c",
        query=models.NearestQuery(nearest=query.tolist(), mmr=models.Mmr(diversity=diversity, candidates_limit=candidates)),
        limit=limit,
    ).points
    client.close()
    return [p.id for p in result], [p.score for p in result]


@pytest.mark.parametrize("seed, diversity", [(0, 0.5), (1, 0.0), (2, 1.0), (3, 0.8), (4, 0.3)])
def test_mmr_matches_qdrant_client_local_mode(seed, diversity):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    limit, candidates = 8, 25
    expected_ids, expected_scores = _client_mmr(vectors, query, limit, diversity, candidates)

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = query / np.linalg.norm(query)
    similarity = unit @ q
    candidate_ids = np.argsort(-similarity, kind="stable")[:candidates]  # the nearest-neighbour prefetch
    cand = unit[candidate_ids]
    indexes, scores = mmr(cand @ q, cand @ cand.T, limit, diversity)
    assert candidate_ids[indexes].tolist() == expected_ids
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


def _reference(query, pairwise, limit, lam):
    """Qdrant's loop written out: IndexSet order, swap_remove, last maximum wins."""
    pending = list(range(len(query)))

    def last_max(values):
        return max(range(len(values)), key=lambda i: (values[i], i))

    selected = [pending[last_max([query[i] for i in pending])]]
    pending[pending.index(selected[0])] = pending[-1]
    pending.pop()
    while len(selected) < limit and pending:
        objective = [
            np.float32(lam) * query[c] - np.float32(1 - lam) * max(pairwise[c, s] for s in selected) for c in pending
        ]
        position = last_max(objective)
        selected.append(pending[position])
        pending[position] = pending[-1]
        pending.pop()
    return selected


@pytest.mark.parametrize("seed", range(4))
def test_mmr_tie_breaking_matches_qdrant_order(seed):
    rng = np.random.default_rng(seed)
    # coarse values force many exact ties in relevance and in the objective
    query = rng.integers(0, 3, 12).astype(np.float32) / 2
    pairwise = rng.integers(0, 3, (12, 12)).astype(np.float32) / 2
    pairwise = np.maximum(pairwise, pairwise.T)
    indexes, scores = mmr(query, pairwise, 9, diversity=0.5)
    assert indexes.tolist() == _reference(query, pairwise, 9, 0.5)
    np.testing.assert_array_equal(scores, query[indexes])


def test_mmr_edge_cases():
    assert mmr(np.array([0.3]), np.zeros((1, 1)), 5)[0].tolist() == [0]
    assert mmr(np.array([0.3, 0.2]), np.zeros((2, 2)), 0)[0].tolist() == []
    assert mmr(np.zeros(0), np.zeros((0, 0)), 3)[0].tolist() == []
    indexes, _ = mmr(np.array([0.1, 0.9, 0.5]), np.eye(3), 10, diversity=0.0)
    assert indexes.tolist() == [1, 2, 0]  # diversity 0 = plain relevance order


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(3), np.zeros((3, 2)), 2, 0.5), "pairwise"),
        ((np.zeros(3), np.zeros((3, 3)), -1, 0.5), "limit"),
        ((np.zeros(3), np.zeros((3, 3)), 2, 1.5), "diversity"),
    ],
)
def test_mmr_validation(args, match):
    with pytest.raises(ValueError, match=match):
        mmr(*args)
