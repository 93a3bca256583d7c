"""langchain-qdrant and llama-index-vector-stores-qdrant, unchanged, against the server, with
the small real embedding model (MiniLM, offline). Their hits must be the server's own answer
to the same query vector, and the embedded Client's answer over the same points."""

from __future__ import annotations

import pytest

from hybrid import Client

langchain_qdrant = pytest.importorskip("langchain_qdrant")
llama_qdrant = pytest.importorskip("llama_index.vector_stores.qdrant")

TEXTS = [
    ("The Eiffel Tower is a wrought-iron lattice tower in Paris.", "travel"),
    ("Photosynthesis turns light, water and carbon dioxide into sugar.", "science"),
    ("The Louvre in Paris is the world's most-visited museum.", "travel"),
    ("Mitochondria produce most of the chemical energy of a cell.", "science"),
    ("Venice is built on more than a hundred small islands.", "travel"),
    ("Black holes bend light so strongly that none escapes.", "science"),
    ("Kyoto has over a thousand Buddhist temples.", "travel"),
    ("DNA stores genetic information as sequences of four bases.", "science"),
]
QUESTION = "Which museums can I visit in Paris?"
TRANSPORTS = ["rest", "grpc"]  # the stores take a sync QdrantClient (or url and prefer_grpc)


@pytest.fixture(scope="module")
def minilm():
    from hybrid.embed.registry import get_embedder

    return get_embedder("minilm")


def embedded_hits(remote, name: str, vector: list[float], limit: int, vector_name: str = "") -> list:
    """The same query over an embedded Client holding the server collection's points."""
    points, _ = remote.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    info = remote.get_collection(name)
    vectors = info.config.params.vectors
    config = {"size": vectors.size, "distance": vectors.distance.value} if hasattr(vectors, "size") else \
        {n: {"size": v.size, "distance": v.distance.value} for n, v in vectors.items()}
    with Client() as local:
        local.create_collection(name, vectors_config=config)
        local.upsert(name, [{"id": p.id, "vector": p.vector, "payload": p.payload} for p in points])
        found = local.query_points(name, query=vector, using=vector_name or None, limit=limit).points
        return [(str(p.id), round(p.score, 5)) for p in found]


def test_langchain_qdrant(server, remote, minilm, transport):
    from langchain_core.embeddings import Embeddings
    from qdrant_client import models as qm

    class MiniLM(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return minilm.embed_documents(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return minilm.embed_query(text).tolist()

    store = langchain_qdrant.QdrantVectorStore.from_texts(
        [t for t, _ in TEXTS], MiniLM(), metadatas=[{"topic": topic} for _, topic in TEXTS],
        url=server.url, collection_name="lc_docs", prefer_grpc=transport == "grpc", grpc_port=server.grpc_port)
    assert store.client._client._prefer_grpc == (transport == "grpc")
    hits = store.similarity_search_with_score(QUESTION, k=3)
    assert "Louvre" in hits[0][0].page_content
    vector = minilm.embed_query(QUESTION).tolist()
    assert [(d.metadata["_id"], round(s, 5)) for d, s in hits] == embedded_hits(remote, "lc_docs", vector, 3)
    only_science = qm.Filter(must=[qm.FieldCondition(key="metadata.topic", match=qm.MatchValue(value="science"))])
    science = store.similarity_search("energy in living cells", k=2, filter=only_science)
    assert {d.metadata["topic"] for d in science} == {"science"} and "Mitochondria" in science[0].page_content
    mmr = store.max_marginal_relevance_search(QUESTION, k=2, fetch_k=6)
    assert len(mmr) == 2 and "Louvre" in mmr[0].page_content
    ids = store.add_texts(["The Colosseum is an ancient amphitheatre in Rome."], metadatas=[{"topic": "travel"}])
    assert "Colosseum" in store.similarity_search("Roman amphitheatre", k=1)[0].page_content
    assert store.delete(ids) is True
    assert remote.count("lc_docs").count == len(TEXTS)


def test_llama_index_qdrant(server, remote, minilm):
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters

    class MiniLM(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return minilm.embed_query(query).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return minilm.embed_documents([text])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    store = llama_qdrant.QdrantVectorStore(collection_name="li_docs", client=remote)
    nodes = [TextNode(text=text, metadata={"topic": topic}) for text, topic in TEXTS]
    index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store),
                             embed_model=MiniLM())
    hits = index.as_retriever(similarity_top_k=3).retrieve(QUESTION)
    assert "Louvre" in hits[0].node.get_content()
    vector = minilm.embed_query(QUESTION).tolist()
    dense_name = "" if hasattr(remote.get_collection("li_docs").config.params.vectors, "size") else "text-dense"
    want = embedded_hits(remote, "li_docs", vector, 3, dense_name)
    assert [(h.node.node_id, round(h.score, 5)) for h in hits] == want
    science = MetadataFilters(filters=[ExactMatchFilter(key="topic", value="science")])
    filtered = index.as_retriever(similarity_top_k=2, filters=science).retrieve("energy in living cells")
    assert {h.node.metadata["topic"] for h in filtered} == {"science"}
    store.delete_nodes([nodes[0].node_id])
    assert remote.count("li_docs").count == len(TEXTS) - 1
