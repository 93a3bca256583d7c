"""Query trees: run the leaves, then merge bottom-up, as Qdrant's Universal Query API does.

A request is a tree of nodes `{query, using, filter, params, score_threshold, limit,
lookup_from, prefetch}` at most `MAX_DEPTH` levels deep. Each node's filter is merged into
its children's (field-wise, like Qdrant's `Filter::merge_opts`), so prefetch limits apply to
filtered points; point ids used as query examples are excluded the same way. A node:

- without prefetch reads the collection: nearest (index search), recommend / discover /
  context / relevance feedback (exact scoring of the allowed points), nearest + MMR,
  order_by, sample, bm25 (our extension, hybrid.text), or no query (id order, score 0);
- with prefetches merges their results (the "pool", each point once):
  `{"fusion": "rrf"|"dbsf"}`, `{"rrf": {"k", "weights"}}`: `fusion.rrf` / `fusion.dbsf`;
  `{"linear": {"weights", "normalization"}}` (our extension): weighted sum of min-max
  ("minmax", default) or z-score ("zscore") normalised prefetch scores, `fusion.linear`;
  `{"formula": .., "defaults": ..}`: `fusion.Formula` over the pool (hybrid.queries.formula);
  any other query is applied to the pool only, e.g. a ColBERT MaxSim rerank of a fused list.

Every node returns a `Ranked` list in its final order (ties by point id), cut to its limit.
Scores are internal (higher is better); `Ranked.distance` says how to display them. DBSF and
formula read displayed prefetch scores, as Qdrant does; linear fusion reads internal ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from hybrid import models as m
from hybrid.errors import ValidationError
from hybrid.queries import ordering
from hybrid.queries.parse import (
    Bm25, Context, Discover, Feedback, FormulaQuery, Fusion, Nearest, OrderBy, Recommend, Sample,
    VECTOR_OPERATIONS, parse_query, shallow,
)
from hybrid.queries.scoring import ExampleScorer, NearestScorer, Scorer, score_candidates, score_collection
from hybrid.queries.vectors import Examples
from hybrid.search import Candidates, all_matching, display, internal_threshold, parse, search_leaf

if TYPE_CHECKING:
    from hybrid.view import CollectionView

MAX_DEPTH = 8


@dataclass
class Ranked:
    """One node's result: candidates in final order, how to show their scores, its inputs."""

    cand: Candidates
    distance: Optional[str] = None  # display conversion of cand.score (Euclid/Manhattan)
    order_values: Optional[np.ndarray] = None  # order_by results: float64 per candidate
    sources: list["Ranked"] = field(default_factory=list)  # prefetch results (explain)

    def shown(self) -> np.ndarray:
        return display(self.cand.score, self.distance)


@dataclass
class Env:
    """What a request runs against: the collection, the document embedder, other collections."""

    c: "CollectionView"
    infer: Any = None
    lookup: Optional[Callable[[str], "CollectionView"]] = None


@dataclass
class VectorPlan:
    """A vector operation resolved into a scorer (+ the prepared query when it is nearest)."""

    scorer: Scorer
    distance: Optional[str]  # display distance when the scores are plain similarities
    nearest: Any = None  # prepared query: served by the vector index at a leaf
    mmr: Any = None


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


def parsed(flt: Any, field: str) -> Any:
    try:
        return parse(flt, f"{field}filter")
    except (TypeError, ValueError) as exc:
        raise ValidationError("", str(exc)) from None


