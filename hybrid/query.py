"""Query requests: parse Qdrant's QueryRequest shape and run it against a collection.

A nearest query may be a dense vector, a multivector, a sparse vector, a point id (use that
point's vector, excluding the point), a Document (embedded by the client's inference hook), or
`{"nearest": ...}` around any of them. Prefetch trees and fusion build on `run_query`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.config import DEFAULT_VECTOR
from hybrid.errors import PointNotFound, ValidationError
from hybrid.ids import normalize_id
from hybrid.points import validate_sparse
from hybrid.search import Candidates, all_matching, hydrate, parse, internal_threshold, search_leaf

if TYPE_CHECKING:
    from hybrid.collection import Collection


class QueryRequest(m.Model):
    query: Any = None
    using: Optional[str] = None
    prefetch: Any = None
    filter: Any = None
    params: Optional[m.SearchParams] = None
    score_threshold: Optional[float] = None
    limit: int = 10
    offset: int = 0
    with_payload: Any = None
    with_vector: Any = None
    lookup_from: Any = None


def _point_vector(c: "Collection", point_id: Any, using: str, field: str) -> Any:
    pid = normalize_id(point_id, field)
    loc = c.where.get(pid)
    if loc is None:
        raise PointNotFound(pid)
    seg, off = loc
    value = seg.vector_of(off, using)
    if value is None:
        raise ValidationError(field, f"point {pid} has no vector {using or '(default)'!r}")
    return value


def prepare(c: "Collection", query: Any, using: str, infer: Any, field: str = "query") -> tuple[Any, Any]:
    """(prepared query for the store of `using`, id to exclude or None)."""
    query = m.to_builtins(query)
    if isinstance(query, dict) and "nearest" in query:
        query, field = query["nearest"], f"{field}.nearest"
    exclude = None
    if isinstance(query, (int, str)) and not isinstance(query, bool):
        exclude = normalize_id(query, field)
        query = _point_vector(c, query, using, field)
    if isinstance(query, dict) and "text" in query and "model" in query:
        if infer is None:
            raise ValidationError(field, "documents need an embedder: none is configured for this client")
        query = m.to_builtins(infer(query, using, c.schema.kind_of(using), field))
    kind = c.schema.kind_of(using)
    store = c.appendable.vectors[using]
    if kind == "sparse":
        if not (isinstance(query, dict) and "indices" in query):
            raise ValidationError(field, f"vector {using!r} is sparse: expected {{indices, values}}")
        idx, val = validate_sparse(query["indices"], query["values"], field)
        spec = c.schema.sparse[using]
        if spec.idf:
            val = val * _idf(c, using, idx)
        return (idx, val.astype(np.float32)), exclude
    try:
        arr = np.asarray(query, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValidationError(field, "expected a vector (list of numbers)") from None
    size = c.schema.dense[using].size
    want_ndim = 2 if kind == "multivector" else 1
    if arr.ndim != want_ndim or arr.shape[-1] != size or arr.size == 0:
        got = arr.shape[-1] if arr.ndim else 0
        raise ValidationError(field, f"Wrong input: Vector dimension error: expected dim: {size}, got {got}"
                              if arr.ndim == want_ndim else f"vector {using or '(default)'!r} expects a "
                              + ("multivector (list of vectors)" if want_ndim == 2 else "list of numbers"))
    if not np.isfinite(arr).all():
        raise ValidationError(field, "query vector contains NaN or inf")
    return store.prepare_query(arr), exclude


def _idf(c: "Collection", name: str, idx: np.ndarray) -> np.ndarray:
    """Qdrant's IDF: ln(1 + (N - df + 0.5) / (df + 0.5)) over live points having the vector."""
    df_all = c.df[name]
    df = np.zeros(idx.size, dtype=np.float64)
    inside = idx < df_all.size
    df[inside] = df_all[idx[inside]]
    n = c.docs_with(name)
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)


def default_using(c: "Collection", using: Optional[str]) -> str:
    name = DEFAULT_VECTOR if using is None else using
    c.schema.kind_of(name)
    return name


def run_query(c: "Collection", req: QueryRequest, infer: Any = None) -> list[m.ScoredPoint]:
    """Nearest-neighbour query (the Query API without prefetch); see hybrid/planner for trees."""
    if req.limit < 0:
        raise ValidationError("limit", "must be non-negative")
    if req.offset < 0:
        raise ValidationError("offset", "must be non-negative")
    with_payload = True if req.with_payload is None else req.with_payload
    if req.prefetch:
        from hybrid.planner import is_fusion, top_level

        query = m.to_builtins(req.query)
        cand = top_level(c, req, infer)
        cand = cand.take(np.arange(min(req.offset, len(cand)), len(cand)))
        using = None if query is None or is_fusion(query) else default_using(c, req.using)
        shown = c.schema.dense[using].distance if using in c.schema.dense else None
        return hydrate(cand, with_payload, req.with_vector, shown)
    using = default_using(c, req.using)
    flt = parse(req.filter, "filter")
    distance = c.schema.dense[using].distance if using in c.schema.dense else None
    if req.query is None:  # no query: matching points in id order, score 0
        cand = all_matching(c, flt)
        cand = cand.take(np.arange(min(req.offset, len(cand)), min(req.offset + req.limit, len(cand))))
        return hydrate(cand, with_payload, req.with_vector, None)
    prepared, exclude = prepare(c, req.query, using, infer)
    cand: Candidates = search_leaf(
        c, using, prepared, req.limit + req.offset, flt, req.params,
        internal_threshold(req.score_threshold, distance), exclude,
    )
    cand = cand.take(np.arange(min(req.offset, len(cand)), len(cand)))
    return hydrate(cand, with_payload, req.with_vector, distance)
