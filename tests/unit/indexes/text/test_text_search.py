"""BM25 retrieval: same ranking as tantivy used directly, filters, ties, updates."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tantivy

from indexes.text import TextIndex, TextIndexParams
from indexes.text.analysis import text_analyzer

MSMARCO = Path("/work/shared/datasets/msmarco-5k")
PARAMS = TextIndexParams(stopwords="english", stemmer="english")


def load_msmarco():
    if not MSMARCO.exists():
        pytest.skip("msmarco-5k not available")
    corpus = [json.loads(line)["text"] for line in (MSMARCO / "corpus.jsonl").open()]
    queries = [json.loads(line)["text"] for line in (MSMARCO / "queries.jsonl").open()]
    return corpus, queries


def bare_tantivy(params, pids, texts):
    """tantivy used directly: the same analyzer registered on the field, queries parsed by
    tantivy's own query parser (punctuation blanked so it is not read as query syntax)."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", fast=True)
    builder.add_text_field("body", tokenizer_name="ours", index_option="freq")
    index = tantivy.Index(builder.build())
    index.register_tokenizer("ours", text_analyzer(params))
    writer = index.writer(heap_size=64_000_000, num_threads=1)
    for pid, text in zip(pids, texts):
        writer.add_document(tantivy.Document(id=int(pid), body=text))
    writer.commit()
    index.reload()

    def search(text, limit):
        query = index.parse_query(re.sub(r"[\W_]+", " ", text).lower(), ["body"])
        searcher = index.searcher()
        hits = searcher.search(query, limit).hits
        ids = searcher.fast_field_values("id", [address for _, address in hits])
        return np.array(ids, dtype=np.int64), np.array([score for score, _ in hits], dtype=np.float32)

    return search


def test_ranking_equals_tantivy_used_directly_on_msmarco():
    corpus, queries = load_msmarco()
    pids = np.random.default_rng(0).permutation(len(corpus)) * 3 + 11  # pids unrelated to order
    index = TextIndex(PARAMS)
    index.upsert(pids, corpus)
    bare = bare_tantivy(PARAMS, pids, corpus)
    for text in queries:
        got_pids, got_scores = index.search(text, 100)
        want_pids, want_scores = bare(text, 100)
        np.testing.assert_array_equal(got_scores, want_scores, err_msg=text)
        # Same scores; the documents may differ only within a tie at the cut (tantivy breaks
        # ties arbitrarily, we by pid).
        above = want_scores > (want_scores[-1] if len(want_scores) == 100 else -np.inf)
        assert set(got_pids[above]) == set(want_pids[above]), text
        assert np.all(np.diff(got_scores) <= 0)


def make_index(n_docs=3000, seed=3):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(40)]
    # Few distinct texts so that many documents tie exactly.
    texts = [" ".join(rng.choice(vocab, size=rng.integers(1, 6))) for _ in range(150)]
    pids = rng.choice(1_000_000, size=n_docs, replace=False)
    values = [texts[i] for i in rng.integers(0, len(texts), size=n_docs)]
    index = TextIndex(TextIndexParams())
    index.upsert(pids, values)
    return index, pids, rng


def oracle(index, text, limit, allowed):
    """Unfiltered exhaustive ranking, masked and cut in Python."""
    pids, scores = index.search(text, index.count())
    keep = np.isin(pids, allowed)
    pids, scores = pids[keep], scores[keep]
    order = np.lexsort((pids, -scores))[:limit]
    return pids[order], scores[order]


