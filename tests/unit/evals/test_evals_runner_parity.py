"""BM25 through our Query API equals plain tantivy; qdrant/bm25 sparse stays close (msmarco subset)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.beir import BeirDataset, load_beir
from evals.bm25_parity import tantivy_direct_run
from evals.metrics import evaluate_run
from evals.plans import builtin_plans
from evals.results import BM25_TOLERANCE, SPARSE_TOLERANCE
from evals.runner import Embedders, index_dataset, query_inputs, run_plan
from indexes.sparse.bm25 import Bm25Encoder

MSMARCO = Path(__file__).resolve().parents[3] / "datasets" / "msmarco-5k"
N_DOCS = 1500


@pytest.fixture(scope="module")
def subset() -> BeirDataset:
    """The first N_DOCS passages with the judgments that point into them."""
    full = load_beir(MSMARCO)
    corpus = dict(list(full.corpus.items())[:N_DOCS])
    qrels = {qid: {d: g for d, g in docs.items() if d in corpus} for qid, docs in full.qrels.items()}
    return BeirDataset("msmarco-subset", "test", corpus, full.queries, {q: d for q, d in qrels.items() if d})


def test_bm25_plan_matches_tantivy_and_sparse_is_close(subset):
    embedders = Embedders(dense=None, sparse=Bm25Encoder())
    collection = index_dataset(subset, embedders, {"sparse"})
    query_ids = subset.judged_query_ids()
    inputs = query_inputs(subset, query_ids, embedders, {"$text", "$sparse"}, collection.sparse_vocabulary)
    plans = builtin_plans()

    def ndcg(run) -> float:
        return evaluate_run(subset.qrels, run, ["ndcg@10"], query_ids=query_ids).means()["ndcg@10"]

    bm25 = run_plan(collection, plans["bm25"], inputs, warmup=0).run
    sparse = run_plan(collection, plans["sparse"], inputs, warmup=0).run
    direct = tantivy_direct_run(subset, query_ids)
    assert len(query_ids) > 30
    assert ndcg(bm25) == pytest.approx(ndcg(direct), abs=BM25_TOLERANCE)
    assert ndcg(sparse) == pytest.approx(ndcg(bm25), abs=SPARSE_TOLERANCE)
    # Same top document for nearly every query: the engine is not merely close on average.
    same_top = sum(max(bm25[q], key=bm25[q].get) == max(direct[q], key=direct[q].get) for q in query_ids)
    assert same_top >= len(query_ids) - 1
