import numpy as np
import pytest
from qdrant_client.http import models
from qdrant_client.hybrid.fusion import reciprocal_rank_fusion

from fusion.rrf import rrf


def _lists(seed: int, n_lists: int = 3, universe: int = 40, size: int = 15):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_lists):
        keys = rng.choice(universe, size=int(rng.integers(0, size + 1)), replace=False).astype(np.int64)
        scores = np.sort(rng.random(keys.shape[0]).astype(np.float32))[::-1]
        out.append((keys, scores))
    return out


def _client(lists, **kwargs):
    responses = [
        [models.ScoredPoint(id=int(k), version=0, score=float(s)) for k, s in zip(keys, scores)]
        for keys, scores in lists
    ]
    fused = reciprocal_rank_fusion(responses, limit=10_000, **kwargs)
    return {p.id: p.score for p in fused}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 2, 60])
def test_rrf_matches_qdrant_client(seed, k):
    lists = _lists(seed)
    keys, scores = rrf(lists, k=k)
    expected = _client(lists, ranking_constant_k=k)
    assert set(keys.tolist()) == set(expected)
    np.testing.assert_allclose(scores, [expected[int(key)] for key in keys], rtol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_rrf_weights_match_qdrant_client(seed):
    lists = _lists(seed, n_lists=3)
    weights = [3.0, 0.5, 0.0] if seed % 2 else [1.0, 2.5, 0.25]
    keys, scores = rrf(lists, k=4, weights=weights)
    expected = _client(lists, ranking_constant_k=4, weights=weights)
    assert set(keys.tolist()) == set(expected)
    np.testing.assert_allclose(scores, [expected[int(key)] for key in keys], rtol=1e-6)


def test_rrf_reproduces_qdrant_core_scores_bit_for_bit():
    # values from qdrant's lib/segment/src/common/reciprocal_rank_fusion.rs unit test
    lists = [
        (np.array([2, 1]), np.array([0.9, 0.8])),
        (np.array([1, 2, 3]), np.array([0.7, 0.6, 0.5])),
        (np.array([5, 3, 1]), np.array([0.9, 0.5, 0.4])),
    ]
    keys, scores = rrf(lists)
    assert keys.tolist() == [1, 2, 3, 5]
    assert scores.tolist() == [np.float32(1.0833334), np.float32(0.8333334), np.float32(0.5833334), 0.5]
    assert scores.dtype == np.float32 and keys.dtype == np.int64


def test_rrf_weight_compresses_positions():
    lists = [(np.array([1, 2]), np.zeros(2)), (np.array([2, 1]), np.zeros(2))]
    keys, scores = rrf(lists)
    assert keys.tolist() == [1, 2] and scores[0] == scores[1]  # tie -> lower key first
    keys, _ = rrf(lists, weights=[3.0, 1.0])
    assert keys.tolist() == [2, 1]


def test_rrf_zero_weight_keeps_candidates_with_zero_score():
    keys, scores = rrf([(np.array([1]), np.ones(1)), (np.array([2]), np.ones(1))], weights=[1.0, 0.0])
    assert keys.tolist() == [1, 2] and scores.tolist() == [0.5, 0.0]


def test_rrf_ignores_scores_and_limits():
    lists = _lists(3)
    shuffled = [(keys, np.random.default_rng(0).random(keys.shape[0])) for keys, _ in lists]
    full = rrf(lists)
    np.testing.assert_array_equal(rrf(shuffled)[0], full[0])
    top = rrf(lists, limit=3)
    np.testing.assert_array_equal(top[0], full[0][:3])
    assert rrf(lists, limit=0)[0].shape == (0,)


def test_rrf_empty_inputs():
    assert rrf([])[0].shape == (0,)
    keys, scores = rrf([(np.array([], dtype=np.int64), np.array([], dtype=np.float32))])
    assert keys.shape == (0,) and scores.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k": 0}, ValueError, "rrf.k"),
        ({"k": 1.5}, TypeError, "rrf.k"),
        ({"weights": [1.0]}, ValueError, "rrf.weights"),
        ({"weights": [1.0, float("nan")]}, ValueError, r"rrf.weights\[1\]"),
        ({"limit": -1}, ValueError, "limit"),
    ],
)
def test_rrf_validation(kwargs, error, match):
    lists = [(np.array([1, 2]), np.zeros(2)), (np.array([2]), np.zeros(1))]
    with pytest.raises(error, match=match):
        rrf(lists, **kwargs)


def test_rrf_rejects_malformed_lists():
    with pytest.raises(ValueError, match=r"lists\[0\].*unique"):
        rrf([(np.array([1, 1]), np.zeros(2))])
    with pytest.raises(ValueError, match=r"lists\[0\]"):
        rrf([(np.array([1, 2]), np.zeros(3))])
    with pytest.raises(TypeError, match=r"lists\[1\]"):
        rrf([(np.array([1]), np.zeros(1)), np.array([1, 2, 3])])
