"""Text filter kinds against a plain Python reference, and against Qdrant itself (qdrant-edge)."""

import numpy as np
import pytest

from indexes.text import TextIndex, TextIndexParams, tokenize
from indexes.text.analysis import analysis_for

WORDS = ["cat", "Cats", "dog", "the", "a", "running", "runs", "quick", "quicker", "brown",
         "fox", "Fox", "ação", "acao", "x", "zebra", "zebras"]
PARAMS = [
    TextIndexParams(phrase_matching=True),
    TextIndexParams(phrase_matching=True, stopwords="english", stemmer="english"),
    TextIndexParams(tokenizer="whitespace", lowercase=False, phrase_matching=True, ascii_folding=True),
    TextIndexParams(phrase_matching=True, min_token_len=2, max_token_len=4),
    TextIndexParams(tokenizer="prefix", min_token_len=2, phrase_matching=True),
]


def random_value(rng: np.random.Generator):
    def sentence():
        words = rng.choice(WORDS, size=rng.integers(0, 7))
        return "".join(w + rng.choice([" ", ", ", "-", "! "]) for w in words)

    kind = rng.integers(0, 10)
    if kind == 0:
        return None
    if kind == 1:
        return [sentence(), 7, sentence()]
    return sentence()


def strings(value):
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def reference(params, docs, kind, text):
    """Plain Python semantics over `tokenize` (the analysis itself is tested separately)."""
    prefix = params.tokenizer == "prefix"
    query = analysis_for(params).match_tokens(text) if kind != "prefix" else None
    hits = []
    for pid, value in docs.items():
        values = strings(value)
        if not values:
            continue
        per_value = [tokenize(params, v) for v in values]
        words = {t for tokens in per_value for t in tokens}

        def has(token, words=words):
            return any(w.startswith(token) for w in words) if prefix else token in words

        if kind == "prefix":
            ok = any(v[:64].startswith(text) for v in values)
        elif not query:
            ok = False
        elif kind == "text":
            ok = all(has(t) for t in query)
        elif kind == "text_any":
            ok = any(has(t) for t in query)
        else:
            ok = any(contains_phrase(tokens, query, prefix) for tokens in per_value)
        if ok:
            hits.append(pid)
    return np.array(sorted(hits), dtype=np.int64)


def contains_phrase(tokens, query, prefix):
    n = len(query)
    for start in range(len(tokens) - n + 1):
        window = tokens[start:start + n]
        if window[:-1] == query[:-1] and (
            window[-1].startswith(query[-1]) if prefix else window[-1] == query[-1]
        ):
            return True
    return False


@pytest.mark.parametrize("on_disk", [False, True], ids=["ram", "disk"])
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.tokenizer + str(hash(p) % 1000))
def test_match_kinds_equal_python_reference(params, on_disk, tmp_path):
    rng = np.random.default_rng(7)
    docs = {int(pid): random_value(rng) for pid in rng.choice(10_000, size=120, replace=False)}
    index = TextIndex(params, tmp_path / "idx" if on_disk else None)
    pids = np.array(list(docs), dtype=np.int64)
    index.upsert(pids[:60], [docs[p] for p in pids[:60]])
    index.upsert(pids[60:], [docs[p] for p in pids[60:]])
    # Rewrite a third of the points and delete a few: no stale hits may survive.
    for pid in pids[::3]:
        docs[int(pid)] = random_value(rng)
    index.upsert(pids[::3], [docs[int(p)] for p in pids[::3]])
    index.delete(pids[1::7])
    for pid in pids[1::7]:
        docs[int(pid)] = None
    queries = [" ".join(rng.choice(WORDS, size=rng.integers(1, 4))) for _ in range(25)]
    queries += ["the", "", "ca", "quick b", "Fox, the"]
    for text in queries:
        for kind in ("text", "text_any", "phrase", "prefix"):
            expected = reference(params, docs, kind, text)
            np.testing.assert_array_equal(index.match(kind, text), expected, err_msg=f"{kind} {text!r}")
    assert index.count() == sum(bool(strings(v)) for v in docs.values())
    index.close()


