"""hybrid.integrations.langchain end to end with langchain-core and the real MiniLM model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document  # noqa: E402

from hybrid.integrations.langchain import HybridEmbeddings, HybridVectorStore, metadata_filter  # noqa: E402

QUESTION = "Which museums can I visit in Paris?"


def make_store(corpus, **kwargs) -> HybridVectorStore:
    texts = [t for t, _, _ in corpus]
    metas = [{"topic": topic, "year": year} for _, topic, year in corpus]
    return HybridVectorStore.from_texts(texts, metadatas=metas, ids=[f"doc-{i}" for i in range(len(texts))], **kwargs)


@pytest.fixture(scope="module")
def store(corpus, minilm):
    """A read-only store over the corpus (tests that write make their own)."""
    made = make_store(corpus, collection_name="lc_read")
    yield made
    made.close()


def ids(docs) -> list[str]:
    return [(d[0] if isinstance(d, tuple) else d).id for d in docs]


def test_dense_scores_are_cosine_similarities_of_minilm(store, corpus, minilm):
    hits = store.similarity_search_with_score(QUESTION, k=len(corpus))
    assert "Louvre" in hits[0][0].page_content
    vectors = minilm.embed_documents([t for t, _, _ in corpus])
    want = vectors @ minilm.embed_query(QUESTION)
    got = {doc.id: score for doc, score in hits}
    np.testing.assert_allclose([got[f"doc-{i}"] for i in range(len(corpus))], want, atol=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert hits[0][0].metadata == {"topic": "travel", "year": 1793}


def test_sparse_is_bm25_over_shared_terms_only(store):
    hits = store.similarity_search_with_score("wrought-iron lattice", k=3, retrieval_mode="sparse")
    assert ids(hits) == ["doc-0"] and hits[0][1] > 0  # only the Eiffel text has these terms
    assert store.similarity_search("zeppelin", k=3, retrieval_mode="sparse") == []
    assert store.similarity_search("the of and", k=3, retrieval_mode="sparse") == []  # stopwords only


def rrf(rankings: list[list[str]], weights: list[float], k: int = 2) -> dict[str, float]:
    """Weighted RRF of 0-based rankings: sum_i 1 / (k + (r + 1) / w_i - 1)."""
    out: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for r, key in enumerate(ranking):
            if w > 0:
                out[key] = out.get(key, 0.0) + 1.0 / (k + (r + 1) / w - 1)
    return out


@pytest.mark.parametrize("rrf_k, weights", [(None, None), (5, (2.0, 1.0))])
def test_hybrid_is_weighted_rrf_of_the_dense_and_sparse_rankings(corpus, minilm, rrf_k, weights):
    query = "light in Paris museums"
    fused_store = make_store(corpus, collection_name="lc_rrf", retrieval_mode="hybrid", rrf_k=rrf_k, weights=weights)
    try:
        depth = len(corpus)
        dense = ids(fused_store.similarity_search(query, k=depth, retrieval_mode="dense"))
        sparse = ids(fused_store.similarity_search(query, k=depth, retrieval_mode="sparse"))
        assert 0 < len(sparse) < depth  # the branches really differ
        want = rrf([dense, sparse], list(weights or (1.0, 1.0)), rrf_k or 2)
        got = fused_store.similarity_search_with_score(query, k=depth)
        assert {d.id: round(s, 5) for d, s in got} == {key: round(v, 5) for key, v in want.items()}
        relevance = fused_store.similarity_search_with_relevance_scores(query, k=3)
        assert all(0.0 <= r <= 1.0 for _, r in relevance)
    finally:
        fused_store.close()


def test_hybrid_weights_select_a_branch(store, corpus):
    dense_only = HybridVectorStore(store.embedding, client=store.client, collection_name="lc_read",
                                   retrieval_mode="hybrid", weights=(1, 0))
    assert ids(dense_only.similarity_search(QUESTION, k=4)) == ids(store.similarity_search(QUESTION, k=4))
    sparse_only = HybridVectorStore(store.embedding, client=store.client, collection_name="lc_read",
                                    retrieval_mode="hybrid", weights=(0, 1))
    query = "light in Paris"
    assert ids(sparse_only.similarity_search(query, k=len(corpus)))[:3] == \
        ids(store.similarity_search(query, k=3, retrieval_mode="sparse"))


@pytest.mark.parametrize("flt, expected", [
    ({"topic": "science"}, {"doc-1", "doc-3", "doc-5", "doc-7"}),
    ({"year": [1889, 1953]}, {"doc-0", "doc-7"}),
    ({"year": {"gte": 1800, "lt": 1900}, "topic": "travel"}, {"doc-0"}),
    ({"must_not": [{"key": "metadata.topic", "match": {"value": "science"}}]}, {"doc-0", "doc-2", "doc-4", "doc-6"}),
])
@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_filters_restrict_every_mode(store, flt, expected, mode):
    query = "light Paris islands temples energy"
    found = set(ids(store.similarity_search(query, k=8, filter=flt, retrieval_mode=mode)))
    assert found and found <= expected
    if mode == "dense":
        assert found == expected


def test_qdrant_client_filter_objects_are_accepted(store):
    from qdrant_client import models as qm

    flt = qm.Filter(must=[qm.FieldCondition(key="metadata.topic", match=qm.MatchValue(value="science"))])
    assert {d.metadata["topic"] for d in store.similarity_search("energy", k=3, filter=flt)} == {"science"}


def test_metadata_filter_validation():
    assert metadata_filter(None) is None
    assert metadata_filter({"a": 1.5}) == {"must": [{"key": "metadata.a", "range": {"gte": 1.5, "lte": 1.5}}]}
    with pytest.raises(TypeError, match="filter\\['a'\\]"):
        metadata_filter({"a": object()})


def test_mmr_trades_relevance_for_novelty(corpus, minilm):
    twin = ("The Louvre museum in Paris is the most visited in the world.", "travel", 1793)
    mmr_store = make_store(corpus + [twin], collection_name="lc_mmr")
    try:
        plain = mmr_store.similarity_search(QUESTION, k=2)
        assert {d.id for d in plain} == {"doc-2", "doc-8"}  # both Louvre texts
        assert ids(mmr_store.max_marginal_relevance_search(QUESTION, k=2, fetch_k=8, lambda_mult=1.0)) == ids(plain)
        diverse = mmr_store.max_marginal_relevance_search(QUESTION, k=2, fetch_k=8, lambda_mult=0.3)
        assert diverse[0].id == plain[0].id and diverse[1].id not in {"doc-2", "doc-8"}
        science = mmr_store.max_marginal_relevance_search(QUESTION, k=2, lambda_mult=0.3, filter={"topic": "science"})
        assert {d.metadata["topic"] for d in science} == {"science"}
        retriever = mmr_store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 8, "lambda_mult": 0.3})
        assert ids(retriever.invoke(QUESTION)) == ids(diverse)
        with pytest.raises(ValueError, match="lambda_mult"):
            mmr_store.max_marginal_relevance_search(QUESTION, lambda_mult=1.5)
    finally:
        mmr_store.close()


def test_write_read_delete_cycle(minilm):
    store = HybridVectorStore(collection_name="lc_cycle")  # default embeddings: MiniLM
    try:
        assert isinstance(store.embeddings, HybridEmbeddings)
        assert store.similarity_search("anything") == [] and store.get_by_ids(["x"]) == []
        new = store.add_documents([Document(page_content="Rome has the Colosseum.", metadata={"city": "rome"}),
                                   Document(id="oslo", page_content="Oslo has a fjord.", metadata={"city": "oslo"})])
        assert new[1] == "oslo" and len(new[0]) == 36  # a generated UUID
        assert ids(store.similarity_search("ancient amphitheatre", k=1)) == [new[0]]
        store.add_texts(["Oslo has the Munch museum."], [{"city": "oslo", "v": 2}], ids=["oslo"])  # overwrite
        assert store.get_by_ids(["oslo", "missing"]) == [
            Document(id="oslo", page_content="Oslo has the Munch museum.", metadata={"city": "oslo", "v": 2})]
        store.add_texts(["Bergen is rainy."], [{"city": "bergen"}], ids=["bergen"])
        assert store.delete(filter={"city": "oslo"}) is True
        assert sorted(ids(store.similarity_search("city", k=5))) == sorted([new[0], "bergen"])
        store.delete([new[0], "never-added"])
        assert ids(store.similarity_search("city", k=5)) == ["bergen"]
        store.delete()  # no ids, no filter: everything
        assert store.similarity_search("city") == [] and store.collection.count() == 0
    finally:
        store.close()


def test_retriever_with_score_threshold(store):
    retriever = store.as_retriever(search_type="similarity_score_threshold",
                                   search_kwargs={"k": 8, "score_threshold": 0.6})
    docs = retriever.invoke(QUESTION)
    scored = dict((d.id, s) for d, s in store.similarity_search_with_relevance_scores(QUESTION, k=8))
    assert docs and ids(docs)[0] == "doc-2"
    assert all(scored[d.id] >= 0.6 for d in docs) and len(docs) == sum(s >= 0.6 for s in scored.values())


def test_persistence_through_a_path(tmp_path, corpus, minilm):
    first = make_store(corpus, path=tmp_path / "db", collection_name="kept", retrieval_mode="hybrid")
    before = first.similarity_search_with_score(QUESTION, k=4)
    first.close()
    again = HybridVectorStore(path=tmp_path / "db", collection_name="kept", retrieval_mode="hybrid")
    try:
        after = again.similarity_search_with_score(QUESTION, k=4)
        assert [(d, round(s, 5)) for d, s in after] == [(d, round(s, 5)) for d, s in before]
        assert again.collection.count() == len(corpus)
    finally:
        again.close()


def test_dimension_mismatch_names_the_collection(store):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    other = HybridVectorStore(DeterministicFakeEmbedding(size=5), client=store.client, collection_name="lc_read")
    with pytest.raises(ValueError, match="lc_read.*size 384.*5 dimensions"):
        other.add_texts(["x"])


@pytest.mark.parametrize("kwargs, error, field", [
    ({"retrieval_mode": "fuzzy"}, ValueError, "retrieval_mode"),
    ({"weights": (1.0,)}, ValueError, "weights"),
    ({"weights": (-1.0, 1.0)}, ValueError, "weights"),
    ({"rrf_k": 0}, ValueError, "rrf_k"),
    ({"distance": "Hamming"}, ValueError, "distance"),
    ({"collection_name": ""}, ValueError, "collection_name"),
    ({"path": "x", "url": "http://y"}, ValueError, "url"),
    ({"embedding": "minilm"}, TypeError, "embedding"),
])
def test_constructor_validation(kwargs, error, field):
    with pytest.raises(error, match=field):
        HybridVectorStore(**kwargs)


def test_add_texts_validation():
    store = HybridVectorStore(collection_name="lc_validation")
    with pytest.raises(ValueError, match="metadatas"):
        store.add_texts(["a", "b"], [{}])
    with pytest.raises(ValueError, match="ids"):
        store.add_texts(["a"], ids=["1", "2"])
    assert store.add_texts([]) == []
