"""IDF over a corpus filter: a collection's corpus statistics equal the global statistics of a
collection holding only the corpus (sparse IDF; BM25 with documents of equal length, whose
length normalisation is the same in both)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import ValidationError

CORPUS = {"must": [{"key": "g", "match": {"value": 1}}]}
WORDS = ["apple", "banana", "cherry", "date", "elder", "fig"]


def points(n: int, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        dims = np.sort(rng.choice(12, size=3, replace=False))
        words = rng.choice(WORDS, size=3, replace=True)
        out.append({"id": i, "vector": {"s": {"indices": dims.tolist(), "values": rng.random(3).round(3).tolist()}},
                    "payload": {"g": int(i % 3 == 0), "text": " ".join(words)}})
    return out


def collection(data: list[dict], seal: bool) -> Client:
    client = Client()
    client.create_collection("c", sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config={"indexing_threshold": 1 if seal else 0, "default_segment_number": 100})
    client.create_payload_index("c", "text", {"type": "text", "scoring": True})
    client.collection("c").optimizer.run_inline()  # each batch sealed in its own segment: deterministic
    for start in range(0, len(data), 40):
        client.upsert("c", data[start: start + 40])
    client.collection("c").optimizer.wait()
    return client


def ranked(client: Client, query: dict, using: str, params: dict | None) -> list[tuple]:
    hits = client.query_points("c", query=query, using=using, limit=50, query_filter=CORPUS, search_params=params).points
    return [(p.id, round(p.score, 4)) for p in hits]


# BM25 without deletions: tantivy keeps deleted documents in its own statistics (document counts
# and average length) until it merges, so even global BM25 differs from a collection that never
# held them.
@pytest.mark.parametrize("query,using,deleted", [({"indices": [1, 4, 7], "values": [1.0, 0.5, 2.0]}, "s", 9),
                                                 ({"text": "apple cherry fig"}, "text", 0)])
def test_corpus_statistics_are_those_of_the_corpus_alone(query, using, deleted):
    data = points(200)
    full = collection(data, seal=True)
    gone = set(range(0, 200, deleted)) if deleted else set()
    full.delete("c", sorted(gone))  # deleted points count in neither
    assert len(full.collection("c").segments) > 2
    alone = collection([p for p in data if p["payload"]["g"] == 1 and p["id"] not in gone], seal=False)
    corpus = ranked(full, query, using, {"idf": {"corpus": CORPUS}})
    assert corpus == ranked(alone, query, using, None)
    assert corpus != ranked(full, query, using, {"idf": "global"})  # the corpus changes the weights
    assert ranked(full, query, using, {"idf": "global"}) == ranked(full, query, using, None)


def test_a_bad_corpus_is_refused_before_anything_runs():
    client = collection(points(20), seal=False)
    with pytest.raises(ValidationError, match=r"params.idf.corpus.must\[0\]"):
        client.query_points("c", query={"indices": [1], "values": [1.0]}, using="s",
                            search_params={"idf": {"corpus": {"must": [{"nope": 1}]}}})
    with pytest.raises(ValidationError, match="idf"):
        client.query_points("c", query={"indices": [1], "values": [1.0]}, using="s", search_params={"idf": "local"})
    with pytest.raises(ValidationError, match="params.idf"):  # a rescore of prefetch results: refused, not ignored
        client.query_points("c", prefetch=[{"query": {"indices": [1], "values": [1.0]}, "using": "s"}],
                            query={"indices": [1], "values": [1.0]}, using="s",
                            search_params={"idf": {"corpus": CORPUS}})


def test_a_corpus_changes_only_the_idf_of_bm25_not_its_length_norm():
    """A corpus changes the IDF only: the length normalisation stays the field's. For a one-token
    query the corpus scores are then the plain ones times one constant (the IDF ratio), even
    when the documents differ in length and the corpus's average length is not the field's."""
    data = points(150)
    for p in data:
        p["payload"]["text"] += " fig" * (p["id"] % 7) + " date" * (8 * p["payload"]["g"])  # corpus: longer
    client = collection(data, seal=True)
    plain = client.query_points("c", query={"text": "fig"}, using="text", limit=40, query_filter=CORPUS).points
    corpus = client.query_points("c", query={"text": "fig"}, using="text", limit=40, query_filter=CORPUS,
                                 search_params={"idf": {"corpus": CORPUS}}).points
    assert len(plain) > 10 and [p.id for p in corpus] == [p.id for p in plain]
    ratios = np.array([c.score for c in corpus]) / np.array([p.score for p in plain])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-5)
    assert not np.isclose(ratios[0], 1.0)  # the corpus did change the weight
