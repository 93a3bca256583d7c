"""The framework-free half of the adapters: one collection, its layout, queries and embedders.

Layout of a collection written by an adapter: every point has a dense vector named
`"dense"` (the embeddings' dimension, Cosine by default) and a sparse BM25 vector named
`"sparse"` (`qdrant/bm25` term weights, `modifier: idf`), so any retrieval mode works at query
time whatever the default mode was when the points were written:

- `dense`:  nearest points by the dense vector;
- `sparse`: BM25, i.e. sum over query terms t of idf(t) * tf-weight(t, d) (sparse dot product);
- `hybrid`: both as prefetches, fused server-side by weighted RRF: a point at 0-based rank r in
  branch i scores sum_i 1 / (k + (r + 1) / w_i - 1) (k defaults to 2, as in Qdrant).

The client is either the embedded `hybrid.Client` (requests as Qdrant-shaped dicts) or a
`qdrant_client.QdrantClient` talking to our server (`hybrid serve`) over REST or gRPC, for which
every request part is built as a `qdrant_client.models` object (its gRPC conversion takes models
only).
"""

from __future__ import annotations

import functools
import uuid
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Optional, Sequence

import msgspec
import numpy as np

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"
RETRIEVAL_MODES = ("dense", "sparse", "hybrid")
DISTANCES = ("Cosine", "Dot", "Euclid")
DEFAULT_DENSE_MODEL = "minilm"
SPARSE_MODEL = "qdrant/bm25"
DEFAULT_RRF_K = 2  # Qdrant's default; the engine applies it when k is left out
_ID_NAMESPACE = uuid.UUID("6b1f4c1e-2f7a-5d2b-9a57-6e0c1d9b7a11")  # fixed: ids must map the same forever
_UPSERT_BATCH = 256


# ---------------------------------------------------------------- ids and embedders
def point_id(key: Any) -> str:
    """The point id of an adapter id: a UUID string in canonical form as it is, any other
    value as `uuid5(namespace, str(value))`, so every framework id is a valid Qdrant id and
    maps to the same point on every call (the original id is kept in the payload)."""
    text = str(key)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(_ID_NAMESPACE, text))


@functools.cache
def dense_embedder(name: str = DEFAULT_DENSE_MODEL) -> Any:
    """A `hybrid.embed` dense embedder, created once per process (the model loads on first use)."""
    from hybrid.embed.registry import get_embedder

    return get_embedder(name)


@functools.cache
def sparse_encoder() -> Any:
    """The `qdrant/bm25` sparse encoder, created once per process."""
    from hybrid.embed.registry import get_embedder

    return get_embedder(SPARSE_MODEL)


def bm25_documents(texts: Sequence[str]) -> list[dict]:
    """BM25 document vectors ({"indices", "values"}) of `texts`."""
    return [{"indices": idx.tolist(), "values": val.tolist()} for idx, val in sparse_encoder().embed_documents(texts)]


def bm25_query(text: str) -> dict:
    """BM25 query vector of `text` (weight 1 per distinct term); empty when no term survives."""
    idx, val = sparse_encoder().embed_query(text)
    return {"indices": idx.tolist(), "values": val.tolist()}


def check_mode(mode: Any, field: str = "retrieval_mode") -> str:
    value = getattr(mode, "value", mode)
    if value not in RETRIEVAL_MODES:
        raise ValueError(f"{field} must be one of {', '.join(RETRIEVAL_MODES)}, got {mode!r}")
    return value


def check_weights(weights: Any, field: str = "weights") -> Optional[tuple[float, float]]:
    if weights is None:
        return None
    try:
        dense, sparse = (float(w) for w in weights)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be two numbers (dense, sparse), got {weights!r}") from None
    if dense < 0 or sparse < 0 or dense + sparse <= 0:
        raise ValueError(f"{field} must be non-negative and not both zero, got {weights!r}")
    return dense, sparse


def check_rrf_k(rrf_k: Any) -> Optional[int]:
    if rrf_k is not None and (not isinstance(rrf_k, int) or isinstance(rrf_k, bool) or rrf_k < 1):
        raise ValueError(f"rrf_k must be a positive integer, got {rrf_k!r}")
    return rrf_k


def rrf_relevance(score: float, k: Optional[int], weights: Optional[tuple[float, float]]) -> float:
    """A fused RRF score divided by the best possible one (rank 0 in both branches), in [0, 1]:
    max = sum_i 1 / (k + 1 / w_i - 1) over the branches with w_i > 0."""
    k = DEFAULT_RRF_K if k is None else k
    best = sum(1.0 / (k + 1.0 / w - 1.0) for w in (weights or (1.0, 1.0)) if w > 0)
    return min(1.0, score / best) if best > 0 else 0.0