def test_phrase_needs_phrase_matching_and_kind_is_validated():
    index = TextIndex(TextIndexParams())
    with pytest.raises(ValueError, match="phrase_matching"):
        index.match("phrase", "a b")
    with pytest.raises(ValueError, match="kind"):
        index.match("substring", "a")
    with pytest.raises(ValueError, match="prefix"):
        index.match("prefix", "x" * 65)


CONGRUENCE_DOCS = {
    1: "The quick brown fox", 2: "quick foxes jumped", 3: ["brown dog", "lazy cat"], 4: "Hello world hello",
    5: "cat the dog", 6: 123, 7: "fox-hunting is banned", 8: "running runner runs", 9: "Ação café naïve",
    10: "a bb ccc dddd eeeee ffffff", 11: "dog dog cat", 12: "", 13: ["x", 5, "yy"],
}
CONGRUENCE_QUERIES = [
    ("text", "quick fox"), ("text", "qui"), ("text", "fox"), ("text", ""), ("text", "bb"), ("text", "ddddx"),
    ("text_any", "dog hello"), ("text_any", "bb eeeee"), ("phrase", "brown dog"), ("phrase", "dog lazy"),
    ("phrase", "cat dog"), ("phrase", "cat the the dog"), ("phrase", "quick brown"), ("phrase", "dog dog"),
    ("phrase", "dddd ffffff"), ("prefix", "The"), ("prefix", "the"), ("prefix", "lazy"), ("prefix", ""),
]
CONGRUENCE_PARAMS = [
    {"phrase_matching": True},
    {"phrase_matching": True, "stopwords": "english"},
    {"phrase_matching": True, "min_token_len": 3, "max_token_len": 5},
    {"phrase_matching": True, "tokenizer": "prefix", "min_token_len": 2},
    {"phrase_matching": True, "stemmer": {"type": "snowball", "language": "english"}},
]


@pytest.mark.parametrize("params_json", CONGRUENCE_PARAMS, ids=str)
def test_congruent_with_qdrant_edge(params_json, tmp_path):
    """The same documents and conditions through Qdrant's own engine give the same points.
    (Stop words differ in general: only words both lists share are used here.)"""
    qe = pytest.importorskip("qdrant_edge")
    shard = qe.EdgeShard.create(str(tmp_path / "edge"), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=1, distance=qe.Distance.Dot)))
    stemmer = params_json.get("stemmer")
    shard.update(qe.UpdateOperation.create_field_index("t", qe.TextIndexParams(
        tokenizer=getattr(qe.TokenizerType, params_json.get("tokenizer", "word").capitalize()),
        phrase_matching=True, min_token_len=params_json.get("min_token_len"),
        max_token_len=params_json.get("max_token_len"),
        stopwords=qe.Language.English if "stopwords" in params_json else None,
        stemmer=qe.SnowballParams(language=qe.SnowballLanguage.English) if stemmer else None,
    )))
    shard.update(qe.UpdateOperation.upsert_points(
        [qe.Point(pid, [1.0], {"t": value}) for pid, value in CONGRUENCE_DOCS.items()]))
    index = TextIndex(TextIndexParams.from_json(params_json))
    index.upsert(np.array(list(CONGRUENCE_DOCS)), list(CONGRUENCE_DOCS.values()))
    match_types = {"text": qe.MatchText, "text_any": qe.MatchTextAny, "phrase": qe.MatchPhrase,
                   "prefix": qe.MatchPrefix}
    for kind, text in CONGRUENCE_QUERIES:
        condition = qe.FieldCondition(key="t", match=match_types[kind](text))
        records, _ = shard.scroll(qe.ScrollRequest(limit=100, filter=qe.Filter(must=[condition])))
        expected = sorted(r.id for r in records)
        assert index.match(kind, text).tolist() == expected, (kind, text)
    shard.close()
