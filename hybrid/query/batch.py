"""Batches of query requests: every entry planned before any runs, plain dense entries of one
shape planned once, and one graph walk per segment for all of them.

- `plan_batch(requests, view)`: the plans of a batch. Entries that differ only by their plain
  dense vector (a batch usually repeats its name, limit, params and filter) share the plan of
  the first one: their vectors are checked (size, finite) and prepared (unit length for
  Cosine) as one matrix, and each gets the first plan with its own vector. Anything else, or
  any bad vector, is planned entry by entry (so an error names what a single query would).
- `execute_batch(plans, view)`: one-leaf dense plans on one name with one limit and params
  share one kernel call per segment, with each segment's one exact-vs-graph decision
  (`hybrid.query.allowed.use_graph`), so the same results as one by one; their points are
  hydrated together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.query.allowed import allowed_points, search_allowed, use_graph
from hybrid.query.execute import LeafHits, execute, respond
from hybrid.query.merge import Ranked
from hybrid.query.nodes import Leaf, Plan
from hybrid.query.plan import plan
from hybrid.query.search import Candidates, hydrate, merge_hits, search_args
from indexes.plain import normalize_rows

if TYPE_CHECKING:
    from hybrid.view import CollectionView


# ---------------------------------------------------------------------- planning
def plan_batch(requests: list[Any], view: "CollectionView", infer: Any = None,
               lookup: Optional[Callable[[str], "CollectionView"]] = None) -> list[Plan]:
    """The plan of every request (QueryRequest-shaped), all before any runs."""
    if not requests:
        return []
    first = plan(requests[0], view, infer, lookup)
    shape = _dense_shape(requests[0], first)
    if shape is None:
        return [first] + [plan(r, view, infer, lookup) for r in requests[1:]]
    same = [i for i, r in enumerate(requests) if _plain(r.query) and _same(r, shape)]
    prepared = _prepared(view, first.root, [requests[i].query for i in same])
    if prepared is None:  # a bad vector: planned alone, it raises what a single query would
        return [plan(r, view, infer, lookup) for r in requests]
    plans: list[Any] = [None] * len(requests)
    for i, row in zip(same, prepared):
        leaf = msgspec.structs.replace(first.root, query=row)
        plans[i] = msgspec.structs.replace(first, root=leaf, leaves=(leaf,))
    return [p if p is not None else plan(r, view, infer, lookup) for p, r in zip(plans, requests)]


def _dense_shape(request: Any, first: Plan) -> Any:
    """The request without its vector when its plan is a one-leaf dense nearest search of a
    plain vector, else None."""
    leaf = first.root
    if (not isinstance(leaf, Leaf) or leaf.op != "nearest" or not _plain(request.query)
            or request.prefetch is not None or request.lookup_from is not None
            or not isinstance(leaf.query, np.ndarray) or leaf.query.ndim != 1):
        return None
    return msgspec.structs.replace(request, query=None)


def _same(request: Any, shape: Any) -> bool:
    try:
        return msgspec.structs.replace(request, query=None) == shape
    except ValueError:  # e.g. arrays in a filter: compared as a whole, their truth is ambiguous
        return False


def _plain(query: Any) -> bool:
    """A plain dense vector as the one-leaf planner takes it (hybrid.query.plan._plain_vector)."""
    if type(query) is np.ndarray:
        return query.ndim == 1 and query.size > 0
    return type(query) is list and len(query) > 0 and type(query[0]) in (float, int)


def _prepared(view: "CollectionView", leaf: Leaf, queries: list) -> Optional[np.ndarray]:
    """The queries as one float32 matrix of the leaf's vector size, finite, unit rows for
    Cosine; None when any is not."""
    spec = view.schema.dense[leaf.using]
    try:
        matrix = np.asarray(queries, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] != spec.size or not np.isfinite(matrix).all():
        return None
    return normalize_rows(matrix) if spec.distance == "Cosine" else matrix


# ---------------------------------------------------------------------- running
def execute_batch(plans: list[Plan], view: "CollectionView", lookup: Any = None) -> list[Any]:
    """Many plans; one-leaf dense plans on one name with one limit and params share one kernel
    call per segment (`batchable`), every other plan runs alone."""
    shared = batchable(plans)
    if shared is None:
        return [execute(p, view, lookup) for p in plans]
    found = [hits.cand for hits in _nearest_batch(view, [p.root for p in plans])]
    first = plans[0]
    if any(p.with_payload != first.with_payload or p.with_vector != first.with_vector for p in plans):
        return [respond(p, Ranked(cand, p.root.distance), view, lookup) for p, cand in zip(plans, found)]
    # one hydration for the whole batch (every list is over the same segment table)
    joined = Candidates(found[0].segs, *(np.concatenate([getattr(c, field) for c in found])
                                         for field in ("seg", "off", "score")))
    points = hydrate(joined, first.with_payload, first.with_vector, shared.distance)
    ends = np.cumsum([len(c) for c in found]).tolist()
    return [m.QueryResponse(points=points[start:end]) for start, end in zip([0] + ends, ends)]


def batchable(plans: list[Plan]) -> Optional[Leaf]:
    """The shared leaf shape when every plan is a plain one-leaf dense nearest query without
    filter, threshold, offset, groups or explain, on one name with one limit and params."""
    if len(plans) < 2:
        return None
    first = plans[0].root
    for p in plans:
        leaf = p.root
        if (not isinstance(leaf, Leaf) or leaf.op != "nearest" or leaf.filter is not None or leaf.threshold is not None
                or p.offset or p.groups is not None or p.explain or not isinstance(leaf.query, np.ndarray)
                or leaf.query.ndim != 1 or leaf.using != first.using or leaf.limit != first.limit
                or leaf.params != first.params):
            return None
    return first


def _nearest_batch(c: "CollectionView", leaves: list[Leaf]) -> list[LeafHits]:
    """`nearest` of each leaf, the segments' graph walks batched: the same per-segment decision
    (`use_graph`), the same limit, so the same results."""
    first = leaves[0]
    name, limit = first.using, first.limit
    matrix = np.stack([leaf.query for leaf in leaves])
    args = search_args(first.params)
    graph_args = {k: v for k, v in args.items() if k != "exact"}
    per_segment = []
    for seg in c.segments:
        if seg.size == 0:
            continue
        allowed = allowed_points(seg, name, None)
        store = seg.vectors[name]
        if allowed.count >= seg.size and use_graph(store, allowed.count, seg.size, args.get("exact", False),
                                                   args.get("ef")):
            per_segment.append((seg, store.index.search_batch(matrix, limit, None, **graph_args)))
        elif allowed.count:  # the single query's path, query by query
            per_segment.append((seg, [search_allowed(store, q, limit, allowed, seg.size, **args) for q in matrix]))
    if len(per_segment) == 1:
        return [LeafHits.local(cand) for cand in _ranked_lists(*per_segment[0], limit)]
    return [LeafHits.local(merge_hits([(seg, hits[i]) for seg, hits in per_segment]).ranked(limit))
            for i in range(len(leaves))]


def _ranked_lists(seg: Any, hits: list, limit: int) -> list[Candidates]:
    """One segment's hits of each query as ranked Candidates (`Candidates.ranked`): a list of
    at most `limit` strictly descending scores (the usual, found by one test over the batch)
    is taken as it is, any other is ranked alone."""
    sizes = np.array([h.scores.size for h in hits], np.int64)
    flat = np.concatenate([h.scores for h in hits]) if hits else np.empty(0, np.float32)
    starts = np.cumsum(sizes) - sizes
    not_below = np.flatnonzero(flat[1:] >= flat[:-1]) + 1  # positions not strictly below the previous one
    not_below = not_below[~np.isin(not_below, starts)]  # (the first of a list has no previous one)
    rank = np.zeros(len(hits), bool)
    rank[np.searchsorted(starts, not_below, side="right") - 1] = True
    rank |= sizes > limit
    segs = [seg]
    return [Candidates(segs, np.zeros(h.offsets.size, np.int32), h.offsets, h.scores.astype(np.float32, copy=False))
            if not again else merge_hits([(seg, h)]).ranked(limit) for h, again in zip(hits, rank.tolist())]
