import numpy as np
import pytest

from fusion.weighted import linear


def _reference(lists, weights, normalization):
    """Dict-based oracle: the docstring formula written out plainly."""
    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    fused: dict[int, float] = {}
    for (keys, scores), weight in zip(lists, weights):
        scores = np.asarray(scores, dtype=float)
        if normalization == "minmax":
            span = scores.max() - scores.min()
            norm = (scores - scores.min()) / span if span else np.full_like(scores, 0.5)
        else:
            std = scores.std(ddof=1) if len(scores) > 1 else 0.0
            norm = (scores - scores.mean()) / std if std else np.zeros_like(scores)
        for key, value in zip(keys, norm):
            fused[int(key)] = fused.get(int(key), 0.0) + weight * value
    return fused


@pytest.mark.parametrize("normalization", ["minmax", "zscore"])
@pytest.mark.parametrize("seed", range(5))
def test_linear_matches_reference(normalization, seed):
    rng = np.random.default_rng(seed)
    lists = []
    for scale in (1.0, 30.0):
        keys = rng.choice(30, size=12, replace=False)
        lists.append((keys, np.sort(rng.random(12) * scale)[::-1]))
    weights = [0.3, 1.2]
    keys, scores = linear(lists, weights, normalization)
    expected = _reference(lists, weights, normalization)
    assert set(keys.tolist()) == set(expected)
    np.testing.assert_allclose(scores, [expected[int(k)] for k in keys], rtol=1e-5, atol=1e-6)


def test_linear_convex_minmax_stays_in_unit_interval_and_missing_counts_zero():
    lists = [(np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0])), (np.array([3, 4]), np.array([9.0, 1.0]))]
    keys, scores = linear(lists, [1.0, 1.0])
    as_dict = dict(zip(keys.tolist(), scores.tolist()))
    assert as_dict == {1: 0.5, 2: 0.25, 3: 0.5, 4: 0.0}
    assert keys.tolist() == [1, 3, 2, 4]  # 1 and 3 tie -> lower key first


def test_linear_non_convex_weights_and_other_normalisations():
    lists = [(np.array([1, 2]), np.array([2.0, 1.0])), (np.array([2, 1]), np.array([5.0, 4.0]))]
    keys, scores = linear(lists, [1.0, -1.0], convex=False)
    assert keys.tolist() == [1, 2] and scores.tolist() == [1.0, -1.0]
    keys, scores = linear(lists, normalization="none")
    assert keys.tolist() == [1, 2] and scores.tolist() == [3.0, 3.0]  # equal weights 0.5 each; tie
    keys, scores = linear([(np.array([5]), np.array([7.0]))], normalization="dbsf")
    assert scores.tolist() == [0.5]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"weights": [1.0]}, ValueError, "linear.weights"),
        ({"weights": [1.0, -1.0]}, ValueError, r"linear.weights\[1\]"),
        ({"weights": [0.0, 0.0]}, ValueError, "positive sum"),
        ({"normalization": "l2"}, ValueError, "linear.normalization"),
    ],
)
def test_linear_validation(kwargs, error, match):
    lists = [(np.array([1]), np.array([1.0])), (np.array([2]), np.array([1.0]))]
    with pytest.raises(error, match=match):
        linear(lists, **kwargs)
