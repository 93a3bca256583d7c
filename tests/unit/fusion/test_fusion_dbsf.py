import numpy as np
import pytest
from qdrant_client.http import models
from qdrant_client.hybrid.fusion import distribution_based_score_fusion

from fusion.dbsf import dbsf


def _lists(seed: int, n_lists: int = 3, universe: int = 40, size: int = 15):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_lists):
        keys = rng.choice(universe, size=int(rng.integers(0, size + 1)), replace=False).astype(np.int64)
        scale = 10.0 ** (i - 1)  # lists on very different scales
        scores = (np.sort(rng.normal(size=keys.shape[0]))[::-1] * scale).astype(np.float32)
        out.append((keys, scores))
    return out


def _client(lists):
    responses = [
        [models.ScoredPoint(id=int(k), version=0, score=float(s)) for k, s in zip(keys, scores)]
        for keys, scores in lists
    ]
    return {p.id: p.score for p in distribution_based_score_fusion(responses, limit=10_000)}


@pytest.mark.parametrize("seed", range(12))
def test_dbsf_matches_qdrant_client(seed):
    lists = _lists(seed)
    keys, scores = dbsf(lists)
    expected = _client(lists)
    assert set(keys.tolist()) == set(expected)
    np.testing.assert_allclose(scores, [expected[int(key)] for key in keys], rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(scores) <= 0)


def test_dbsf_single_result_and_equal_scores_score_half():
    keys, scores = dbsf([(np.array([7]), np.array([3.0]))])
    assert keys.tolist() == [7] and scores.tolist() == [0.5]
    keys, scores = dbsf([(np.array([3, 1, 2]), np.full(3, 0.1))])
    assert keys.tolist() == [1, 2, 3] and scores.tolist() == [0.5, 0.5, 0.5]


def test_dbsf_formula_and_no_clipping():
    scores_in = np.array([100.0] + [0.0] * 19)  # the outlier lies beyond 3 sigma
    keys, scores = dbsf([(np.arange(20), scores_in)])
    mean, std = scores_in.mean(), scores_in.std(ddof=1)
    expected = (scores_in - (mean - 3 * std)) / (6 * std)
    assert scores[0] > 1.0  # Qdrant does not clip
    np.testing.assert_allclose(scores, expected[keys], rtol=1e-6)


def test_dbsf_empty_list_contributes_nothing_and_limit():
    lists = [(np.array([], dtype=np.int64), np.array([])), (np.array([4, 2]), np.array([2.0, 1.0]))]
    keys, scores = dbsf(lists)
    assert keys.tolist() == [4, 2]
    assert dbsf(lists, limit=1)[0].tolist() == [4]


def test_dbsf_rejects_non_finite_scores():
    with pytest.raises(ValueError, match="finite"):
        dbsf([(np.array([1, 2]), np.array([1.0, np.nan]))])
