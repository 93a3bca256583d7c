import numpy as np
import pytest

from fusion.explain import explain
from fusion.rrf import rrf


def test_explain_union_in_key_order():
    lists = [(np.array([5, 2]), np.array([0.9, 0.1])), (np.array([2, 7, 1]), np.array([3.0, 2.0, 1.0]))]
    keys, ranks, scores = explain(lists)
    assert keys.tolist() == [1, 2, 5, 7]
    assert ranks.tolist() == [[-1, 1, 0, -1], [2, 0, -1, 1]]
    np.testing.assert_array_equal(scores[0], np.array([np.nan, 0.1, 0.9, np.nan], dtype=np.float32))
    np.testing.assert_array_equal(scores[1], np.array([1.0, 3.0, np.nan, 2.0], dtype=np.float32))


def test_explain_aligns_on_fused_keys():
    rng = np.random.default_rng(1)
    lists = [(rng.choice(50, 20, replace=False), np.sort(rng.random(20))[::-1]) for _ in range(3)]
    fused_keys, _ = rrf(lists, limit=10)
    keys, ranks, scores = explain(lists, fused_keys)
    np.testing.assert_array_equal(keys, fused_keys)
    for i, (list_keys, list_scores) in enumerate(lists):
        position = {int(k): r for r, k in enumerate(list_keys)}
        assert ranks[i].tolist() == [position.get(int(k), -1) for k in keys]
        present = ranks[i] >= 0
        np.testing.assert_allclose(scores[i][present], list_scores[ranks[i][present]].astype(np.float32))
        assert np.isnan(scores[i][~present]).all()


def test_explain_edge_cases():
    keys, ranks, scores = explain([])
    assert keys.shape == (0,) and ranks.shape == (0, 0)
    keys, ranks, scores = explain([(np.array([1]), np.array([1.0]))], np.array([9]))
    assert ranks.tolist() == [[-1]] and np.isnan(scores).all()
    with pytest.raises(ValueError, match="keys"):
        explain([(np.array([1]), np.array([1.0]))], np.array([1, 1]))
