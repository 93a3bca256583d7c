import numpy as np
import pytest
from qdrant_client.http import models
from qdrant_client.local import distances as qd
from qdrant_client.local.local_collection import LocalCollection
from qdrant_client.local.sparse_distances import merge_positive_and_negative_avg, sparse_avg

from fusion.recommend import (
    average_sparse,
    average_vector,
    best_score,
    context_scores,
    discovery_scores,
    naive_feedback_scores,
    sum_scores,
)

DOT = models.Distance.DOT


def _data(seed: int, n_pos: int = 3, n_neg: int = 2):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(30, 6)).astype(np.float32)
    positives = rng.normal(size=(n_pos, 6)).astype(np.float32)
    negatives = rng.normal(size=(n_neg, 6)).astype(np.float32)
    return vectors, positives, negatives


def _sims(examples: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return (examples @ vectors.T).astype(np.float32)  # raw dot similarity, (n_examples, n)


@pytest.mark.parametrize("seed, n_pos, n_neg", [(0, 3, 2), (1, 1, 0), (2, 0, 2), (3, 4, 4)])
def test_best_score_matches_qdrant_client(seed, n_pos, n_neg):
    vectors, pos, neg = _data(seed, n_pos, n_neg)
    query = qd.RecoQuery(positive=pos.tolist(), negative=neg.tolist(), strategy=models.RecommendStrategy.BEST_SCORE)
    expected = qd.calculate_recommend_best_scores(query, vectors, DOT)
    ours = best_score(_sims(pos, vectors), _sims(neg, vectors))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    assert ours.dtype == np.float32


@pytest.mark.parametrize("seed, n_pos, n_neg", [(0, 3, 2), (1, 1, 0), (2, 0, 2)])
def test_sum_scores_matches_qdrant_client(seed, n_pos, n_neg):
    vectors, pos, neg = _data(seed, n_pos, n_neg)
    query = qd.RecoQuery(positive=pos.tolist(), negative=neg.tolist(), strategy=models.RecommendStrategy.SUM_SCORES)
    expected = qd.calculate_recommend_sum_scores(query, vectors, DOT)
    np.testing.assert_allclose(sum_scores(_sims(pos, vectors), _sims(neg, vectors)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed, n_pairs", [(0, 1), (1, 3), (2, 0)])
def test_discovery_and_context_match_qdrant_client(seed, n_pairs):
    vectors, pos, neg = _data(seed, n_pairs, n_pairs)
    target = np.random.default_rng(seed).normal(size=6).astype(np.float32)
    pairs = [qd.ContextPair(p.tolist(), n.tolist()) for p, n in zip(pos, neg)]
    pos_sims, neg_sims = _sims(pos, vectors), _sims(neg, vectors)
    expected = qd.calculate_discovery_scores(qd.DiscoveryQuery(target.tolist(), pairs), vectors, DOT)
    ours = discovery_scores(_sims(target[None], vectors)[0], pos_sims, neg_sims)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    if n_pairs:
        expected = qd.calculate_context_scores(qd.ContextQuery(pairs), vectors, DOT)
        np.testing.assert_allclose(context_scores(pos_sims, neg_sims), expected, rtol=1e-5, atol=1e-6)


def test_discovery_rank_dominates_and_context_best_is_zero():
    pos = np.array([[1.0, 0.0, 0.5]], dtype=np.float32)
    neg = np.array([[0.0, 1.0, 0.5]], dtype=np.float32)
    scores = discovery_scores(np.array([-5.0, 5.0, 0.0]), pos, neg)
    assert scores[0] > scores[2] > scores[1]  # +1, 0, -1 ranks beat any target similarity
    context = context_scores(pos, neg)
    assert context[0] == 0.0 and context[1] < context[2] < 0.0  # equal sims still pay epsilon


def test_naive_feedback_matches_qdrant_client():
    vectors, examples, _ = _data(7, 4, 0)
    target = np.random.default_rng(7).normal(size=6).astype(np.float32)
    feedback_scores = [0.9, 0.1, 0.5, 0.5]
    query = qd.NaiveFeedbackQuery(
        target=target.tolist(),
        feedback=[qd.FeedbackItem(v.tolist(), s) for v, s in zip(examples, feedback_scores)],
        coefficients=qd.NaiveFeedbackCoefficients(a=1.0, b=1.5, c=0.7),
    )
    expected = qd.calculate_naive_feedback_query(query, vectors, DOT)
    ours = naive_feedback_scores(_sims(target[None], vectors)[0], _sims(examples, vectors), feedback_scores, 1.0, 1.5, 0.7)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


def test_average_vector_matches_qdrant_client():
    _, pos, neg = _data(3)
    expected = LocalCollection._recommend_average_dense(pos.tolist(), neg.tolist())
    np.testing.assert_allclose(average_vector(pos, neg), expected, rtol=1e-6)
    np.testing.assert_allclose(average_vector(pos), pos.mean(axis=0), rtol=1e-6)


def test_average_sparse_matches_qdrant_client():
    rng = np.random.default_rng(4)

    def sparse():
        indices = np.sort(rng.choice(20, size=int(rng.integers(1, 8)), replace=False))
        return indices, rng.normal(size=indices.shape[0]).astype(np.float32)

    pos, neg = [sparse() for _ in range(3)], [sparse() for _ in range(2)]
    to_model = lambda v: models.SparseVector(indices=v[0].tolist(), values=v[1].tolist())  # noqa: E731
    expected = merge_positive_and_negative_avg(sparse_avg([to_model(v) for v in pos]), sparse_avg([to_model(v) for v in neg]))
    indices, values = average_sparse(pos, neg)
    assert indices.tolist() == expected.indices
    np.testing.assert_allclose(values, expected.values, rtol=1e-5, atol=1e-6)
    only_pos = sparse_avg([to_model(v) for v in pos])
    indices, values = average_sparse(pos)
    assert indices.tolist() == only_pos.indices
    np.testing.assert_allclose(values, only_pos.values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: best_score(np.empty((0, 3)), np.empty((0, 3))), "at least one"),
        (lambda: sum_scores(np.ones((1, 3)), np.ones((1, 4))), "different candidates"),
        (lambda: best_score(np.array([[np.nan]]), np.empty((0, 1))), "NaN"),
        (lambda: context_scores(np.ones((2, 3)), np.ones((1, 3))), "context"),
        (lambda: average_vector(np.empty((0, 3))), "positive"),
    ],
)
def test_recommend_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
