"""The BEIR runner end to end on a tiny synthetic BEIR folder, with a hashing embedder."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from evals.__main__ import main
from evals.beir import load_beir
from evals.plans import builtin_plans, placeholders
from evals.runner import Embedders, SparseVocabulary, index_dataset, query_inputs, run_plan
from hybrid.embed import register_embedder
from indexes.sparse.bm25 import Bm25Encoder

DIM = 64
TOPICS = {
    "volcano": "lava magma eruption crater ash",
    "ocean": "waves tide salt coral reef",
    "violin": "strings bow orchestra concerto music",
    "bread": "flour yeast oven dough bake",
    "comet": "tail orbit ice sun nucleus",
    "chess": "king queen pawn rook checkmate",
}
FILLER = "the of and a in to with for on about".split()


class HashEmbedder:
    """Deterministic toy embedder: each word gets a seeded random unit vector; a text is the
    normalised sum of its words, its tokens the word vectors."""

    model_id = "test/hash"
    dim = DIM

    @staticmethod
    def _word(word: str) -> np.ndarray:
        vector = np.random.default_rng(zlib.crc32(word.encode())).standard_normal(DIM).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_tokens(self, texts):
        return [np.array([self._word(w) for w in re.findall(r"\w+", text.lower())], dtype=np.float32).reshape(-1, DIM) for text in texts]

    def embed_documents(self, texts):
        rows = [m.sum(axis=0) if len(m) else np.zeros(DIM, np.float32) for m in self.embed_tokens(texts)]
        matrix = np.array(rows, dtype=np.float32).reshape(-1, DIM)
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def write_beir(folder: Path) -> Path:
    """4 documents per topic (the first two relevant to the topic's query) and one empty doc."""
    rng = np.random.default_rng(0)
    corpus, qrels, queries = [], [], []
    for topic, words in TOPICS.items():
        for i in range(4):
            picked = rng.choice(words.split(), size=3 if i < 2 else 1, replace=False).tolist()
            text = " ".join([topic] * (i < 2) + picked + rng.choice(FILLER, size=4 + i).tolist())
            corpus.append({"_id": f"{topic}{i}", "title": topic.title() if i == 0 else "", "text": text})
            if i < 2:
                qrels.append(f"q_{topic}\t{topic}{i}\t{2 - i}")
        queries.append({"_id": f"q_{topic}", "text": f"{topic} {words.split()[0]}?"})
    corpus.append({"_id": "empty", "text": ""})
    queries.append({"_id": "q_unjudged", "text": "nothing"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(row) for row in corpus))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(row) for row in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels))
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return load_beir(write_beir(tmp_path_factory.mktemp("beir") / "toy"))


@pytest.fixture(scope="module")
def indexed(dataset):
    embedders = Embedders(HashEmbedder(), Bm25Encoder())
    return index_dataset(dataset, embedders, batch_size=7), embedders


@pytest.fixture(scope="module")
def embedder_name():
    register_embedder("test-hash", HashEmbedder, replace=True)
    return "test-hash"


def test_index_holds_every_document_with_the_corpus_average_length(dataset, indexed):
    collection, embedders = indexed
    assert collection.client.count(collection.name).count == len(dataset.corpus)
    assert collection.doc_ids == list(dataset.corpus)
    tokens = [len(embedders.sparse.tokenize(f"{d.title} {d.text}".strip())) for d in dataset.corpus.values()]
    assert embedders.sparse.avg_len == pytest.approx(np.mean(tokens))
    assert set(collection.timings_s) >= {"embed_dense", "embed_tokens", "embed_sparse", "upsert"}


@pytest.mark.parametrize("name", ["bm25", "sparse", "dense", "multivector", "rrf", "dbsf", "linear_0.5", "rrf_maxsim"])
def test_every_builtin_plan_ranks_the_topic_documents_first(dataset, indexed, name):
    collection, embedders = indexed
    plan = builtin_plans(depth=10)[name]
    query_ids = dataset.judged_query_ids()
    inputs = query_inputs(dataset, query_ids, embedders, placeholders(plan.request), collection.sparse_vocabulary)
    result = run_plan(collection, plan, inputs, limit=5, warmup=1)
    assert list(result.run) == query_ids and len(result.latencies_ms) == len(query_ids)
    for qid, scores in result.run.items():
        topic = qid[2:]
        assert 0 < len(scores) <= 5 and set(scores) <= set(dataset.corpus)
        best = max(scores, key=scores.__getitem__)
        assert best.startswith(topic), (name, qid, scores)


def test_run_plan_rejects_plans_over_vectors_the_collection_lacks(dataset):
    embedders = Embedders(HashEmbedder(), Bm25Encoder())
    collection = index_dataset(dataset, embedders, {"dense"})
    inputs = query_inputs(dataset, ["q_ocean"], embedders, {"$tokens"})
    with pytest.raises(ValueError, match="tokens"):
        run_plan(collection, builtin_plans()["multivector"], inputs)
    with pytest.raises(ValueError, match="limit"):
        run_plan(collection, builtin_plans()["bm25"], inputs, limit=0)
    with pytest.raises(ValueError, match="vectors"):
        index_dataset(dataset, embedders, {"colbert"})


