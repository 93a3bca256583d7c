"""Prefetch trees: run the leaves, then merge bottom-up (fusion or rescoring), as Qdrant does.

A request with `prefetch` is a tree. Each level's filter is propagated down to its leaves (so
prefetch limits apply to filtered candidates); leaves are nearest searches; an inner node
merges its children's candidates with its own `query`:
- `{"fusion": "rrf"|"dbsf"}`, `{"rrf": {"k", "weights"}}`: fusion/ functions over ranks/scores;
- `{"linear": {"weights", "normalization"}}` (our extension): weighted linear fusion;
- a vector / point id / document (nearest): rescore the union of candidates with that vector
  on `using` (the ColBERT rerank pattern when `using` is a multivector).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.errors import ValidationError
from hybrid.search import Candidates, internal_threshold, parse, search_leaf

if TYPE_CHECKING:
    from hybrid.collection import Collection

MAX_DEPTH = 8
FUSIONS = ("fusion", "rrf", "linear")


def merge_filters(outer: Any, inner: Any) -> Any:
    if outer is None:
        return inner
    if inner is None:
        return outer
    return {"must": [outer, inner]}


def as_list(prefetch: Any) -> list:
    if prefetch is None:
        return []
    return prefetch if isinstance(prefetch, list) else [prefetch]


def is_fusion(query: Any) -> bool:
    return isinstance(query, dict) and any(k in query for k in FUSIONS)


def execute(c: "Collection", node: dict, infer: Any, limit: int, propagated: Any = None,
            field: str = "", depth: int = 0) -> Candidates:
    """Candidates of one tree node, ranked, at most `limit` (internal scores)."""
    from hybrid.query import default_using, prepare

    if depth > MAX_DEPTH:
        raise ValidationError(f"{field}prefetch", f"prefetch nesting is deeper than {MAX_DEPTH} levels")
    flt = merge_filters(propagated, node.get("filter"))
    query = m.to_builtins(node.get("query"))
    using = None if is_fusion(query) else default_using(c, node.get("using"))
    distance = c.schema.dense[using].distance if using in c.schema.dense else None
    threshold = node.get("score_threshold")
    children = as_list(node.get("prefetch"))
    if not children:
        if query is None:
            raise ValidationError(f"{field}query", "a prefetch needs a query")
        if is_fusion(query):
            raise ValidationError(f"{field}query", "fusion needs prefetches to fuse")
        prepared, exclude = prepare(c, query, using, infer, f"{field}query")
        params = m.convert(node["params"], m.SearchParams, f"{field}params") if node.get("params") else None
        return search_leaf(c, using, prepared, limit, parse(flt, f"{field}filter"), params,
                           internal_threshold(threshold, distance), exclude)
    sources = []
    for i, child in enumerate(children):
        child = m.to_builtins(child)
        if not isinstance(child, dict):
            raise ValidationError(f"{field}prefetch[{i}]", "expected a prefetch object")
        sources.append(execute(c, child, infer, int(child.get("limit") or 10), flt,
                               f"{field}prefetch[{i}].", depth + 1))
    if query is None:
        if len(sources) > 1:
            raise ValidationError(f"{field}query", "a query (e.g. fusion) is needed to merge several prefetches")
        merged = sources[0]
    elif is_fusion(query):
        merged = fuse(sources, query, limit, f"{field}query")
        distance = None
    else:
        prepared, exclude = prepare(c, query, using, infer, f"{field}query")
        merged = rescore(c, union(sources), using, prepared)
    if threshold is not None:
        merged = merged.take(np.flatnonzero(merged.score >= internal_threshold(threshold, distance)))
    return merged.ranked(limit)


def union(sources: list[Candidates]) -> Candidates:
    """All candidates of several lists, each point once."""
    sources = [s for s in sources if len(s)]
    if not sources:
        return Candidates.empty()
    segs: list = []
    seg_ix, offs = [], []
    for s in sources:
        remap = np.array([_index(segs, seg) for seg in s.segs], dtype=np.int32)
        seg_ix.append(remap[s.seg])
        offs.append(s.off)
    cand = Candidates(segs, np.concatenate(seg_ix), np.concatenate(offs), np.zeros(sum(len(s) for s in sources), np.float32))
    _, first = np.unique(cand.keys(), return_index=True)
    return cand.take(np.sort(first))


def _index(table: list, item: Any) -> int:
    for i, existing in enumerate(table):
        if existing is item:
            return i
    table.append(item)
    return len(table) - 1


def rescore(c: "Collection", cand: Candidates, using: str, prepared: Any) -> Candidates:
    """Exact scores of `prepared` on `using` for every candidate (missing vector: dropped)."""
    scores = np.full(len(cand), -np.inf, dtype=np.float32)
    for i, seg in enumerate(cand.segs):
        rows = np.flatnonzero(cand.seg == i)
        store = seg.vectors[using]
        offs = cand.off[rows]
        has = store.present[offs]
        if has.any():
            scores[rows[has]] = store.score(prepared, offs[has])
    keep = np.flatnonzero(np.isfinite(scores))
    out = cand.take(keep)
    out.score = scores[keep]
    return out


def fuse(sources: list[Candidates], query: dict, limit: int, field: str) -> Candidates:
    """Fusion over candidate lists; keys are ranks of point ids so ties break by id."""
    from fusion.dbsf import dbsf
    from fusion.rrf import rrf
    from fusion.weighted import linear

    pool = union(sources)
    if len(pool) == 0:
        return pool
    pool_keys = pool.keys()
    order = np.argsort(pool_keys)
    sorted_keys = pool_keys[order]
    lists = []
    for s in sources:
        ranked = s.ranked()  # key = rank of the point id in the pool, so key order = id order
        lists.append((np.searchsorted(sorted_keys, ranked.keys()).astype(np.int64), ranked.score))
    try:
        if "rrf" in query:
            params = query["rrf"] or {}
            keys, scores = rrf(lists, k=params.get("k") or 2, weights=params.get("weights"), limit=limit)
        elif "linear" in query:
            params = query["linear"] or {}
            keys, scores = linear(lists, weights=params.get("weights"), normalization=params.get("normalization", "minmax"), limit=limit)
        elif query["fusion"] == "rrf":
            keys, scores = rrf(lists, limit=limit)
        elif query["fusion"] == "dbsf":
            keys, scores = dbsf(lists, limit=limit)
        else:
            raise ValidationError(f"{field}.fusion", f"unknown fusion {query['fusion']!r}: expected rrf or dbsf")
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None
    out = pool.take(order[keys])
    out.score = np.asarray(scores, dtype=np.float32)
    return out


def top_level(c: "Collection", req: Any, infer: Any) -> Optional[Candidates]:
    """Run a request that has prefetches; None when it has none (the plain path serves it)."""
    if not req.prefetch:
        return None
    node = {"prefetch": req.prefetch, "query": req.query, "using": req.using, "filter": req.filter,
            "score_threshold": req.score_threshold, "params": m.to_builtins(req.params)}
    return execute(c, node, infer, req.limit + req.offset)
