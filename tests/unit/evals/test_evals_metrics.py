"""Metrics against pytrec_eval (trec_eval) on random runs with ties, plus hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from evals.metrics import MetricSpec, evaluate_run, rank_run, recall_curve

CUTOFFS = (1, 3, 5, 10, 20)
# our metric name -> pytrec_eval measure prefix (mrr is checked separately: trec_eval has no cutoff)
TREC_NAMES = {"ndcg": "ndcg_cut", "recall": "recall", "precision": "P", "map": "map_cut"}


def random_qrels_and_run(seed: int, n_queries: int = 30, n_docs: int = 60):
    """Graded qrels (0-3) and runs whose scores take few distinct values, so ties are common."""
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(n_docs)]
    qrels, run = {}, {}
    for q in range(n_queries):
        qid = f"q{q}"
        judged = rng.choice(n_docs, size=int(rng.integers(1, 15)), replace=False)
        qrels[qid] = {docs[d]: int(rng.integers(0, 4)) for d in judged}
        retrieved = rng.choice(n_docs, size=int(rng.integers(0, 40)), replace=False)
        run[qid] = {docs[d]: float(rng.integers(0, 5)) / 2 for d in retrieved}
    return qrels, run


def trec_values(qrels, run, measures):
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    return evaluator.evaluate(run)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cutoff_metrics_match_pytrec_eval(seed):
    qrels, run = random_qrels_and_run(seed)
    measures = {f"{trec}.{','.join(map(str, CUTOFFS))}" for trec in TREC_NAMES.values()}
    expected = trec_values(qrels, run, measures)
    specs = [f"{name}@{k}" for name in TREC_NAMES for k in CUTOFFS]
    scores = evaluate_run(qrels, run, specs)
    answered = [i for i, qid in enumerate(scores.query_ids) if qid in expected]
    assert len(answered) > 20
    for name, trec in TREC_NAMES.items():
        for k in CUTOFFS:
            ours = scores.per_query[f"{name}@{k}"]
            for i in answered:
                want = expected[scores.query_ids[i]][f"{trec}_{k}"]
                assert ours[i] == pytest.approx(want, abs=1e-6), (name, k, scores.query_ids[i])


@pytest.mark.parametrize("seed", [3, 4])
def test_full_depth_metrics_and_mrr_match_pytrec_eval(seed):
    qrels, run = random_qrels_and_run(seed)
    expected = trec_values(qrels, run, {"ndcg", "map", "recip_rank"})
    scores = evaluate_run(qrels, run, ["ndcg", "map", "mrr"])
    for i, qid in enumerate(scores.query_ids):
        if qid not in expected:
            continue
        assert scores.per_query["ndcg"][i] == pytest.approx(expected[qid]["ndcg"], abs=1e-6)
        assert scores.per_query["map"][i] == pytest.approx(expected[qid]["map"], abs=1e-6)
        assert scores.per_query["mrr"][i] == pytest.approx(expected[qid]["recip_rank"], abs=1e-6)


def test_mrr_at_k_equals_recip_rank_of_truncated_run():
    qrels, run = random_qrels_and_run(5)
    truncated = {qid: {doc: float(40 - r) for r, doc in enumerate(rank_run(docs)[:5])} for qid, docs in run.items()}
    expected = trec_values(qrels, truncated, {"recip_rank"})
    ours = evaluate_run(qrels, run, ["mrr@5"])
    for i, qid in enumerate(ours.query_ids):
        if qid in expected:
            assert ours.per_query["mrr@5"][i] == pytest.approx(expected[qid]["recip_rank"], abs=1e-6)


def test_ties_are_broken_by_doc_id_descending():
    assert rank_run({"a": 1.0, "a10": 1.0, "a9": 1.0, "b": 2.0, "c": 0.5}) == ["b", "a9", "a10", "a", "c"]


def test_hand_computed_values():
    qrels = {"q": {"a": 2, "b": 1, "z": 3}}
    run = {"q": {"a": 0.9, "x": 0.8, "b": 0.7}}
    scores = evaluate_run(qrels, run, ["ndcg@3", "recall@2", "precision@2", "mrr@10", "map@3"]).means()
    dcg = 2 + 0 + 1 / np.log2(4)
    idcg = 3 + 2 / np.log2(3) + 1 / np.log2(4)
    assert scores["ndcg@3"] == pytest.approx(dcg / idcg)
    assert scores["recall@2"] == pytest.approx(1 / 3)
    assert scores["precision@2"] == pytest.approx(1 / 2)
    assert scores["mrr@10"] == pytest.approx(1.0)
    assert scores["map@3"] == pytest.approx((1 + 2 / 3) / 3)


def test_unanswered_and_unjudged_queries_score_zero():
    qrels = {"answered": {"a": 1}, "missing": {"a": 1}, "nothing_relevant": {"a": 0}}
    run = {"answered": {"a": 1.0}, "nothing_relevant": {"a": 1.0}, "extra": {"a": 1.0}}
    scores = evaluate_run(qrels, run, ["ndcg@10", "recall@10"])
    assert scores.query_ids == ("answered", "missing", "nothing_relevant")
    assert scores.per_query["ndcg@10"].tolist() == [1.0, 0.0, 0.0]
    assert scores.means()["recall@10"] == pytest.approx(1 / 3)


def test_recall_curve_is_monotone_and_matches_single_values():
    qrels, run = random_qrels_and_run(6)
    ks = [1, 5, 10, 50]
    curve = recall_curve(qrels, run, ks)
    assert np.all(np.diff(curve) >= 0)
    assert curve[2] == pytest.approx(evaluate_run(qrels, run, ["recall@10"]).means()["recall@10"])


@pytest.mark.parametrize("bad", ["ndcg@0", "bleu@10", "ndcg@", "ndcg10"])
def test_bad_metric_spec_raises_value_error(bad):
    with pytest.raises(ValueError, match="metric"):
        MetricSpec.parse(bad)


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        evaluate_run({"q": {"a": 1}}, {"q": {"a": float("nan")}}, ["ndcg@10"])