# ---------------------------------------------------------------------- the tree
def execute(env: Env, node: dict, limit: int, propagated: Any = None, field: str = "", depth: int = 0) -> Ranked:
    """The ranked result of one node, at most `limit` entries."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{field}prefetch", f"prefetch nesting is deeper than {MAX_DEPTH} levels")
    op = parse_query(node.get("query"), f"{field}query")
    flt = merge_filters(propagated, node.get("filter"))
    plan: Any = None  # a VectorPlan for vector operations
    if isinstance(op, VECTOR_OPERATIONS):
        examples = Examples(env.c, _using(env.c, node.get("using")), env.infer, node.get("lookup_from"), env.lookup, field)
        plan = resolve(op, examples, f"{field}query")
        flt = exclude_ids(flt, examples.mentioned)
    children = as_list(node.get("prefetch"))
    threshold = node.get("score_threshold")
    _check_node(op, node, children, threshold, field)
    sources = []
    for i, child in enumerate(children):
        child = shallow(child)
        if not isinstance(child, dict):
            raise ValidationError(f"{field}prefetch[{i}]", "expected a prefetch object")
        child_limit = child.get("limit")
        sources.append(execute(env, child, 10 if child_limit is None else int(child_limit), flt,
                               f"{field}prefetch[{i}].", depth + 1))
    if children:
        result = merge(env, op, plan, sources, limit, flt, threshold, field)
    else:
        params = m.convert(node["params"], m.SearchParams, f"{field}params") if node.get("params") else None
        result = leaf(env, op, plan, limit, parsed(flt, field), params, threshold, field)
    if threshold is not None and not isinstance(op, Sample):
        keep = result.cand.score >= internal_threshold(threshold, result.distance)
        result.cand = result.cand.take(np.flatnonzero(keep))
        if result.order_values is not None:
            result.order_values = result.order_values[keep]
    result.sources = sources
    return _cut(result, limit)


def _check_node(op: Any, node: dict, children: list, threshold: Any, field: str) -> None:
    """Requests Qdrant rejects before running anything."""
    if children and op is None:
        raise ValidationError(f"{field}query", "a query is needed to merge the prefetches")
    if threshold is not None and (op is None or isinstance(op, OrderBy)):
        raise ValidationError(f"{field}score_threshold", "needs a scoring query (not none, not order_by)")
    if isinstance(op, Fusion) and node.get("using") is not None:
        raise ValidationError(f"{field}using", "fusion queries cannot be combined with 'using'")


def _cut(result: Ranked, limit: int) -> Ranked:
    if len(result.cand) > limit:
        result.cand = result.cand.head(limit)
        if result.order_values is not None:
            result.order_values = result.order_values[:limit]
    return result


def _using(c: "CollectionView", using: Optional[str]) -> str:
    from hybrid.config import DEFAULT_VECTOR

    name = DEFAULT_VECTOR if using is None else using
    c.schema.kind_of(name)
    return name


def resolve(op: Any, ex: Examples, field: str) -> VectorPlan:
    """Prepared examples and the scorer of a vector operation."""
    spec = ex.c.schema.dense.get(ex.using)
    distance = spec.distance if spec is not None else None
    if isinstance(op, Nearest) or (isinstance(op, Recommend) and op.strategy == "average_vector"):
        if isinstance(op, Nearest):
            query = ex.prepared(op.example, f"{field}.nearest" if op.mmr else field)
        else:
            query = ex.average(op.positive, op.negative, f"{field}.recommend")
        mmr = op.mmr if isinstance(op, Nearest) else None
        return VectorPlan(NearestScorer(ex.using, query, ex.kind), distance, query, mmr)
    if isinstance(op, Recommend):
        pos = [ex.prepared(v, f"{field}.recommend.positive[{i}]") for i, v in enumerate(op.positive)]
        neg = [ex.prepared(v, f"{field}.recommend.negative[{i}]") for i, v in enumerate(op.negative)]
        return VectorPlan(ExampleScorer(ex.using, op.strategy, pos, neg), None)
    if isinstance(op, Feedback):
        target = ex.prepared(op.target, f"{field}.relevance_feedback.target")
        examples = [ex.prepared(v, f"{field}.relevance_feedback.feedback[{i}].example") for i, v in enumerate(op.examples)]
        return VectorPlan(ExampleScorer(ex.using, "feedback", examples, [], target, op.scores, (op.a, op.b, op.c)), None)
    where = f"{field}.discover.context" if isinstance(op, Discover) else f"{field}.context"
    pos = [ex.prepared(p, f"{where}[{i}].positive") for i, (p, _) in enumerate(op.pairs)]
    neg = [ex.prepared(n, f"{where}[{i}].negative") for i, (_, n) in enumerate(op.pairs)]
    if isinstance(op, Context):
        return VectorPlan(ExampleScorer(ex.using, "context", pos, neg), None)
    target = ex.prepared(op.target, f"{field}.discover.target")
    return VectorPlan(ExampleScorer(ex.using, "discover", pos, neg, target), None)


def leaf(env: Env, op: Any, plan: VectorPlan, limit: int, flt: Any, params: Any, threshold: Any,
         field: str) -> Ranked:
    """A node without prefetch: the operation over the whole (filtered) collection."""
    c = env.c
    if op is None:  # no query: matching points in id order, score 0
        return Ranked(all_matching(c, flt).head(limit))
    if isinstance(op, (Fusion, FormulaQuery)):
        raise ValidationError(f"{field}query", f"{'fusion' if isinstance(op, Fusion) else 'a formula'} needs prefetches to merge")
    if isinstance(op, OrderBy):
        cand, values = ordering.order_by(c, op, flt, None, limit)
        return Ranked(cand, order_values=values)
    if isinstance(op, Sample):
        return Ranked(ordering.sample(c, flt, None, limit))
    if isinstance(op, Bm25):
        return Ranked(c.text.search(op.field, op.text, limit, flt, op.k1, op.b, f"{field}query.bm25"))
    if plan.nearest is None:
        return Ranked(score_collection(c, plan.scorer, limit, flt))
    want = limit if plan.mmr is None or plan.mmr.candidates_limit is None else plan.mmr.candidates_limit
    cand = nearest(c, plan.scorer.using, plan.nearest, want, flt, params, internal_threshold(threshold, plan.distance))
    return _diversify(cand, plan, limit)


def nearest(c: "CollectionView", using: str, query: Any, limit: int, flt: Any, params: Any, threshold: Any) -> Candidates:
    """Index search for the top `limit`, exact about ties at the cut: they go by point id.

    Segments break ties by offset, so extra hits are asked for; when the last hit returned
    scores strictly below the cut (or fewer hits than asked came back), every point tied at the
    cut is among them, else ask more. Sparse scores tie often (BM25-like weights), dense rarely.
    """
    ask = limit + (max(limit, 16) if using in c.schema.sparse else 1)
    while True:
        cand = search_leaf(c, using, query, ask, flt, params, threshold)
        if len(cand) < ask or limit == 0 or cand.score[-1] < cand.score[limit - 1]:
            return cand.head(limit)
        ask *= 2


def _diversify(cand: Candidates, plan: VectorPlan, limit: int) -> Ranked:
    if plan.mmr is None:
        return Ranked(cand, plan.distance)
    from hybrid.queries.diversity import mmr_rerank

    scorer = plan.scorer
    return Ranked(mmr_rerank(cand, scorer.using, scorer.kind, plan.distance, limit, plan.mmr.diversity), plan.distance)


def merge(env: Env, op: Any, plan: VectorPlan, sources: list[Ranked], limit: int, flt: Any,
          threshold: Any, field: str) -> Ranked:
    """A node with prefetches: merge their results with its query."""
    pool = Pool([s.cand for s in sources])
    if isinstance(op, Fusion):
        return Ranked(fuse(pool, sources, op, limit, f"{field}query"))
    if isinstance(op, FormulaQuery):
        return Ranked(formula(pool, sources, op, limit, f"{field}query"))
    if isinstance(op, OrderBy):
        cand, values = ordering.order_by(env.c, op, None, pool.cand, limit)
        return Ranked(cand, order_values=values)
    if isinstance(op, Sample):
        return Ranked(ordering.sample(env.c, None, pool.cand, limit))
    if isinstance(op, Bm25):  # BM25 restricted to the pool's points (ids of at most the prefetch limits)
        ids = pool.cand.ids()
        only = parse({"must": [{"has_id": ids}]}) if ids else None
        return Ranked(env.c.text.search(op.field, op.text, limit, only, op.k1, op.b, f"{field}query.bm25"))
    scored = score_candidates(pool.cand, plan.scorer)
    if plan.mmr is None:
        return Ranked(scored.ranked(limit), plan.distance)
    want = limit if plan.mmr.candidates_limit is None else plan.mmr.candidates_limit
    scored = scored.ranked(want)
    if threshold is not None:
        scored = scored.take(np.flatnonzero(scored.score >= internal_threshold(threshold, plan.distance)))
    return _diversify(scored, plan, limit)


class Pool:
    """The points of several ranked lists, each once, in point-id order.

    `entries[i]` = (pool index, row in list i) of the first occurrence of every point of list
    i; a pool index is the point's rank in id order, so sorting by it breaks ties by id.
    """

    def __init__(self, sources: list[Candidates]) -> None:
        segs: list = []
        seg_ix, offs = [], []
        for s in sources:
            remap = np.array([_index(segs, seg) for seg in s.segs], dtype=np.int32)
            seg_ix.append(remap[s.seg] if len(s) else np.empty(0, np.int32))
            offs.append(s.off)
        sizes = [len(s) for s in sources]
        every = Candidates(segs, _cat(seg_ix, np.int32), _cat(offs, np.int64), np.zeros(sum(sizes), np.float32))
        _, first, inverse = np.unique(every.keys(), return_index=True, return_inverse=True)
        self.cand = every.take(first)
        self.entries: list[tuple[np.ndarray, np.ndarray]] = []
        for start, size in zip(np.cumsum([0] + sizes[:-1]).tolist(), sizes):
            codes = inverse.reshape(-1)[start: start + size]
            _, once = np.unique(codes, return_index=True)  # an order_by list may repeat a point
            once.sort()
            self.entries.append((codes[once], once))

    def __len__(self) -> int:
        return len(self.cand)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def _index(table: list, item: Any) -> int:
    for i, existing in enumerate(table):
        if existing is item:
            return i
    table.append(item)
    return len(table) - 1


def fuse(pool: Pool, sources: list[Ranked], op: Fusion, limit: int, field: str) -> Candidates:
    """Fusion of the prefetch lists; keys are pool indexes (id ranks), so ties break by id."""
    from fusion.dbsf import dbsf
    from fusion.rrf import DEFAULT_K, rrf
    from fusion.weighted import linear

    if len(pool) == 0:
        return pool.cand
    shown = op.method == "dbsf"  # Qdrant fuses the scores it would display
    lists = [(codes, (s.shown() if shown else s.cand.score)[rows]) for s, (codes, rows) in zip(sources, pool.entries)]
    try:
        if op.method == "rrf":
            keys, scores = rrf(lists, k=DEFAULT_K if op.k is None else op.k, weights=op.weights, limit=limit)
        elif op.method == "dbsf":
            keys, scores = dbsf(lists, limit=limit)
        else:
            keys, scores = linear(lists, weights=op.weights, normalization=op.normalization, limit=limit)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None
    out = pool.cand.take(keys)
    out.score = np.asarray(scores, dtype=np.float32)
    return out


def formula(pool: Pool, sources: list[Ranked], op: FormulaQuery, limit: int, field: str) -> Candidates:
    """Formula scores of the pool; `$score[i]` is prefetch i's displayed score (NaN: absent)."""
    from fusion.ranked import order_by_score
    from hybrid.queries.formula import formula_scores

    if len(pool) == 0:
        return pool.cand
    per_prefetch = []
    for s, (codes, rows) in zip(sources, pool.entries):
        values = np.full(len(pool), np.nan)
        values[codes] = s.shown()[rows]
        per_prefetch.append(values)
    try:
        scores = formula_scores(op.formula, pool.cand, per_prefetch)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None
    keys, ranked_scores = order_by_score(np.arange(len(pool)), scores, limit)
    out = pool.cand.take(keys)
    out.score = ranked_scores
    return out


def run_tree(env: Env, req: Any, limit: int) -> Ranked:
    """Run a QueryRequest-shaped request (see hybrid.query) for its top `limit` entries."""
    node = {"prefetch": shallow(req.prefetch), "query": req.query, "using": req.using, "filter": shallow(req.filter),
            "score_threshold": req.score_threshold, "params": shallow(req.params), "lookup_from": req.lookup_from}
    return execute(env, node, limit)