# ---------------------------------------------------------------- clients
def connect(client: Any = None, url: Optional[str] = None, path: Optional[str | Path] = None,
            api_key: Optional[str] = None) -> tuple[Any, bool]:
    """(client, owned): the given client, a `qdrant_client.QdrantClient(url)`, a path-backed
    `hybrid.Client(path=...)` or an in-memory `hybrid.Client()`; `owned` says we must close it."""
    given = [name for name, value in (("client", client), ("url", url), ("path", path)) if value is not None]
    if len(given) > 1:
        raise ValueError(f"pass at most one of client, url and path (got {', '.join(given)})")
    if client is not None:
        return client, False
    if url is not None:
        from hybrid.integrations import require

        qdrant_client = require("qdrant_client", "qdrant-client", "url=... (a server connection)")
        return qdrant_client.QdrantClient(url=url, api_key=api_key), True
    from hybrid import Client

    return (Client(path=path) if path is not None else Client()), True


class Hit(NamedTuple):
    """One point as the adapters see it (score is None for points fetched by id)."""

    id: Any
    score: Optional[float]
    payload: dict
    vector: Optional[list[float]]  # the dense vector, when asked for


def _plain(value: Any) -> Any:
    """A pydantic or msgspec model as builtins (dicts, lists), other values unchanged."""
    from hybrid import models as m

    if isinstance(value, msgspec.Struct):
        return m.to_builtins(value)
    if hasattr(value, "model_dump"):  # qdrant_client (pydantic) models
        return value.model_dump(exclude_none=True, mode="json")
    return value


def as_filter(value: Any) -> Optional[dict]:
    """A Qdrant filter (dict, `hybrid.models` or `qdrant_client.models` object) as a dict."""
    if value is None:
        return None
    data = _plain(value)
    if not isinstance(data, dict):
        raise TypeError(f"filter must be a Qdrant filter object or dict, got {type(value).__name__}")
    return data


