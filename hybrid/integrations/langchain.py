"""LangChain `VectorStore` over the engine: `HybridVectorStore` (dense, sparse BM25, hybrid RRF).

    from hybrid.integrations.langchain import HybridVectorStore
    store = HybridVectorStore.from_texts(texts, metadatas=metas, retrieval_mode="hybrid")
    store.as_retriever(search_kwargs={"k": 3, "filter": {"topic": "science"}}).invoke(question)

Points are stored as payload `{"id": <the Document id>, "page_content": ..., "metadata": {...}}`
(point id = `store.point_id(id)`), with a dense and a BM25 vector each (see
`hybrid.integrations.store`). Filters are either a metadata dict (`{"topic": "science"}`: equality;
a list value: any of; `{"gte": .., "lt": ..}`: a range), or a Qdrant filter (dict with
must/should/must_not, or a filter object) whose keys are payload paths ("metadata.topic").
Needs `langchain-core` (`pip install "hybrid-vecsearch[adapters]"`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from hybrid.integrations import missing_extra
from hybrid.integrations.store import (
    DEFAULT_DENSE_MODEL, HybridCollection, Hit, as_filter, bm25_documents, bm25_query, check_mode, check_rrf_k,
    check_weights, connect, dense_embedder, point_id, rrf_relevance,
)

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
except ImportError as exc:
    raise missing_extra("langchain-core", "hybrid.integrations.langchain") from exc

ID_KEY, CONTENT_KEY, METADATA_KEY = "id", "page_content", "metadata"
_FILTER_KEYS = {"must", "should", "must_not", "min_should"}
_RANGE_KEYS = {"gt", "gte", "lt", "lte"}


class HybridEmbeddings(Embeddings):
    """LangChain `Embeddings` over a `hybrid.embed` dense model (default: offline MiniLM)."""

    def __init__(self, model: str = DEFAULT_DENSE_MODEL) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return dense_embedder(self.model).embed_documents(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return dense_embedder(self.model).embed_query(text).tolist()


def metadata_filter(value: Any) -> Optional[dict]:
    """A LangChain-style filter as a Qdrant filter dict (see the module docstring)."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.keys() & _FILTER_KEYS:
        return as_filter(value)  # already a Qdrant filter
    must = []
    for key, wanted in value.items():
        field = f"{METADATA_KEY}.{key}"
        if isinstance(wanted, dict) and wanted and set(wanted) <= _RANGE_KEYS:
            must.append({"key": field, "range": wanted})
        elif isinstance(wanted, (list, tuple)):
            must.append({"key": field, "match": {"any": list(wanted)}})
        elif isinstance(wanted, float):
            must.append({"key": field, "range": {"gte": wanted, "lte": wanted}})
        elif isinstance(wanted, (str, int, bool)):
            must.append({"key": field, "match": {"value": wanted}})
        else:
            raise TypeError(f"filter[{key!r}] must be a str, number, bool, list or range dict, "
                            f"got {type(wanted).__name__}")
    return {"must": must}


