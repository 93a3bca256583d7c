"""The plain nearest-neighbour query, without the general Query API machinery.

Most traffic is "this dense (or sparse) vector, top k, maybe with payload": parsing it into a plan tree
costs more than the HNSW walk itself. `nearest` answers exactly that shape (and returns None for
anything else, which then takes the general path) with the same results: same per-segment
search, same merge (ties by point id), same hydration. `nearest_batch` runs many such queries
through each segment's graph in one kernel call.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.config import DEFAULT_VECTOR
from hybrid.errors import ValidationError
from hybrid.points import validate_sparse
from hybrid.queries.parse import bm25_query
from hybrid.queries.vectors import idf_weights
from hybrid.filtering.allowed import allowed_points, search_allowed, use_graph
from hybrid.search import hydrate, merge_hits, search_args, search_leaf
from indexes.plain import normalize_rows

if TYPE_CHECKING:
    from hybrid.view import CollectionView

_NUMERIC = (list, tuple, np.ndarray)


def _dense_name(c: "CollectionView", query: Any, using: Optional[str]) -> Optional[str]:
    """The dense vector name `query` is meant for, when it is a plain dense vector."""
    name = DEFAULT_VECTOR if using is None else using
    spec = c.schema.dense.get(name)
    if spec is None or spec.multivector or not isinstance(query, _NUMERIC) or len(query) == 0:
        return None
    if isinstance(query, (list, tuple)) and not isinstance(query[0], (int, float)):
        return None
    return name


def _prepared(c: "CollectionView", name: str, queries: np.ndarray) -> np.ndarray:
    """(n, dim) float32 queries checked for dimension and finiteness, unit length for Cosine."""
    spec = c.schema.dense[name]
    if queries.shape[-1] != spec.size:
        raise ValidationError("query", f"Vector dimension error: expected dim: {spec.size}, "
                                       f"got {queries.shape[-1]}")
    square = float(np.dot(queries, queries)) if queries.ndim == 1 else math.inf
    if not math.isfinite(square) and not np.isfinite(queries).all():  # a finite square has finite terms
        raise ValidationError("query", "query vector contains NaN or inf")
    return normalize_rows(queries) if spec.distance == "Cosine" else queries


def _dense_query(c: "CollectionView", query: Any, using: Optional[str]) -> Optional[tuple[str, np.ndarray]]:
    """(vector name, float32 query) when `query` is a plain dense vector for a dense name."""
    name = _dense_name(c, query, using)
    if name is None:
        return None
    q = np.asarray(query, dtype=np.float32)
    if q.ndim != 1:
        return None
    return name, _prepared(c, name, q)


def _sparse_query(c: "CollectionView", query: Any, using: Optional[str]) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(indices, IDF-weighted values) when `query` is a plain sparse vector for a sparse name."""
    if using not in c.schema.sparse:
        return None
    if isinstance(query, dict):
        if set(query) != {"indices", "values"}:
            return None
        indices, values = query["indices"], query["values"]
    elif type(query).__name__ == "SparseVector":  # hybrid.models or qdrant_client.models
        indices, values = query.indices, query.values
    else:
        return None
    idx, val = validate_sparse(indices, values, "query")
    if not idx.size:
        return None
    if c.schema.sparse[using].idf:
        val = val * idf_weights(c, using, idx)
    return idx, val.astype(np.float32, copy=False)


def _params(params: Any) -> Optional[m.SearchParams]:
    if params is None or isinstance(params, m.SearchParams):
        return params
    return m.convert(params, m.SearchParams, "params")


def nearest(c: "CollectionView", query: Any, using: Optional[str], limit: int, params: Any,
            with_payload: Any, with_vectors: Any, flt: Any = None) -> Optional[list[m.ScoredPoint]]:
    """Top `limit` for a plain dense or sparse vector or a BM25 text query, under an optional
    parsed filter, or None when the request needs the general path."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        return None
    with_payload = True if with_payload is None else with_payload
    if using is None and isinstance(query, dict) and len(query) == 1 and "bm25" in query:
        op = bm25_query(query, "query")
        cand = c.text.search(op.field, op.text, limit, flt, op.k1, op.b, "query.bm25")
        return hydrate(cand, with_payload, with_vectors, None)
    sparse = _sparse_query(c, query, using)
    if sparse is not None:
        from hybrid.planner import nearest as nearest_with_ties

        cand = nearest_with_ties(c, using, sparse, limit, flt, _params(params), None)
        return hydrate(cand, with_payload, with_vectors, None)
    found = _dense_query(c, query, using)
    if found is None:
        return None
    name, q = found
    cand = search_leaf(c, name, q, limit, flt, params=_params(params))
    return hydrate(cand, with_payload, with_vectors, c.schema.dense[name].distance)


def nearest_batch(c: "CollectionView", requests: list[Any]) -> Optional[list[list[m.ScoredPoint]]]:
    """Many plain dense queries on one name with one limit and params: one kernel call per segment."""
    shapes = []
    for raw in requests:
        req = raw if isinstance(raw, dict) else m.to_builtins(raw)
        if not isinstance(req, dict) or set(req) - {"query", "using", "limit", "params", "with_payload",
                                                     "with_vector", "with_vectors"}:
            return None
        shapes.append(req)
    if not shapes:
        return []
    first = shapes[0]
    same = ("using", "limit", "params")
    if any(r.get(k) != first.get(k) for r in shapes for k in same):
        return None
    names = {_dense_name(c, r.get("query"), r.get("using")) for r in shapes}
    if len(names) != 1 or None in names:
        return None
    name = names.pop()
    try:
        matrix = np.asarray([r["query"] for r in shapes], dtype=np.float32)
    except ValueError:  # ragged: let the general path name the bad request
        return None
    if matrix.ndim != 2:
        return None
    matrix = _prepared(c, name, matrix)
    limit = int(first.get("limit") or 10)
    args = search_args(_params(first.get("params")))
    graph_args = {k: v for k, v in args.items() if k != "exact"}
    per_segment = []
    for seg in c.segments:
        if seg.size == 0:
            continue
        allowed = allowed_points(seg, name, None)
        store = seg.vectors[name]
        if allowed.count >= seg.size and use_graph(store, allowed.count, seg.size, args.get("exact", False), args.get("ef")):
            per_segment.append((seg, store.index.search_batch(matrix, limit, None, **graph_args)))
        elif allowed.count:  # the single query's path, query by query
            per_segment.append((seg, [search_allowed(store, q, limit, allowed, seg.size, **args) for q in matrix]))
    distance = c.schema.dense[name].distance
    out = []
    for i, r in enumerate(shapes):
        cand = merge_hits([(seg, hits[i]) for seg, hits in per_segment]).ranked(limit)
        with_payload = r.get("with_payload", True)
        out.append(hydrate(cand, True if with_payload is None else with_payload,
                           r.get("with_vector", r.get("with_vectors")), distance))
    return out
