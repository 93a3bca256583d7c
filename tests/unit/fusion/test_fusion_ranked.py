import numpy as np
import pytest

from fusion.ranked import check_limit, order_by_score, stack


def test_order_by_score_ties_at_the_cut_go_to_lower_keys():
    keys = np.array([9, 4, 7, 1, 3])
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1])
    assert order_by_score(keys, scores, 3)[0].tolist() == [4, 1, 7]
    assert order_by_score(keys, scores)[0].tolist() == [4, 1, 7, 9, 3]
    assert order_by_score(keys, scores, 0)[0].tolist() == []


@pytest.mark.parametrize("seed", range(5))
def test_order_by_score_with_limit_is_a_prefix_of_the_full_order(seed):
    rng = np.random.default_rng(seed)
    keys = rng.permutation(200)
    scores = rng.integers(0, 20, 200).astype(np.float32)  # many ties
    full_keys, full_scores = order_by_score(keys, scores)
    for limit in (1, 7, 50, 199, 200, 500):
        top_keys, top_scores = order_by_score(keys, scores, limit)
        np.testing.assert_array_equal(top_keys, full_keys[:limit])
        np.testing.assert_array_equal(top_scores, full_scores[:limit])


def test_order_by_score_rounds_to_float32_before_breaking_ties():
    keys, scores = order_by_score(np.array([2, 1]), np.array([1.0 + 1e-12, 1.0]))
    assert keys.tolist() == [1, 2] and scores.dtype == np.float32


def test_stack_union_and_inverse():
    stacked = stack([(np.array([5, 2]), np.array([1.0, 0.0])), (np.array([2, 8]), np.array([3.0, 2.0]))])
    assert stacked.unique_keys.tolist() == [2, 5, 8]
    assert stacked.unique_keys[stacked.inverse].tolist() == [5, 2, 2, 8]
    assert stacked.ranks.tolist() == [0, 1, 0, 1] and stacked.list_index.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"lists\[1\]"):
        stack([(np.array([1]), np.zeros(1)), (np.array([3, 3]), np.zeros(2))])
    with pytest.raises(TypeError, match="lists"):
        stack("nope")  # type: ignore[arg-type]


def test_check_limit():
    assert check_limit(None) is None and check_limit(np.int64(3)) == 3
    with pytest.raises(TypeError, match="limit"):
        check_limit(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        check_limit(-2)
