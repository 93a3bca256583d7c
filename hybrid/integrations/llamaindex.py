"""LlamaIndex vector store over the engine: `HybridVectorStore` (dense, sparse BM25, hybrid RRF, MMR).

    from hybrid.integrations.llamaindex import HybridEmbedding, HybridVectorStore
    store = HybridVectorStore("docs", path="./data")
    index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store),
                             embed_model=HybridEmbedding())
    index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5).retrieve(question)

A node's point (id `store.point_id(node_id)`) carries LlamaIndex's usual payload
(`node_to_metadata_dict`: the node's metadata at the top level, `_node_content`, `doc_id`, ...) plus
its text under "text", a dense vector (the node's embedding, or `embed_model`'s) and a BM25 vector
of the text the embedding saw (`MetadataMode.EMBED`). `MetadataFilters` become Qdrant filters on
those top-level keys. Needs `llama-index-core` (`pip install "hybrid-vecsearch[adapters]"`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Sequence

from hybrid.integrations import missing_extra
from hybrid.integrations.store import (
    DEFAULT_DENSE_MODEL, HybridCollection, Hit, bm25_documents, bm25_query, check_rrf_k, check_weights,
    connect, dense_embedder, point_id,
)

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.schema import BaseNode, MetadataMode
    from llama_index.core.vector_stores.types import (
        BasePydanticVectorStore, FilterCondition, FilterOperator, MetadataFilter, MetadataFilters,
        VectorStoreQuery, VectorStoreQueryMode, VectorStoreQueryResult,
    )
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
except ImportError as exc:
    raise missing_extra("llama-index-core", "hybrid.integrations.llamaindex") from exc

TEXT_KEY = "text"
REF_DOC_KEY = "doc_id"  # written by node_to_metadata_dict; keyword-indexed for delete(ref_doc_id)
_RANGES = {FilterOperator.GT: "gt", FilterOperator.GTE: "gte", FilterOperator.LT: "lt", FilterOperator.LTE: "lte"}
_MODES = {VectorStoreQueryMode.DEFAULT: "dense", VectorStoreQueryMode.MMR: "dense",
          VectorStoreQueryMode.SPARSE: "sparse", VectorStoreQueryMode.TEXT_SEARCH: "sparse",
          VectorStoreQueryMode.HYBRID: "hybrid"}


class HybridEmbedding(BaseEmbedding):
    """LlamaIndex embedding model over a `hybrid.embed` dense model (default: offline MiniLM)."""

    model_name: str = DEFAULT_DENSE_MODEL

    @classmethod
    def class_name(cls) -> str:
        return "HybridEmbedding"

    def _get_query_embedding(self, query: str) -> List[float]:
        return dense_embedder(self.model_name).embed_query(query).tolist()

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return dense_embedder(self.model_name).embed_documents(list(texts)).tolist() if texts else []

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._get_query_embedding(query)


# ---------------------------------------------------------------- filters
def _equals(key: str, value: Any) -> dict:
    # Qdrant matches keywords, integers and bools; a float equality is a closed range
    if isinstance(value, float):
        return {"key": key, "range": {"gte": value, "lte": value}}
    return {"key": key, "match": {"value": value}}


def _values(flt: MetadataFilter) -> list:
    if not isinstance(flt.value, list):
        raise ValueError(f"filters[{flt.key!r}]: operator {flt.operator.value!r} needs a list value")
    return list(flt.value)


def filter_condition(flt: MetadataFilter) -> dict:
    """One LlamaIndex filter as a Qdrant condition (a nested filter where negation is needed)."""
    op, key, value = FilterOperator(flt.operator), flt.key, flt.value
    if op in (FilterOperator.EQ, FilterOperator.CONTAINS):  # a value in an array field matches too
        return _equals(key, value)
    if op == FilterOperator.NE:
        return {"must_not": [_equals(key, value)]}
    if op in _RANGES:
        return {"key": key, "range": {_RANGES[op]: value}}
    if op in (FilterOperator.IN, FilterOperator.ANY):
        return {"key": key, "match": {"any": _values(flt)}}
    if op == FilterOperator.NIN:
        return {"must_not": [{"key": key, "match": {"any": _values(flt)}}]}
    if op == FilterOperator.ALL:
        return {"must": [_equals(key, v) for v in _values(flt)]}
    if op == FilterOperator.TEXT_MATCH:
        return {"key": key, "match": {"text": value}}
    if op == FilterOperator.IS_EMPTY:
        return {"is_empty": {"key": key}}
    raise ValueError(f"filters[{key!r}]: operator {op.value!r} is not supported")


def to_qdrant_filter(filters: Optional[MetadataFilters]) -> Optional[dict]:
    """`MetadataFilters` as a Qdrant filter: AND -> must, OR -> should, NOT -> must_not (none
    of them holds); nested `MetadataFilters` become nested filters."""
    if filters is None or not filters.filters:
        return None
    conditions = [to_qdrant_filter(f) if isinstance(f, MetadataFilters) else filter_condition(f)
                  for f in filters.filters]
    clause = {FilterCondition.AND: "must", FilterCondition.OR: "should", FilterCondition.NOT: "must_not"}
    return {clause[FilterCondition(filters.condition or FilterCondition.AND)]: conditions}


def _all_of(*filters: Optional[dict]) -> Optional[dict]:
    parts = [f for f in filters if f]
    return None if not parts else parts[0] if len(parts) == 1 else {"must": parts}


# ---------------------------------------------------------------- the store
class HybridVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store on one collection of the engine.

    Connect with exactly one of `client` (a `hybrid.Client` or a `qdrant_client.QdrantClient`),
    `url` (our server, through qdrant_client) or `path` (a persistent embedded Client); none gives
    an in-memory Client. `embed_model` embeds nodes without an embedding and text-only queries
    (default `HybridEmbedding()`, MiniLM). Query modes: default (dense), sparse / text_search
    (BM25), hybrid (RRF of both; `alpha` weighs dense vs sparse as weights (alpha, 1 - alpha),
    `rrf_k` is RRF's k) and mmr (`mmr_threshold` is MMR's lambda, default 0.5).
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str
    distance: str = "Cosine"
    rrf_k: Optional[int] = None
    prefetch_limit: Optional[int] = None

    _collection: HybridCollection = PrivateAttr()
    _owns_client: bool = PrivateAttr()
    _embed_model: BaseEmbedding = PrivateAttr()

    def __init__(self, collection_name: str = "llama_index", *, client: Any = None, url: Optional[str] = None,
                 path: Optional[str | Path] = None, api_key: Optional[str] = None,
                 embed_model: Optional[BaseEmbedding] = None, distance: str = "Cosine",
                 rrf_k: Optional[int] = None, prefetch_limit: Optional[int] = None) -> None:
        if embed_model is not None and not isinstance(embed_model, BaseEmbedding):
            raise TypeError(f"embed_model must be a llama_index BaseEmbedding, got {type(embed_model).__name__}")
        super().__init__(collection_name=collection_name, distance=distance, rrf_k=check_rrf_k(rrf_k),
                         prefetch_limit=prefetch_limit)
        engine, self._owns_client = connect(client, url, path, api_key)
        self._collection = HybridCollection(engine, collection_name, distance=distance,
                                            keyword_fields=(REF_DOC_KEY,))
        self._embed_model = embed_model if embed_model is not None else HybridEmbedding()

    @classmethod
    def class_name(cls) -> str:
        return "HybridVectorStore"

    @property
    def client(self) -> Any:
        return self._collection.client

    def close(self) -> None:
        """Close the client if this store opened it (a path-backed Client releases its folder)."""
        if self._owns_client:
            self._collection.client.close()

    # ---------------------------------------------------------------- writes
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> List[str]:
        """Upsert nodes (same node id = same point); returns their node ids."""
        nodes = list(nodes)
        if not nodes:
            return []
        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        missing = [i for i, n in enumerate(nodes) if n.embedding is None]
        computed = iter(self._embed_model.get_text_embedding_batch([texts[i] for i in missing]) if missing else [])
        dense = [n.embedding if n.embedding is not None else next(computed) for n in nodes]
        payloads = []
        for node in nodes:
            payload = node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
            payload[TEXT_KEY] = node.get_content(metadata_mode=MetadataMode.NONE)
            payloads.append(payload)
        self._collection.upsert([point_id(n.node_id) for n in nodes], dense, bm25_documents(texts), payloads)
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document `ref_doc_id`."""
        self._collection.delete_where({"must": [{"key": REF_DOC_KEY, "match": {"value": ref_doc_id}}]})

    def delete_nodes(self, node_ids: Optional[List[str]] = None, filters: Optional[MetadataFilters] = None,
                     **delete_kwargs: Any) -> None:
        """Delete the given nodes that match `filters` (with neither, every node, as LlamaIndex's
        SimpleVectorStore does)."""
        if node_ids is not None and filters is None:
            self._collection.delete_ids([point_id(i) for i in node_ids])
        else:
            self._collection.delete_where(_all_of(self._ids_filter(node_ids), to_qdrant_filter(filters)) or {})

    def clear(self) -> None:
        """Delete the collection (the next add creates it again)."""
        self._collection.drop()

    # ---------------------------------------------------------------- reads
    def get_nodes(self, node_ids: Optional[List[str]] = None,
                  filters: Optional[MetadataFilters] = None) -> List[BaseNode]:
        """Nodes by id (in the order given) and/or matching `filters` (in point id order)."""
        if node_ids is not None and filters is None:
            return [_node(h) for h in self._collection.retrieve([point_id(i) for i in node_ids])]
        flt = _all_of(self._ids_filter(node_ids), to_qdrant_filter(filters))
        return [_node(h) for h in self._collection.scroll(flt)]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Best `similarity_top_k` nodes (`hybrid_top_k` in hybrid mode, `sparse_top_k` in sparse).

        kwargs: `mmr_threshold` (when the query has none), `mmr_prefetch_k` (MMR candidates) or
        `mmr_prefetch_factor` (candidates = factor * top k, default 4)."""
        mode = VectorStoreQueryMode(query.mode)
        if mode not in _MODES:
            raise ValueError(f"mode: {mode.value!r} is not supported (default, sparse, text_search, hybrid, mmr)")
        engine_mode = _MODES[mode]
        limit = {"hybrid": query.hybrid_top_k, "sparse": query.sparse_top_k}.get(engine_mode) or query.similarity_top_k
        dense = self._query_embedding(query) if engine_mode != "sparse" else None
        sparse = bm25_query(query.query_str) if engine_mode != "dense" and query.query_str else None
        if engine_mode == "sparse" and sparse is None:
            raise ValueError("query: sparse search needs query_str")
        weights = None
        if engine_mode == "hybrid" and query.alpha is not None:
            weights = check_weights((query.alpha, 1.0 - query.alpha), "alpha")
        mmr = _mmr(query, limit, kwargs) if mode == VectorStoreQueryMode.MMR else None
        hits = self._collection.search(engine_mode, limit, dense=dense, sparse=sparse, flt=self._query_filter(query),
                                       rrf_k=self.rrf_k, weights=weights, prefetch_limit=self.prefetch_limit, mmr=mmr)
        nodes = [_node(h) for h in hits]
        return VectorStoreQueryResult(nodes=nodes, similarities=[float(h.score) for h in hits],
                                      ids=[n.node_id for n in nodes])

    def _query_embedding(self, query: VectorStoreQuery) -> List[float]:
        if query.query_embedding is not None:
            return query.query_embedding
        if not query.query_str:
            raise ValueError("query: needs query_embedding or query_str")
        return self._embed_model.get_query_embedding(query.query_str)

    def _query_filter(self, query: VectorStoreQuery) -> Optional[dict]:
        """filters AND node_ids AND doc_ids (VectorIndexRetriever sends node_ids=[] when its
        index keeps no node list: that is no restriction)."""
        docs = {"must": [{"key": REF_DOC_KEY, "match": {"any": list(query.doc_ids)}}]} if query.doc_ids else None
        return _all_of(to_qdrant_filter(query.filters), self._ids_filter(query.node_ids or None), docs)

    @staticmethod
    def _ids_filter(node_ids: Optional[List[str]]) -> Optional[dict]:
        return None if node_ids is None else {"must": [{"has_id": [point_id(i) for i in node_ids]}]}


def _mmr(query: VectorStoreQuery, limit: int, kwargs: dict) -> tuple[float, int]:
    """(diversity, candidates) for the engine's MMR: diversity = 1 - lambda (`mmr_threshold`)."""
    lam = query.mmr_threshold if query.mmr_threshold is not None else kwargs.get("mmr_threshold")
    lam = 0.5 if lam is None else float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"mmr_threshold must be in [0, 1], got {lam!r}")
    candidates = kwargs.get("mmr_prefetch_k") or limit * int(kwargs.get("mmr_prefetch_factor", 4))
    return 1.0 - lam, max(int(candidates), limit)


def _node(hit: Hit) -> BaseNode:
    payload = dict(hit.payload)
    return metadata_dict_to_node(payload, text=payload.pop(TEXT_KEY, None))
