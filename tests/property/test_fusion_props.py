"""Properties every fusion function must keep, on arbitrary ranked lists."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.dbsf import dbsf
from fusion.explain import explain
from fusion.rrf import rrf
from fusion.weighted import linear

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

scores_strategy = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@st.composite
def ranked_list(draw, distinct_scores: bool = False):
    keys = draw(st.lists(st.integers(0, 60), unique=True, max_size=25))
    values = draw(st.lists(scores_strategy, min_size=len(keys), max_size=len(keys), unique=distinct_scores))
    scores = np.sort(np.asarray(values, dtype=np.float32))[::-1]
    return np.asarray(keys, dtype=np.int64), scores


ranked_lists = st.lists(ranked_list(), min_size=1, max_size=4)
FUSERS = {
    "rrf": lambda lists, limit=None: rrf(lists, limit=limit),
    "rrf_weighted": lambda lists, limit=None: rrf(lists, k=5, weights=[1.0 + i for i in range(len(lists))], limit=limit),
    "dbsf": lambda lists, limit=None: dbsf(lists, limit=limit),
    "minmax": lambda lists, limit=None: linear(lists, limit=limit),
    "zscore": lambda lists, limit=None: linear(lists, normalization="zscore", limit=limit),
}


def _ordered(keys: np.ndarray, scores: np.ndarray) -> bool:
    """Descending score, ties by ascending key."""
    return all(
        scores[i] > scores[i + 1] or (scores[i] == scores[i + 1] and keys[i] < keys[i + 1])
        for i in range(len(keys) - 1)
    )


@SETTINGS
@given(ranked_lists, st.one_of(st.none(), st.integers(0, 30)), st.sampled_from(sorted(FUSERS)))
def test_fusion_never_invents_candidates_and_respects_limit(lists, limit, name):
    keys, scores = FUSERS[name](lists, limit)
    union = set(np.concatenate([k for k, _ in lists]).tolist())
    assert set(keys.tolist()) <= union
    assert len(set(keys.tolist())) == len(keys)
    assert len(keys) == (len(union) if limit is None else min(limit, len(union)))
    assert keys.dtype == np.int64 and scores.dtype == np.float32
    assert _ordered(keys, scores)


@SETTINGS
@given(ranked_lists, st.sampled_from(sorted(FUSERS)))
def test_fusion_is_deterministic(lists, name):
    first = FUSERS[name](lists)
    copies = [(k.copy(), s.copy()) for k, s in lists]
    second = FUSERS[name](copies)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@SETTINGS
@given(ranked_lists, st.data())
def test_rrf_depends_only_on_ranks(lists, data):
    rescored = []
    for keys, _ in lists:
        values = data.draw(st.lists(scores_strategy, min_size=len(keys), max_size=len(keys)))
        rescored.append((keys, np.asarray(values, dtype=np.float32)))
    for kwargs in ({}, {"k": 60, "weights": [0.5 * (i + 1) for i in range(len(lists))]}):
        expected = rrf(lists, **kwargs)
        actual = rrf(rescored, **kwargs)
        np.testing.assert_array_equal(actual[0], expected[0])
        np.testing.assert_array_equal(actual[1], expected[1])


@SETTINGS
@given(ranked_list(distinct_scores=True))
def test_fusing_a_single_list_preserves_its_order(single):
    keys = single[0]
    np.testing.assert_array_equal(rrf([single])[0], keys)
    np.testing.assert_array_equal(rrf([single], k=60, weights=[2.0])[0], keys)
    # score-based fusions keep the order whenever the normalised scores stay distinct
    for fused_keys, fused_scores in (dbsf([single]), linear([single])):
        if len(np.unique(fused_scores)) == len(fused_scores):
            np.testing.assert_array_equal(fused_keys, keys)


@SETTINGS
@given(ranked_lists, st.data())
def test_dbsf_is_invariant_to_positive_affine_rescaling(lists, data):
    index = data.draw(st.integers(0, len(lists) - 1))
    scale = data.draw(st.floats(0.01, 100.0))
    shift = data.draw(st.floats(-100.0, 100.0))
    keys, scores = lists[index]
    changed = list(lists)
    changed[index] = (keys, scores.astype(np.float64) * scale + shift)
    expected_keys, expected_scores = dbsf(lists)
    actual_keys, actual_scores = dbsf(changed)
    expected = dict(zip(expected_keys.tolist(), expected_scores.tolist()))
    actual = dict(zip(actual_keys.tolist(), actual_scores.tolist()))
    assert expected.keys() == actual.keys()
    np.testing.assert_allclose([actual[k] for k in expected], list(expected.values()), rtol=1e-4, atol=1e-4)


@SETTINGS
@given(ranked_lists)
def test_explain_recovers_every_list(lists):
    keys, ranks, scores = explain(lists)
    for i, (list_keys, list_scores) in enumerate(lists):
        present = ranks[i] >= 0
        assert present.sum() == len(list_keys)
        order = np.argsort(ranks[i][present])
        np.testing.assert_array_equal(keys[present][order], list_keys)
        np.testing.assert_array_equal(scores[i][present][order], list_scores)
