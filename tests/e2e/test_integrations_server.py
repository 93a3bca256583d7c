"""Both adapters through a live server (qdrant_client underneath) with the real MiniLM model: every
mode, filters, MMR and deletions answer exactly as over the embedded Client. Over REST the stores
connect with `url=...`; over gRPC they are given a `QdrantClient(prefer_grpc=True)`. (The stores
take a sync client, so there is no grpc-async run.)"""

from __future__ import annotations

import uuid
from typing import Iterator

import numpy as np
import pytest

pytest.importorskip("qdrant_client")
pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")

TEXTS = [
    ("The Eiffel Tower is a wrought-iron lattice tower in Paris.", "travel", 1889),
    ("Photosynthesis turns light, water and carbon dioxide into sugar.", "science", 1779),
    ("The Louvre in Paris is the world's most-visited museum.", "travel", 1793),
    ("Mitochondria produce most of the chemical energy of a cell.", "science", 1857),
    ("Venice is built on more than a hundred small islands.", "travel", 421),
    ("Black holes bend light so strongly that none escapes.", "science", 1916),
]
QUERIES = ["Which museums can I visit in Paris?", "light and energy in cells"]
TRANSPORTS = ["rest", "grpc"]


@pytest.fixture(scope="session")
def via(server, remote, transport) -> dict:
    """How a store reaches the server: its url over REST, the transport's client over gRPC."""
    return {"url": server.url} if transport == "rest" else {"client": remote}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def langchain_pair(via: dict, **kwargs):
    from hybrid.integrations.langchain import HybridVectorStore

    texts = [t for t, _, _ in TEXTS]
    metas = [{"topic": topic, "year": year} for _, topic, year in TEXTS]
    ids = [f"doc-{i}" for i in range(len(TEXTS))]
    remote = HybridVectorStore.from_texts(texts, metadatas=metas, ids=ids, collection_name=unique("lc"), **via,
                                          **kwargs)
    local = HybridVectorStore.from_texts(texts, metadatas=metas, ids=ids, collection_name="lc", **kwargs)
    return remote, local


def scored(pairs) -> list[tuple[str, float]]:
    return [(doc.id, round(score, 4)) for doc, score in pairs]


def test_langchain_over_the_server_answers_as_embedded(via):
    remote, local = langchain_pair(via, rrf_k=10, weights=(1.0, 0.5))
    assert remote.collection.remote and not local.collection.remote
    for query in QUERIES:
        for mode in ("dense", "sparse", "hybrid"):
            for flt in (None, {"topic": "science"}, {"year": {"gte": 1800}}):
                want = scored(local.similarity_search_with_score(query, k=4, filter=flt, retrieval_mode=mode))
                assert scored(remote.similarity_search_with_score(query, k=4, filter=flt, retrieval_mode=mode)) == want
        mmr = [d.id for d in local.max_marginal_relevance_search(query, k=3, fetch_k=6, lambda_mult=0.3)]
        assert [d.id for d in remote.max_marginal_relevance_search(query, k=3, fetch_k=6, lambda_mult=0.3)] == mmr
    assert "Louvre" in remote.as_retriever(search_kwargs={"k": 1}).invoke(QUERIES[0])[0].page_content
    assert remote.get_by_ids(["doc-2", "nope"]) == local.get_by_ids(["doc-2"])
    remote.delete(["doc-2"])
    remote.delete(filter={"topic": "science"})
    assert remote.collection.count() == 2
    remote.delete()
    assert not remote.client.collection_exists(remote.collection.name)
    remote.close()


def test_llamaindex_over_the_server_answers_as_embedded(via):
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores import MetadataFilter, MetadataFilters, VectorStoreQuery

    from hybrid.integrations.llamaindex import HybridEmbedding, HybridVectorStore

    def nodes():
        return [TextNode(id_=f"node-{i}", text=text, metadata={"topic": topic, "year": year},
                         relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i // 2}")})
                for i, (text, topic, year) in enumerate(TEXTS)]

    remote, local = HybridVectorStore(unique("li"), **via), HybridVectorStore("li")
    for store in (remote, local):
        VectorStoreIndex(nodes(), storage_context=StorageContext.from_defaults(vector_store=store),
                         embed_model=HybridEmbedding())
    science = MetadataFilters(filters=[MetadataFilter(key="topic", value="science")])
    for query in QUERIES:
        for mode in ("default", "sparse", "hybrid", "mmr"):
            for filters in (None, science):
                request = VectorStoreQuery(query_str=query, similarity_top_k=3, mode=mode, filters=filters, alpha=0.7)
                want, got = local.query(request), remote.query(request)
                assert got.ids == want.ids and np.allclose(got.similarities, want.similarities, atol=1e-4)
    def node_ids(store, filters) -> list[str]:
        return [n.node_id for n in store.get_nodes(filters=filters)]

    assert node_ids(remote, science) == node_ids(local, science)
    remote.delete("doc-1")
    remote.delete_nodes(["node-0"])
    assert sorted(node_ids(remote, MetadataFilters(filters=[]))) == ["node-1", "node-4", "node-5"]
    remote.clear()
    assert remote.get_nodes(filters=MetadataFilters(filters=[])) == []
    remote.close()


pytest.importorskip("pytest_asyncio")
standard = pytest.importorskip("langchain_tests.integration_tests")


@pytest.mark.asyncio  # for the suite's coroutine tests; its sync tests ignore the mark:
@pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio' but it is not an async function")
class TestLangChainStandardOverServer(standard.VectorStoreIntegrationTests):
    """LangChain's standard suite (sync and async) through the server."""

    @pytest.fixture()
    def vectorstore(self, via) -> Iterator:
        from hybrid.integrations.langchain import HybridVectorStore

        store = HybridVectorStore(self.get_embeddings(), collection_name=unique("standard"), **via)
        try:
            yield store
        finally:
            store.delete()  # drops the collection
            store.close()