def test_sparse_vocabulary_keeps_dot_products_and_drops_unseen_ids():
    rng = np.random.default_rng(1)
    docs = [np.unique(rng.integers(0, 2**31, size=20)) for _ in range(5)]
    vocabulary = SparseVocabulary(docs)
    assert len(vocabulary) == len(np.unique(np.concatenate(docs)))
    query = np.concatenate([docs[0][:3], docs[3][:2], [2**31 + 5]])
    encoded_query = vocabulary.encode(query, np.ones(query.size))
    assert encoded_query["indices"].size == 5 and encoded_query["indices"].dtype == np.uint32
    for doc in docs:
        values = rng.uniform(size=doc.size)
        encoded = vocabulary.encode(doc, values)
        original = values[np.isin(doc, query)].sum()
        assert values[np.isin(encoded["indices"], encoded_query["indices"])].sum() == pytest.approx(original)
    assert SparseVocabulary([]).encode(np.array([3]), np.array([1.0]))["indices"].size == 0


def test_cli_writes_results_report_and_plots(dataset, embedder_name, tmp_path, capsys):
    out = tmp_path / "results.json"
    status = main([
        "beir", "--dataset", str(write_beir(tmp_path / "toy")), "--embedder", embedder_name,
        "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--out-dir", str(tmp_path / "run"),
        "--plans", "bm25,sparse,dense,rrf,dbsf,rrf_maxsim", "--limit", "10", "--depth", "10",
        "--resamples", "50", "--compare", "rrf,bm25", "--no-progress",
    ])
    assert status == 0
    document = json.loads(out.read_text())
    assert document["dataset"] == "toy" and document["n_queries"] == len(TOPICS)
    assert list(document["plans"]) == ["bm25", "sparse", "dense", "rrf", "dbsf", "rrf_maxsim"]
    for row in document["plans"].values():
        assert {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p99_ms"} <= set(row)
        assert set(row["per_query"]["ndcg@10"]) == {f"q_{topic}" for topic in TOPICS}
    assert document["checks"]["bm25_vs_tantivy"]["passed"]
    assert document["comparison"]["a"] == "rrf" and "p_value" in document["comparison"]["metrics"]["ndcg@10"]
    assert document["best"]["single"] in {"bm25", "sparse", "dense"}
    written = {path.name for path in (tmp_path / "run").iterdir()}
    assert {"report.json", "report.txt", "toy_ndcg_10.png", "toy_recall_curves.png"} <= written
    printed = capsys.readouterr().out
    assert "rrf_maxsim" in printed and "bm25_vs_tantivy" in printed
    from hybrid.embed import EmbeddingCache

    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:  # documents, tokens and queries were cached
        assert len(cache) >= 2 * len(dataset.corpus)


def test_cli_tuning_and_plan_files(dataset, embedder_name, tmp_path):
    folder = write_beir(tmp_path / "toy")
    plan_file = tmp_path / "plans.json"
    plan_file.write_text(json.dumps({"name": "dense_doc", "request": {"query": "$dense", "using": "dense"}}))
    status = main([
        "beir", "--dataset", str(folder), "--embedder", embedder_name, "--no-cache", "--plans", "bm25",
        "--plan-file", str(plan_file), "--out-dir", str(tmp_path / "run"), "--tune", "--seed", "1",
        "--resamples", "20", "--no-plots", "--no-parity", "--no-progress", "--limit", "10", "--depth", "10",
    ])
    assert status == 0
    document = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(document["plans"]) == ["bm25", "dense_doc"]
    tuning = json.loads((tmp_path / "run" / "tuning.json").read_text())
    assert set(tuning["chosen"]) == {"rrf", "linear"} and set(tuning["baselines"]) == {"bm25", "dense_doc"}
    assert sorted(tuning["tune_ids"] + tuning["test_ids"]) == sorted(f"q_{topic}" for topic in TOPICS)
    assert document["tuning"]["chosen"] == tuning["chosen"]


def test_cli_reports_bad_arguments_with_exit_status_2(tmp_path, capsys):
    folder = write_beir(tmp_path / "toy")
    assert main(["beir", "--dataset", str(folder), "--plans", "nope", "--no-progress"]) == 2
    assert "unknown plan 'nope'" in capsys.readouterr().err
    assert main(["beir", "--dataset", str(tmp_path / "missing"), "--plans", "bm25"]) == 2
    assert main(["beir", "--dataset", str(folder), "--plans", "bm25,dense", "--compare", "bm25,rrf"]) == 2
    assert "'rrf' is not one of the evaluated plans" in capsys.readouterr().err