class HybridCollection:
    """One collection of the engine, through the embedded client or a remote qdrant_client."""

    def __init__(self, client: Any, name: str, *, distance: str = "Cosine",
                 keyword_fields: Sequence[str] = ()) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("collection_name must be a non-empty string")
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
        self.client = client
        self.name = name
        self.distance = distance
        self.keyword_fields = tuple(keyword_fields)
        self.remote = type(client).__module__.startswith("qdrant_client")
        self._ready = False  # the collection is known to exist

    # ---------------------------------------------------------------- conversions for qdrant_client
    def _wire(self, model: str, value: Any) -> Any:
        """`value` (a dict) as the `qdrant_client.models` type `model` for a remote client, else as it is."""
        if not self.remote or value is None:
            return value
        import pydantic
        from qdrant_client import models as qm

        return pydantic.TypeAdapter(getattr(qm, model)).validate_python(value)

    def _query(self, query: Any) -> Any:
        return self._wire("QueryInterface", query)

    def _prefetch(self, prefetch: list[dict]) -> list[Any]:
        return [self._wire("Prefetch", p) for p in prefetch]

    def _filter_selector(self, flt: dict) -> Any:
        return self._wire("FilterSelector", {"filter": flt})

    # ---------------------------------------------------------------- lifecycle
    def exists(self) -> bool:
        if not self._ready:
            self._ready = bool(self.client.collection_exists(self.name))
        return self._ready

    def ensure(self, dim: int) -> None:
        """Create the collection for `dim`-dimensional dense vectors, or check an existing one."""
        if self.exists():
            vectors = _plain(self.client.get_collection(self.name).config).get("params", {}).get("vectors")
            size = vectors.get(DENSE_VECTOR, {}).get("size") if isinstance(vectors, dict) else None
            if size != dim:
                raise ValueError(f"collection {self.name!r}: its vector {DENSE_VECTOR!r} has size {size}, "
                                 f"but the embeddings have {dim} dimensions (use another collection_name)")
            return
        dense = self._wire("VectorParams", {"size": dim, "distance": self.distance})
        self.client.create_collection(
            self.name, vectors_config={DENSE_VECTOR: dense},
            sparse_vectors_config={SPARSE_VECTOR: self._wire("SparseVectorParams", {"modifier": "idf"})})
        for field in self.keyword_fields:
            self.client.create_payload_index(self.name, field, self._wire("PayloadSchemaType", "keyword"))
        self._ready = True

    def drop(self) -> None:
        """Delete the collection (the next write creates it again)."""
        if self.client.collection_exists(self.name):
            self.client.delete_collection(self.name)
        self._ready = False

    # ---------------------------------------------------------------- writes
    def upsert(self, ids: Sequence[str], dense: Sequence[Sequence[float]], sparse: Sequence[dict],
               payloads: Sequence[dict]) -> None:
        """Write points (ids already mapped by `point_id`), in batches."""
        if not (len(ids) == len(dense) == len(sparse) == len(payloads)):
            raise ValueError("ids, vectors and payloads must have the same length")
        if not ids:
            return
        matrix = np.asarray(dense, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError("embeddings must be vectors of one and the same dimension")
        self.ensure(matrix.shape[1])
        for start in range(0, len(ids), _UPSERT_BATCH):
            stop = start + _UPSERT_BATCH
            points = [self._wire("PointStruct", {"id": pid, "vector": {DENSE_VECTOR: vec, SPARSE_VECTOR: sp},
                                                 "payload": pl})
                      for pid, vec, sp, pl in zip(ids[start:stop], matrix[start:stop].tolist(), sparse[start:stop],
                                                  payloads[start:stop], strict=True)]
            self.client.upsert(self.name, points, wait=True)

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids and self.exists():
            self.client.delete(self.name, points_selector=list(ids), wait=True)

    def delete_where(self, flt: dict) -> None:
        if self.exists():
            self.client.delete(self.name, points_selector=self._filter_selector(flt), wait=True)

    # ---------------------------------------------------------------- reads
    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[Hit]:
        if not ids or not self.exists():
            return []
        records = self.client.retrieve(self.name, list(ids), with_payload=True,
                                       with_vectors=[DENSE_VECTOR] if with_vectors else False)
        return [_hit(r, None) for r in records]

    def scroll(self, flt: Optional[dict] = None, with_vectors: bool = False, page: int = 256) -> Iterator[Hit]:
        """Every point matching `flt`, in id order."""
        if not self.exists():
            return
        offset = None
        while True:
            records, offset = self.client.scroll(self.name, scroll_filter=self._wire("Filter", flt), limit=page,
                                                 offset=offset,
                                                 with_payload=True,
                                                 with_vectors=[DENSE_VECTOR] if with_vectors else False)
            yield from (_hit(r, None) for r in records)
            if offset is None:
                return

    def count(self) -> int:
        return self.client.count(self.name).count if self.exists() else 0

    def search(self, mode: str, limit: int, *, dense: Optional[Sequence[float]] = None,
               sparse: Optional[dict] = None, flt: Optional[dict] = None, rrf_k: Optional[int] = None,
               weights: Optional[tuple[float, float]] = None, prefetch_limit: Optional[int] = None,
               mmr: Optional[tuple[float, int]] = None, with_vectors: bool = False) -> list[Hit]:
        """Best `limit` points for one query in `mode` (see the module docstring).

        `mmr=(diversity, candidates)` re-ranks the `candidates` dense nearest by MMR (dense mode only);
        `prefetch_limit` is how deep each hybrid branch goes (default max(2 * limit, 20)).
        """
        if limit <= 0 or not self.exists():
            return []
        dense = None if dense is None else np.asarray(dense, dtype=np.float32).tolist()
        sparse_ok = sparse is not None and len(sparse["indices"]) > 0
        request: dict[str, Any] = {"limit": limit, "query_filter": self._wire("Filter", flt), "with_payload": True,
                                   "with_vectors": [DENSE_VECTOR] if with_vectors else False}
        if mode == "dense" or (mode == "hybrid" and mmr is not None):
            if dense is None:
                raise ValueError("a dense query vector is needed for dense search")
            query: Any = dense if mmr is None else {
                "nearest": dense, "mmr": {"diversity": mmr[0], "candidates_limit": mmr[1]}}
            request.update(query=self._query(query), using=DENSE_VECTOR)
        elif mode == "sparse":
            if not sparse_ok:
                return []  # no query term survived tokenisation: nothing can match
            request.update(query=self._query(sparse), using=SPARSE_VECTOR)
        elif mode == "hybrid":
            if dense is None:
                raise ValueError("a dense query vector is needed for hybrid search")
            depth = max(prefetch_limit or max(2 * limit, 20), limit)
            branches = [{"query": dense, "using": DENSE_VECTOR, "limit": depth, "filter": flt}]
            branch_weights = [1.0 if weights is None else weights[0]]
            if sparse_ok:
                branches.append({"query": sparse, "using": SPARSE_VECTOR, "limit": depth, "filter": flt})
                branch_weights.append(1.0 if weights is None else weights[1])
            rrf: dict[str, Any] = {} if rrf_k is None else {"k": rrf_k}
            if weights is not None:
                rrf["weights"] = branch_weights
            request.update(prefetch=self._prefetch([{k: v for k, v in b.items() if v is not None} for b in branches]),
                           query=self._query({"rrf": rrf}))
        else:
            raise ValueError(f"unknown retrieval mode {mode!r}")
        return [_hit(p, p.score) for p in self.client.query_points(self.name, **request).points]


def _hit(point: Any, score: Optional[float]) -> Hit:
    vector = point.vector
    if isinstance(vector, dict):
        vector = vector.get(DENSE_VECTOR)
    return Hit(point.id, score, dict(point.payload or {}), list(vector) if vector is not None else None)
