"""The pure planner: a whole query request -> a frozen, printable `Plan`, before anything runs.

A request is a tree of nodes `{query, using, filter, params, score_threshold, limit,
lookup_from, prefetch}` at most `MAX_DEPTH` levels deep (Qdrant's Universal Query API).
`plan(request, view)` parses and validates all of it (names, kinds, vector sizes, depth,
filters, fusion parameters, limits) and resolves example inputs (point ids, documents) into
prepared vectors, so nothing is searched before the whole request is known to be valid.

A plan is a tree of two kinds of nodes:

- `Leaf`: one search of the (filtered) collection: `nearest` (vector index), `scored`
  (recommend / discover / context / relevance feedback: exact scoring of allowed points),
  `bm25`, `order_by`, `sample`, `scan` (no query: id order, score 0). A leaf runs per segment
  (and per shard); its `limit` is what each segment/shard must return.
- `Merge`: combines its sources' lists once, over their gathered candidates: `rrf`, `dbsf`,
  `linear` fusion, `formula`, `rescore` (a vector query over the pool, e.g. a ColBERT MaxSim
  rerank), `mmr`, `order_by`, `sample`, and `bm25` (restricted to the pool; needs the text
  index, so it is the one merge that is not `coordinator`-safe).

Each node's filter is merged into its children's (Qdrant's `Filter::merge_opts`) and point ids
used as examples are excluded the same way, so prefetch limits apply to filtered points.
Scores are internal (higher is better); `distance` says how to display them. Execution lives in
hybrid.query.execute; `str(plan)` prints the tree.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Optional

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.config import DEFAULT_VECTOR
from hybrid.errors import ValidationError
from hybrid.points import validate_sparse
from hybrid.query import text_query
from hybrid.query.parse import (
    Bm25, bm25_query, Context, Discover, Feedback, FormulaQuery, Fusion, Nearest, OrderBy, Recommend, Sample,
    VECTOR_OPERATIONS, parse_query, shallow,
)
from hybrid.query.corpus import corpus_of
from hybrid.query.nodes import Groups, Leaf, Merge, Node, Plan
from hybrid.query.scoring import ExampleScorer, NearestScorer, Scorer
from hybrid.query.hydrate import with_lookup
from hybrid.query.search import internal_threshold, parse
from hybrid.query.vectors import Examples
from indexes.payload.jsonpath import parse_path
from indexes.plain import normalize_rows

if TYPE_CHECKING:
    from hybrid.view import CollectionView

MAX_DEPTH = 8
#: Prefetch limit when a prefetch does not give one (Qdrant's default).
DEFAULT_PREFETCH_LIMIT = 10


# ---------------------------------------------------------------------- filters
def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def merge_filters(outer: Any, inner: Any) -> Any:
    """Qdrant's `Filter::merge_opts`: clauses concatenated field-wise (so `should` clauses of
    both become alternatives); min_should keeps both condition lists and the larger count."""
    if outer is None:
        return inner
    if inner is None:
        return outer
    outer, inner = shallow(outer), shallow(inner)
    merged = {key: as_list(outer.get(key)) + as_list(inner.get(key)) for key in ("must", "should", "must_not")}
    merged = {key: value for key, value in merged.items() if value}
    a, b = outer.get("min_should"), inner.get("min_should")
    if a and b:
        merged["min_should"] = {"conditions": as_list(a["conditions"]) + as_list(b["conditions"]),
                                "min_count": max(a["min_count"], b["min_count"])}
    elif a or b:
        merged["min_should"] = a or b
    return merged


def exclude_ids(flt: Any, ids: list) -> Any:
    if not ids:
        return flt
    return merge_filters(flt, {"must_not": [{"has_id": list(dict.fromkeys(ids))}]})


# ---------------------------------------------------------------------- the planner
def plan(request: Any, view: "CollectionView", infer: Any = None,
         lookup: Optional[Callable[[str], "CollectionView"]] = None, limit: Optional[int] = None,
         fast: bool = True) -> Plan:
    """The validated plan of a QueryRequest-shaped request (hybrid.query.request); nothing runs.
    `limit` overrides the ranked entries the root returns (groups ask for more); `fast=False`
    skips the direct build of the commonest one-leaf plan (tests compare both)."""
    request = _text_queries_as_bm25(request, view)
    groups = None
    if getattr(request, "group_by", None) is not None:
        check_groups(request)
        with_lookup(view, request.with_lookup, lookup)
        groups = Groups(request.group_by, request.group_size, request.limit, request.with_lookup)
    else:
        check_paging(request)
    if limit is not None:
        want = limit
    elif groups is not None:  # more entries than groups x size: a group may repeat a point's value
        want = max(2 * request.limit * request.group_size, 16)
    else:
        want = request.limit + request.offset
    payload = True if request.with_payload is None else request.with_payload
    leaf = _plain_vector(request, view, want) if fast and groups is None else None
    if leaf is not None:
        return Plan(leaf, (leaf,), want, request.offset, payload, request.with_vector, bool(request.explain))
    planner = _Planner(view, infer, lookup)
    node = {"prefetch": shallow(request.prefetch), "query": request.query, "using": request.using,
            "filter": shallow(request.filter), "score_threshold": request.score_threshold,
            "params": request.params, "lookup_from": request.lookup_from}
    root = planner.node(node, want, None, "", 0)
    return Plan(root, tuple(planner.leaves), want, request.offset, payload, request.with_vector,
                bool(request.explain), groups)


def _text_queries_as_bm25(request: Any, view: "CollectionView") -> Any:
    """Qdrant 1.20's text queries (`{"text": ...}` with `using` a scored text index, here or in
    a prefetch) as our one BM25 query (hybrid.query.text_query)."""
    query, using, prefetch = text_query.rewrite(request.query, request.using, request.prefetch,
                                                view.field_indexes)
    if query is request.query and using == request.using and prefetch is request.prefetch:
        return request  # nothing rewritten (a request is copied only when a text query changes it)
    return msgspec.structs.replace(request, query=query, using=using, prefetch=prefetch)


def _plain_vector(request: Any, view: "CollectionView", limit: int) -> Optional[Leaf]:
    """The one-leaf plan of the commonest requests (a plain dense vector on a dense name, a
    plain `{indices, values}` on a sparse name; no prefetch, no lookup_from) built directly: the
    general parse costs more than the search. The same leaf, errors and messages as the
    general planner (tests compare)."""
    query = request.query
    if request.prefetch is not None or request.lookup_from is not None:
        return None
    if type(query) is dict and len(query) == 1 and "bm25" in query and request.using is None:
        return _plain_bm25(request, view, limit)
    if type(query) is dict or type(query).__name__ == "SparseVector":  # hybrid's or qdrant-client's model
        return _plain_sparse(request, view, limit)
    if not isinstance(query, _PLAIN_VECTOR):
        return None
    if len(query) == 0 or (isinstance(query, list) and type(query[0]) not in (float, int)):
        return None
    name = DEFAULT_VECTOR if request.using is None else request.using
    spec = view.schema.dense.get(name)
    if spec is None or spec.multivector:
        return None
    try:
        q = np.asarray(query, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if q.ndim != 1:
        return None
    if q.shape[0] != spec.size:
        raise ValidationError("query", f"Wrong input: Vector dimension error: expected dim: {spec.size}, "
                                       f"got {q.shape[0]}")
    if not math.isfinite(float(np.dot(q, q))) and not np.isfinite(q).all():  # a finite square: finite terms
        raise ValidationError("query", "query vector contains NaN or inf")
    _check_limit(limit, "limit")
    params = _params(request.params, "")
    prepared = normalize_rows(q) if spec.distance == "Cosine" else q  # DenseStore.prepare_query
    return Leaf(0, "nearest", name, prepared, parse(request.filter, "filter"),
                params, limit, internal_threshold(request.score_threshold, spec.distance), spec.distance)


_PLAIN_VECTOR = (list, np.ndarray)


def _plain_bm25(request: Any, view: "CollectionView", limit: int) -> Leaf:
    op = bm25_query(request.query, "query.bm25")
    check_bm25(view, op, "")
    _check_limit(limit, "limit")
    return Leaf(0, "bm25", None, op, parse(request.filter, "filter"), _params(request.params, ""), limit,
                internal_threshold(request.score_threshold, None))


def check_bm25(view: "CollectionView", op: Bm25, path: str) -> None:
    """The field has a text index; k1 and b are what tantivy computes."""
    from indexes.text.index import BM25_B, BM25_K1, _check_bm25

    view.text.index_of(op.field, f"{path}query.bm25.field")
    try:
        _check_bm25("k1", op.k1, BM25_K1)
        _check_bm25("b", op.b, BM25_B)
    except ValueError as exc:
        raise ValidationError(f"{path}query.bm25", str(exc)) from None


def _params(params: Any, path: str) -> Optional[m.SearchParams]:
    if params is None:
        return None
    if not isinstance(params, m.SearchParams):
        params = m.convert(shallow(params), m.SearchParams, f"{path}params")
    corpus_of(params, path)  # an IDF corpus filter is validated before anything runs
    return params


def _plain_sparse(request: Any, view: "CollectionView", limit: int) -> Optional[Leaf]:
    query, using = request.query, request.using
    spec = view.schema.sparse.get(using)
    if spec is None:
        return None
    if type(query) is dict:
        if len(query) != 2 or "indices" not in query or "values" not in query:
            return None
        indices, values = query["indices"], query["values"]
    else:
        indices, values = query.indices, query.values
    idx, values = validate_sparse(indices, values, "query")
    _check_limit(limit, "limit")
    params = _params(request.params, "")
    return Leaf(0, "nearest", using, (idx, np.asarray(values, np.float32)), parse(request.filter, "filter"), params,
                limit, internal_threshold(request.score_threshold, None), None, bool(spec.idf))


def check_paging(req: Any) -> None:
    if req.limit < 0:
        raise ValidationError("limit", "must be non-negative")
    if req.offset < 0:
        raise ValidationError("offset", "must be non-negative")


def check_groups(req: Any) -> None:
    check_paging(req)
    if req.limit < 1 or req.group_size < 1:
        raise ValidationError("limit" if req.limit < 1 else "group_size", "must be at least 1")
    if not isinstance(req.group_by, str) or not req.group_by:
        raise ValidationError("group_by", "expected a payload key")
    try:
        parse_path(req.group_by)
    except (TypeError, ValueError) as exc:
        raise ValidationError("group_by", str(exc)) from None


class _Planner:
    def __init__(self, view: "CollectionView", infer: Any, lookup: Any) -> None:
        self.c = view
        self.infer = infer
        self.lookup = lookup
        self.leaves: list[Leaf] = []

    def node(self, node: dict, limit: int, propagated: Any, path: str, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ValidationError(f"{path}prefetch", f"prefetch nesting is deeper than {MAX_DEPTH} levels")
        _check_limit(limit, f"{path}limit")
        op = parse_query(node.get("query"), f"{path}query")
        flt = merge_filters(propagated, node.get("filter"))
        using = node.get("using")
        vector = None  # (scorer, distance, prepared nearest query or None)
        if isinstance(op, VECTOR_OPERATIONS):
            examples = Examples(self.c, self._using(using, path), self.infer, node.get("lookup_from"), self.lookup, path)
            vector = self._resolve(op, examples, f"{path}query")
            flt = exclude_ids(flt, examples.mentioned)
        children = as_list(node.get("prefetch"))
        threshold = node.get("score_threshold")
        _check_node(op, using, children, threshold, path)
        if isinstance(op, Bm25):
            check_bm25(self.c, op, path)
        distance = vector[1] if vector is not None else None
        internal = None if isinstance(op, Sample) else internal_threshold(threshold, distance)
        if not children:
            return self.leaf(op, vector, flt, node.get("params"), limit, internal, path)
        if corpus_of(_params(node.get("params"), path), path) is not None:  # refused, never ignored
            raise ValidationError(f"{path}params.idf", "an IDF corpus applies to a search of the collection "
                                                       "(a query without prefetch), not to rescoring its results")
        sources = []
        for i, child in enumerate(children):
            child = shallow(child)
            if not isinstance(child, dict):
                raise ValidationError(f"{path}prefetch[{i}]", "expected a prefetch object")
            child_limit = child.get("limit")
            sources.append(self.node(child, DEFAULT_PREFETCH_LIMIT if child_limit is None else child_limit,
                                     flt, f"{path}prefetch[{i}].", depth + 1))
        return self.merge(op, vector, tuple(sources), limit, internal, path)

    def _using(self, using: Optional[str], path: str) -> str:
        name = DEFAULT_VECTOR if using is None else using
        self.c.schema.kind_of(name)
        return name

    def _resolve(self, op: Any, ex: Examples, path: str) -> tuple[Scorer, Optional[str], Any, bool]:
        """(scorer, display distance, nearest query, whether it still needs IDF weights) of a
        vector operation."""
        spec = ex.c.schema.dense.get(ex.using)
        distance = spec.distance if spec is not None else None
        if isinstance(op, Nearest) or (isinstance(op, Recommend) and op.strategy == "average_vector"):
            if isinstance(op, Nearest):
                where = f"{path}.nearest" if op.mmr else path
                if ex.kind == "sparse" and ex.c.schema.sparse[ex.using].idf:
                    # raw values: IDF weights come at execution, from summable statistics
                    idx, values = ex.raw(op.example, where)
                    query = (idx, np.asarray(values, np.float32))
                    return NearestScorer(ex.using, query, ex.kind), distance, query, True
                query = ex.prepared(op.example, where)
            else:
                query = ex.average(op.positive, op.negative, f"{path}.recommend")
            return NearestScorer(ex.using, query, ex.kind), distance, query, False
        if isinstance(op, Recommend):
            pos = [ex.prepared(v, f"{path}.recommend.positive[{i}]") for i, v in enumerate(op.positive)]
            neg = [ex.prepared(v, f"{path}.recommend.negative[{i}]") for i, v in enumerate(op.negative)]
            return ExampleScorer(ex.using, op.strategy, pos, neg), None, None, False
        if isinstance(op, Feedback):
            target = ex.prepared(op.target, f"{path}.relevance_feedback.target")
            examples = [ex.prepared(v, f"{path}.relevance_feedback.feedback[{i}].example")
                        for i, v in enumerate(op.examples)]
            return ExampleScorer(ex.using, "feedback", examples, [], target, op.scores, (op.a, op.b, op.c)), None, None, False
        where = f"{path}.discover.context" if isinstance(op, Discover) else f"{path}.context"
        pos = [ex.prepared(p, f"{where}[{i}].positive") for i, (p, _) in enumerate(op.pairs)]
        neg = [ex.prepared(n, f"{where}[{i}].negative") for i, (_, n) in enumerate(op.pairs)]
        if isinstance(op, Context):
            return ExampleScorer(ex.using, "context", pos, neg), None, None, False
        target = ex.prepared(op.target, f"{path}.discover.target")
        return ExampleScorer(ex.using, "discover", pos, neg, target), None, None, False

    def _add(self, **fields: Any) -> Leaf:
        leaf = Leaf(index=len(self.leaves), **fields)
        self.leaves.append(leaf)
        return leaf

    def leaf(self, op: Any, vector: Any, flt: Any, params: Any, limit: int, threshold: Any, path: str) -> Node:
        flt = parse(flt, f"{path}filter")
        params = _params(params, path)
        common = dict(filter=flt, params=params, threshold=threshold, path=path)
        if op is None:
            return self._add(op="scan", using=None, query=None, limit=limit, **common)
        if isinstance(op, (Fusion, FormulaQuery)):
            raise ValidationError(f"{path}query", f"{'fusion' if isinstance(op, Fusion) else 'a formula'} "
                                                  "needs prefetches to merge")
        if isinstance(op, (OrderBy, Bm25, Sample)):
            kind = {OrderBy: "order_by", Bm25: "bm25", Sample: "sample"}[type(op)]
            return self._add(op=kind, using=None, query=None if isinstance(op, Sample) else op, limit=limit, **common)
        scorer, distance, query, idf = vector
        if query is None:
            return self._add(op="scored", using=scorer.using, query=scorer, limit=limit, distance=distance, **common)
        mmr = op.mmr if isinstance(op, Nearest) else None
        want = limit if mmr is None or mmr.candidates_limit is None else mmr.candidates_limit
        leaf = self._add(op="nearest", using=scorer.using, query=query, limit=want, distance=distance, idf=idf,
                         **common)
        if mmr is None:
            return leaf
        return _mmr(leaf, mmr, scorer, distance, limit, path)

    def merge(self, op: Any, vector: Any, sources: tuple, limit: int, threshold: Any, path: str) -> Merge:
        branches = sources
        if isinstance(op, Fusion):
            if op.weights is not None and len(op.weights) != len(sources):
                raise ValidationError(f"{path}query", f"{len(op.weights)} weights for {len(sources)} prefetches")
            return Merge(op.method, op, sources, limit, threshold, path=path, branches=branches)
        if isinstance(op, FormulaQuery):
            return Merge("formula", op, sources, limit, threshold, needs=("payload",), path=path, branches=branches)
        if isinstance(op, OrderBy):
            return Merge("order_by", op, sources, limit, None, needs=("payload",), path=path, branches=branches)
        if isinstance(op, Sample):
            return Merge("sample", None, sources, limit, None, path=path, branches=branches)
        if isinstance(op, Bm25):
            return Merge("bm25", op, sources, limit, threshold, coordinator=False, path=path, branches=branches)
        scorer, distance, _, idf = vector
        mmr = op.mmr if isinstance(op, Nearest) else None
        want = limit if mmr is None or mmr.candidates_limit is None else mmr.candidates_limit
        node = Merge("rescore", scorer, sources, want, threshold, distance, (f"vector:{scorer.using}",), path=path,
                     branches=branches, idf=idf)
        return node if mmr is None else _mmr(node, mmr, scorer, distance, limit, path)


def _mmr(source: Node, mmr: Any, scorer: Scorer, distance: Optional[str], limit: int, path: str) -> Merge:
    """MMR over the `candidates_limit` nearest: it needs their vectors, so it runs where they
    are gathered (scores stay the query similarities)."""
    return Merge("mmr", (mmr, scorer.using, scorer.kind), (source,), limit, None, distance,
                 (f"vector:{scorer.using}",), path=path, branches=getattr(source, "branches", None))


def _check_limit(limit: Any, path: str) -> None:
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValidationError(path, "expected a non-negative integer")


def _check_node(op: Any, using: Any, children: list, threshold: Any, path: str) -> None:
    """Requests Qdrant rejects before running anything."""
    if children and op is None:
        raise ValidationError(f"{path}query", "a query is needed to merge the prefetches")
    if threshold is not None and (op is None or isinstance(op, OrderBy)):
        raise ValidationError(f"{path}score_threshold", "needs a scoring query (not none, not order_by)")
    if isinstance(op, Fusion) and using is not None:
        raise ValidationError(f"{path}using", "fusion queries cannot be combined with 'using'")