class HybridVectorStore(VectorStore):
    """A LangChain vector store on one collection of the engine.

    Connect with exactly one of `client` (a `hybrid.Client` or a `qdrant_client.QdrantClient`),
    `url` (our server, through qdrant_client) or `path` (a persistent embedded Client); none gives
    an in-memory Client. `embedding` defaults to MiniLM (`HybridEmbeddings`). `retrieval_mode` is
    the default of the search methods ("dense", "sparse" or "hybrid"; each call may pass its own);
    hybrid fuses both branches by RRF with `rrf_k` and `weights=(dense, sparse)`.
    """

    def __init__(self, embedding: Optional[Embeddings] = None, *, collection_name: str = "langchain",
                 client: Any = None, url: Optional[str] = None, path: Optional[str | Path] = None,
                 api_key: Optional[str] = None, retrieval_mode: str = "dense", distance: str = "Cosine",
                 rrf_k: Optional[int] = None, weights: Optional[Sequence[float]] = None,
                 prefetch_limit: Optional[int] = None) -> None:
        if embedding is not None and not isinstance(embedding, Embeddings):
            raise TypeError(f"embedding must be a langchain Embeddings, got {type(embedding).__name__}")
        self.retrieval_mode = check_mode(retrieval_mode)
        self.weights = check_weights(weights)
        self.rrf_k = check_rrf_k(rrf_k)
        self.prefetch_limit = prefetch_limit
        self.embedding = embedding if embedding is not None else HybridEmbeddings()
        self.client, self._owns_client = connect(client, url, path, api_key)
        self.collection = HybridCollection(self.client, collection_name, distance=distance)

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    def close(self) -> None:
        """Close the client if this store opened it (a path-backed Client releases its folder)."""
        if self._owns_client:
            self.client.close()

    # ---------------------------------------------------------------- writes
    def add_texts(self, texts: Iterable[str], metadatas: Optional[list[dict]] = None, *,
                  ids: Optional[list[Optional[str]]] = None, **kwargs: Any) -> list[str]:
        """Embed and upsert `texts`; ids given are kept (an existing id is overwritten), missing
        ones (None) are new UUIDs. Returns the ids in input order."""
        texts = list(texts)
        metadatas = [{} for _ in texts] if metadatas is None else list(metadatas)
        ids = [None] * len(texts) if ids is None else list(ids)
        if len(metadatas) != len(texts):
            raise ValueError(f"metadatas has {len(metadatas)} items for {len(texts)} texts")
        if len(ids) != len(texts):
            raise ValueError(f"ids has {len(ids)} items for {len(texts)} texts")
        if not texts:
            return []
        keys = [str(i) if i is not None else str(uuid.uuid4()) for i in ids]
        payloads = [{ID_KEY: key, CONTENT_KEY: text, METADATA_KEY: dict(meta or {})}
                    for key, text, meta in zip(keys, texts, metadatas, strict=True)]
        dense = self.embedding.embed_documents(texts)
        self.collection.upsert([point_id(k) for k in keys], dense, bm25_documents(texts), payloads)
        return keys

    def delete(self, ids: Optional[list[str]] = None, **kwargs: Any) -> bool:
        """Delete the given ids (missing ones are ignored), or the points matching
        `filter=...`, or, with neither, the whole collection."""
        flt = kwargs.get("filter")
        if ids is not None:
            self.collection.delete_ids([point_id(i) for i in ids])
        elif flt is not None:
            self.collection.delete_where(metadata_filter(flt))
        else:
            self.collection.drop()
        return True

    # ---------------------------------------------------------------- reads
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [_document(hit) for hit in self.collection.retrieve([point_id(i) for i in ids])]

    def similarity_search(self, query: str, k: int = 4, filter: Any = None, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter=filter, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Any = None,
                                     retrieval_mode: Optional[str] = None,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        """Best `k` documents and their scores: cosine similarity (dense), BM25 (sparse) or the
        fused RRF score (hybrid)."""
        mode = check_mode(retrieval_mode or self.retrieval_mode)
        dense = self.embedding.embed_query(query) if mode != "sparse" else None
        sparse = bm25_query(query) if mode != "dense" else None
        hits = self.collection.search(mode, k, dense=dense, sparse=sparse, flt=metadata_filter(filter),
                                      rrf_k=self.rrf_k, weights=self.weights, prefetch_limit=self.prefetch_limit)
        return [(_document(h), float(h.score)) for h in hits]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, filter: Any = None,
                                    **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter=filter)]

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4, filter: Any = None,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        """Dense search by a query vector (a vector has no BM25 terms, so always dense mode)."""
        hits = self.collection.search("dense", k, dense=embedding, flt=metadata_filter(filter))
        return [(_document(h), float(h.score)) for h in hits]

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
                                      filter: Any = None, **kwargs: Any) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(self.embedding.embed_query(query), k, fetch_k,
                                                            lambda_mult, filter=filter)

    def max_marginal_relevance_search_by_vector(self, embedding: list[float], k: int = 4, fetch_k: int = 20,
                                                lambda_mult: float = 0.5, filter: Any = None,
                                                **kwargs: Any) -> list[Document]:
        """MMR over the `fetch_k` dense nearest, run by the engine: each pick maximises
        lambda_mult * sim(query, d) - (1 - lambda_mult) * max_{s picked} sim(d, s)."""
        if not 0.0 <= lambda_mult <= 1.0:
            raise ValueError(f"lambda_mult must be in [0, 1], got {lambda_mult!r}")
        hits = self.collection.search("dense", k, dense=embedding, flt=metadata_filter(filter),
                                      mmr=(1.0 - lambda_mult, max(fetch_k, k)))
        return [_document(h) for h in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return self._relevance_fn(self.retrieval_mode)

    def _relevance_fn(self, mode: str) -> Callable[[float], float]:
        """Scores to [0, 1]: dense Cosine/Dot (1 + s) / 2, Euclid 1 - d / sqrt(2); sparse BM25
        s / (1 + s); hybrid the RRF score over its maximum (`rrf_relevance`)."""
        if mode == "hybrid":
            return lambda s: rrf_relevance(s, self.rrf_k, self.weights)
        if mode == "sparse":
            return lambda s: s / (1.0 + s)
        if self.collection.distance == "Euclid":
            return self._euclidean_relevance_score_fn
        return lambda s: (1.0 + s) / 2.0

    def _similarity_search_with_relevance_scores(self, query: str, k: int = 4,
                                                 **kwargs: Any) -> list[tuple[Document, float]]:
        relevance = self._relevance_fn(check_mode(kwargs.get("retrieval_mode") or self.retrieval_mode))
        return [(doc, relevance(score)) for doc, score in self.similarity_search_with_score(query, k, **kwargs)]

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_texts(cls, texts: list[str], embedding: Optional[Embeddings] = None,
                   metadatas: Optional[list[dict]] = None, *, ids: Optional[list[str]] = None,
                   **kwargs: Any) -> "HybridVectorStore":
        """A store (keyword arguments as for the constructor) holding `texts`."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store


def _document(hit: Hit) -> Document:
    payload = hit.payload
    return Document(id=str(payload.get(ID_KEY, hit.id)), page_content=payload.get(CONTENT_KEY, ""),
                    metadata=payload.get(METADATA_KEY) or {})