@pytest.mark.parametrize("n_allowed", [1, 40, 256, 257, 900, 3000])
def test_filtered_search_equals_masked_exhaustive_ranking(n_allowed):
    index, pids, rng = make_index()
    for text in ["w1 w2", "w3", "w5 w6 w7 w8", "w39 w0"]:
        allowed = rng.choice(pids, size=n_allowed, replace=False)
        allowed = np.concatenate([allowed, [-5, 10**12]])  # unknown pids are ignored
        for limit in (1, 10, 50):
            got = index.search(text, limit, allowed_pids=allowed)
            want = oracle(index, text, limit, allowed)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_ties_are_broken_by_ascending_pid_at_the_cut():
    index = TextIndex(TextIndexParams())
    pids = np.array([50, 7, 31, 3, 99, 12])
    index.upsert(pids, ["same words"] * 5 + ["same words words"])
    got_pids, got_scores = index.search("same", 3)
    assert got_pids.tolist() == [3, 7, 31]  # 12 is longer, so it scores lower
    assert len(set(got_scores.tolist())) == 1
    assert index.search("same", 10)[0].tolist() == [3, 7, 31, 50, 99, 12]
    assert index.search("same", 3, ties=True)[0].tolist() == [3, 7, 31, 50, 99]  # the cut's ties too
    assert index.search("same", 6, ties=True)[0].tolist() == [3, 7, 31, 50, 99, 12]
    assert got_pids.dtype == np.int64 and got_scores.dtype == np.float32


def test_a_tie_wider_than_the_first_fetch_is_still_cut_by_pid():
    from indexes.text.index import TIE_MARGIN

    index = TextIndex(TextIndexParams())
    pids = np.random.default_rng(2).permutation(np.arange(1000, 1000 + 4 * TIE_MARGIN))
    index.upsert(pids, ["same words"] * pids.size)
    index.upsert(np.array([5_000]), ["same same"])  # the one best hit
    assert index.search("same", 3)[0].tolist() == [5_000, 1000, 1001]
    tied = index.search("same", 3, ties=True)[0]
    assert tied[0] == 5_000 and sorted(tied[1:].tolist()) == sorted(pids.tolist())


def test_updates_and_deletes_leave_no_stale_hits():
    index = TextIndex(TextIndexParams())
    index.upsert(np.array([1, 2, 3]), ["apple pie", "apple tart", "banana"])
    assert sorted(index.search("apple", 10)[0].tolist()) == [1, 2]
    index.upsert(np.array([1, 1]), ["cherry", "banana split"])  # last value of a repeated pid wins
    index.delete(np.array([2, 42]))
    assert index.search("apple", 10)[0].tolist() == []
    assert sorted(index.search("banana", 10)[0].tolist()) == [1, 3]
    assert index.search("cherry", 10)[0].tolist() == []
    index.upsert(np.array([3]), [{"not": "text"}])
    assert index.search("banana", 10)[0].tolist() == [1]
    assert index.count() == 1


def test_bm25_parameters_outside_tantivys_are_refused():
    index, _, _ = make_index(100)
    assert len(index.search("w1", 5, k1=1.2, b=0.75)[0]) > 0
    with pytest.raises(ValueError, match="k1"):
        index.search("w1", 5, k1=0.9)
    with pytest.raises(ValueError, match="b"):
        index.search("w1", 5, b=0.5)
    with pytest.raises(ValueError, match="limit"):
        index.search("w1", -1)
    with pytest.raises(TypeError, match="allowed_pids"):
        index.search("w1", 5, allowed_pids=np.array([0.5]))


def test_queries_without_tokens_or_matches_return_nothing():
    index, _, _ = make_index(100)
    for text, limit in [("", 10), ("?!", 10), ("unknownword", 10), ("w1", 0)]:
        pids, scores = index.search(text, limit)
        assert pids.shape == (0,) and scores.shape == (0,)
    assert index.search("w1", 5, allowed_pids=np.array([], dtype=np.int64))[0].shape == (0,)


def test_writes_in_one_uncommitted_batch_apply_in_order():
    index = TextIndex(TextIndexParams())
    index.upsert(np.array([1, 2]), ["alpha", "beta"])
    index.upsert(np.array([1]), ["gamma"])
    index.delete(np.array([2]))
    index.upsert(np.array([2]), ["beta two"])
    assert index.match("text_any", "alpha beta gamma two").tolist() == [1, 2]
    assert index.search("alpha", 5)[0].tolist() == []
    assert index.match("text", "beta two").tolist() == [2]
