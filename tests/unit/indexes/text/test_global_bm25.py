"""BM25 with statistics summed over indexes (a sharded collection): exactly one index's points
and scores, even when the parts' average document lengths differ widely."""

import json

import numpy as np
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from indexes.text import TextIndex, TextIndexParams
from indexes.text import queries as q
from indexes.text.global_bm25 import FIELDNORMS, fieldnorm_ids

PARAMS = TextIndexParams.from_json({"tokenizer": "whitespace"})
WORDS = [f"w{i}" for i in range(40)]


def corpus(seed, n):
    """Documents whose lengths differ by part: every third long (30-300 tokens), others short."""
    rng = np.random.default_rng(seed)
    weights = np.r_[np.full(8, 6.0), np.ones(32)]
    long = np.arange(n) % 3 == 0
    lengths = np.where(long, rng.integers(30, 300, n), rng.integers(1, 10, n))
    texts = [" ".join(rng.choice(WORDS, int(k), p=weights / weights.sum())) for k in lengths]
    return texts, np.where(long, 0, 1 + np.arange(n) % 2)


def summed(parts, tokens):
    stats = [part.term_stats(tokens) for part in parts]
    return tuple(sum(s[i] for s in stats) for i in range(4))


def sharded_search(parts, text, limit, allowed=None):
    stats = summed(parts, parts[0].query_terms(text))
    found = [part.search(text, limit, allowed, ties=True, stats=stats) for part in parts]
    pids, scores = np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])
    order = np.lexsort((pids, -scores))
    return pids[order], scores[order]


def build(seed, n=900):
    texts, part_of = corpus(seed, n)
    one = TextIndex(PARAMS)
    one.upsert(np.arange(n), texts)
    parts = []
    for p in range(3):
        mine = np.flatnonzero(part_of == p)
        parts.append(TextIndex(PARAMS))
        parts[-1].upsert(mine, [texts[i] for i in mine])
    return one, parts


ONE, PARTS = build(0)


def test_summed_statistics_are_the_whole_index():
    tokens = ONE.query_terms("w1 w9 w30 nothere")
    docs, df, total, length_docs = ONE.term_stats(tokens)
    assert length_docs == docs
    assert summed(PARTS, tokens)[0] == docs and summed(PARTS, tokens)[2] == total
    assert np.array_equal(summed(PARTS, tokens)[1], df)
    # the parts really differ: the long part's average length is many times the others'
    averages = [p.term_stats(tokens)[2] / p.term_stats(tokens)[0] for p in PARTS]
    assert averages[0] > 10 * max(averages[1:])


@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS + ["absent"]), min_size=1, max_size=6),
       limit=st.integers(1, 50), filtered=st.sampled_from([None, 100, 700]), seed=st.integers(0, 99))
def test_points_and_scores_equal_one_index(words, limit, filtered, seed):
    text = " ".join(words)
    allowed = None if filtered is None else np.random.default_rng(seed).choice(900, filtered, replace=False)
    want_pids, want_scores = ONE.search(text, limit, allowed, ties=True)
    pids, scores = sharded_search(PARTS, text, limit, allowed)
    n = len(want_pids)
    assert np.array_equal(pids[:n], want_pids)
    assert np.array_equal(scores[:n], want_scores)  # bit for bit, float32
    assert len(pids) == n or scores[n] < want_scores[-1]  # the rest is below the cut


def test_many_candidates_are_rescored_from_whole_posting_lists():
    """Past RESCORE_PUSHDOWN_MAX_PIDS candidates a part reads each token's postings unfiltered."""
    one, parts = build(1, n=3000)
    for text in ("w1 w20 w33", "w0 w5"):
        want_pids, want_scores = one.search(text, 900, ties=True)
        pids, scores = sharded_search(parts, text, 900)
        assert np.array_equal(pids[: len(want_pids)], want_pids)
        assert np.array_equal(scores[: len(want_pids)], want_scores)


def test_without_statistics_scores_are_per_part():
    """The mutation check: each part's own statistics give other scores than one index."""
    want_pids, want_scores = ONE.search("w1 w20", 10, ties=True)
    found = [part.search("w1 w20", 10, ties=True) for part in PARTS]
    scores = np.sort(np.concatenate([f[1] for f in found]))[::-1][: len(want_scores)]
    assert not np.allclose(scores, want_scores)


def test_fieldnorm_table_is_tantivys():
    """The quantised length tantivy explains (dl) is FIELDNORMS[fieldnorm_ids(token count)]."""
    lengths = [1, 5, 23, 24, 25, 39, 40, 41, 43, 57, 100, 131, 500, 1000, 4097]
    index = TextIndex(PARAMS)
    index.upsert(np.arange(len(lengths)), ["w0 " * k for k in lengths])
    searcher = index.searcher()
    query = q.term(index._schema, "w0")
    for score, address in searcher.search(query, len(lengths)).hits:
        explained = json.loads(query.explain(searcher, address).to_json())["details"][2]["details"]
        dl = next(d["value"] for d in explained if d["description"].startswith("dl"))
        (length,) = searcher.fast_field_values(q.LEN, [address])
        assert dl == FIELDNORMS[fieldnorm_ids(length)]
        assert length == lengths[searcher.fast_field_values(q.PID, [address])[0]]
    assert isinstance(searcher, tantivy.Searcher)
