"""hybrid.integrations.llamaindex end to end with llama-index-core and the real MiniLM model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode  # noqa: E402
from llama_index.core.vector_stores import (  # noqa: E402
    FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery,
)

from hybrid.integrations.llamaindex import HybridEmbedding, HybridVectorStore  # noqa: E402

QUESTION = "Which museums can I visit in Paris?"


def make_nodes(corpus) -> list[TextNode]:
    """One node per text; texts 2k and 2k+1 come from source document doc-k."""
    return [TextNode(id_=f"node-{i}", text=text, metadata={"topic": topic, "year": year},
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i // 2}")})
            for i, (text, topic, year) in enumerate(corpus)]


def make_index(corpus, store: HybridVectorStore) -> VectorStoreIndex:
    return VectorStoreIndex(make_nodes(corpus), storage_context=StorageContext.from_defaults(vector_store=store),
                            embed_model=HybridEmbedding())


@pytest.fixture(scope="module")
def index(corpus, minilm):
    store = HybridVectorStore("li_read")
    yield make_index(corpus, store)
    store.close()


def hit_ids(hits) -> list[str]:
    return [h.node.node_id for h in hits]


def test_default_mode_scores_are_minilm_cosine(index, corpus, minilm):
    hits = index.as_retriever(similarity_top_k=len(corpus)).retrieve(QUESTION)
    assert "Louvre" in hits[0].node.get_content() and hits[0].node.metadata == {"topic": "travel", "year": 1793}
    # nodes were embedded as LlamaIndex embeds them: with their metadata (MetadataMode.EMBED)
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in make_nodes(corpus)]
    want = minilm.embed_documents(texts) @ minilm.embed_query(QUESTION)
    got = {h.node.node_id: h.score for h in hits}
    np.testing.assert_allclose([got[f"node-{i}"] for i in range(len(corpus))], want, atol=1e-5)


def test_sparse_and_text_search_modes_are_bm25(index):
    for mode in ("sparse", "text_search"):
        hits = index.as_retriever(similarity_top_k=3, vector_store_query_mode=mode).retrieve("wrought-iron lattice")
        assert hit_ids(hits) == ["node-0"]


def test_hybrid_alpha_moves_between_the_branches(index, corpus):
    query = "light in Paris museums"
    k = len(corpus)

    def ranking(mode: str, **kwargs) -> list[str]:
        return hit_ids(index.as_retriever(similarity_top_k=k, vector_store_query_mode=mode, **kwargs).retrieve(query))

    dense, sparse = ranking("default"), ranking("sparse")
    assert 0 < len(sparse) < k
    assert ranking("hybrid", alpha=1.0) == dense
    assert ranking("hybrid", alpha=0.0)[: len(sparse)] == sparse
    fused = index.as_retriever(similarity_top_k=k, vector_store_query_mode="hybrid", alpha=0.5).retrieve(query)
    assert set(hit_ids(fused)) == set(dense) and "Louvre" in fused[0].node.get_content()
    # k = 2, equal weights: a point ranked first in both branches scores 1/2 + 1/2
    assert all(0 < h.score <= 1.0 for h in fused)


def test_hybrid_top_k_and_rrf_k(corpus, minilm):
    store = HybridVectorStore("li_rrf", rrf_k=60)
    try:
        make_index(corpus, store)
        query = VectorStoreQuery(query_str=QUESTION, similarity_top_k=5, hybrid_top_k=2, mode="hybrid")
        result = store.query(query)  # no query_embedding: the store embeds query_str itself
        assert len(result.ids) == 2 and result.ids[0] == "node-2"
        assert result.similarities[0] == pytest.approx(2 / 60)  # first in both branches: 1 / k each
    finally:
        store.close()


def test_mmr_mode_diversifies(corpus, minilm):
    twin = ("The Louvre museum in Paris is the most visited in the world.", "travel", 1793)
    store = HybridVectorStore("li_mmr")
    try:
        index = make_index(corpus + [twin], store)
        plain = hit_ids(index.as_retriever(similarity_top_k=2).retrieve(QUESTION))
        assert set(plain) == {"node-2", "node-8"}
        diverse = hit_ids(index.as_retriever(similarity_top_k=2, vector_store_query_mode="mmr",
                                             vector_store_kwargs={"mmr_threshold": 0.3}).retrieve(QUESTION))
        assert diverse[0] == plain[0] and diverse[1] not in plain
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["default", "sparse", "hybrid"])
def test_metadata_filters_in_every_mode(index, mode):
    science = MetadataFilters(filters=[MetadataFilter(key="topic", value="science"),
                                       MetadataFilter(key="year", value=1900, operator=FilterOperator.GT)])
    hits = index.as_retriever(similarity_top_k=5, vector_store_query_mode=mode,
                              filters=science).retrieve("light bends around black holes and DNA")
    assert hits and set(hit_ids(hits)) <= {"node-5", "node-7"}


def test_add_get_delete_clear(corpus, minilm):
    store = HybridVectorStore("li_cycle")
    try:
        nodes = make_nodes(corpus)
        nodes[0].embedding = HybridEmbedding().get_text_embedding("given")  # kept as given
        assert store.add(nodes) == [n.node_id for n in nodes]
        assert [n.node_id for n in store.get_nodes(["node-3", "node-1", "nope"])] == ["node-3", "node-1"]
        travel = MetadataFilters(filters=[MetadataFilter(key="topic", value="travel")])
        assert sorted(n.node_id for n in store.get_nodes(filters=travel)) == ["node-0", "node-2", "node-4", "node-6"]
        vector = store.client.retrieve("li_cycle", [store_point("node-0")], with_vectors=True)[0].vector["dense"]
        np.testing.assert_allclose(vector, nodes[0].embedding, atol=1e-6)
        store.delete("doc-1")  # nodes 2 and 3
        left = {n.node_id for n in store.get_nodes(filters=MetadataFilters(filters=[]))}
        assert left == {f"node-{i}" for i in range(len(corpus))} - {"node-2", "node-3"}
        store.delete_nodes(["node-0"], filters=travel)
        store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="year", value=1800,
                                                                           operator=FilterOperator.LT)]))
        assert {n.node_id for n in store.get_nodes(filters=MetadataFilters(filters=[]))} == {"node-5", "node-7"}
        store.clear()
        assert store.get_nodes(filters=MetadataFilters(filters=[])) == []
        assert store.query(VectorStoreQuery(query_str="x", similarity_top_k=3)).ids == []
    finally:
        store.close()


def store_point(node_id: str) -> str:
    from hybrid.integrations.store import point_id

    return point_id(node_id)


def test_persistence_through_a_path(tmp_path, corpus, minilm):
    first = HybridVectorStore("kept", path=tmp_path / "db")
    make_index(corpus, first)
    query = VectorStoreQuery(query_str=QUESTION, similarity_top_k=3, mode="hybrid")
    before = first.query(query)
    first.close()
    again = HybridVectorStore("kept", path=tmp_path / "db")
    try:
        after = again.query(query)
        assert after.ids == before.ids and np.allclose(after.similarities, before.similarities)
        assert [n.get_content() for n in after.nodes] == [n.get_content() for n in before.nodes]
        index = VectorStoreIndex.from_vector_store(again, embed_model=HybridEmbedding())
        assert hit_ids(index.as_retriever(similarity_top_k=1).retrieve(QUESTION)) == ["node-2"]
    finally:
        again.close()


def test_validation():
    store = HybridVectorStore("li_validation")
    with pytest.raises(ValueError, match="svm"):
        store.query(VectorStoreQuery(query_embedding=[1.0], mode="svm"))
    with pytest.raises(ValueError, match="query_str"):
        store.query(VectorStoreQuery(query_embedding=[1.0], mode="sparse"))
    with pytest.raises(ValueError, match="alpha"):
        store.query(VectorStoreQuery(query_embedding=[1.0], query_str="x", mode="hybrid", alpha=1.5))
    with pytest.raises(ValueError, match="mmr_threshold"):
        store.query(VectorStoreQuery(query_embedding=[1.0], mode="mmr", mmr_threshold=2.0))
    with pytest.raises(TypeError, match="embed_model"):
        HybridVectorStore("x", embed_model="minilm")
    with pytest.raises(ValueError, match="rrf_k"):
        HybridVectorStore("x", rrf_k=0)
    with pytest.raises(ValueError, match="client, path"):
        HybridVectorStore("x", client=object(), path="p")
    assert store.add([]) == []
