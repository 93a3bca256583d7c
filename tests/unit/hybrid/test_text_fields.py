"""BM25 text fields through the Client: scored queries, text filters, freshness, recovery."""

from __future__ import annotations

import pytest
import tantivy

from hybrid import Client
from hybrid.errors import ValidationError

DOCS = ["the quick brown fox", "a lazy brown dog", "quick quick fox jumps", "dogs and cats", "nothing here"]


def _client(path=None) -> Client:
    c = Client() if path is None else Client(path=path)
    c.create_collection("t", vectors_config={"size": 2, "distance": "Dot"}, optimizers_config={"indexing_threshold": 1})
    c.create_payload_index("t", "body", {"type": "text", "tokenizer": "word", "lowercase": True})
    c.upsert("t", [{"id": i, "vector": [1.0, float(i)], "payload": {"body": d, "n": i}} for i, d in enumerate(DOCS)])
    return c


def _bare_tantivy_ranking(query: str) -> list[int]:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="default")
    builder.add_integer_field("id", stored=True, indexed=True)
    index = tantivy.Index(builder.build())
    writer = index.writer()
    for i, d in enumerate(DOCS):
        writer.add_document(tantivy.Document(body=d, id=i))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    hits = searcher.search(index.parse_query(query, ["body"]), 10).hits
    return [searcher.doc(addr)["id"][0] for _, addr in hits]


def test_bm25_query_matches_bare_tantivy() -> None:
    c = _client()
    hits = c.query_points("t", query={"bm25": {"text": "quick fox", "field": "body"}}, limit=10).points
    assert [h.id for h in hits] == _bare_tantivy_ranking("quick fox")
    assert hits[0].id == 2 and all(h.score > 0 for h in hits)


def test_bm25_with_filter_in_prefetch_and_fusion() -> None:
    c = _client()
    flt = {"must": [{"key": "n", "range": {"gte": 1}}]}
    hits = c.query_points("t", query={"bm25": {"text": "brown fox", "field": "body"}}, query_filter=flt).points
    assert 0 not in [h.id for h in hits] and hits[0].id == 1
    fused = c.query_points("t", prefetch=[{"query": {"bm25": {"text": "dog", "field": "body"}}},
                                          {"query": [0.0, 1.0], "limit": 2}], query={"fusion": "rrf"}).points
    assert {1, 4, 3} <= {h.id for h in fused}


def test_text_filters_and_freshness() -> None:
    c = _client()
    count = lambda m: c.count("t", {"must": [{"key": "body", "match": m}]}).count  # noqa: E731
    assert count({"text": "quick fox"}) == 2 and count({"text_any": "cats fox"}) == 3
    c.set_payload("t", {"body": "no animals"}, [0])
    c.delete("t", [2])
    assert count({"text": "fox"}) == 0
    assert c.query_points("t", query={"bm25": {"text": "fox", "field": "body"}}).points == []


def test_text_index_recovers(tmp_path) -> None:
    c = _client(tmp_path)
    c.collection("t").optimizer.wait()
    c.upsert("t", [{"id": 9, "vector": [0.0, 0.0], "payload": {"body": "a late fox"}}])
    c.close()
    reopened = Client(path=tmp_path)
    hits = reopened.query_points("t", query={"bm25": {"text": "fox", "field": "body"}}).points
    assert sorted(h.id for h in hits) == [0, 2, 9]
    assert reopened.get_collection("t").payload_schema["body"].data_type == "text"
    reopened.close()


def test_bm25_errors_name_the_field() -> None:
    c = _client()
    with pytest.raises(ValidationError, match="field"):
        c.query_points("t", query={"bm25": {"text": "x", "field": "missing"}})
    with pytest.raises(ValidationError, match="field_schema"):
        c.create_payload_index("t", "x", {"type": "text", "tokenizer": "nope"})
