"""Query requests: Qdrant's QueryRequest shape, run against a collection (hybrid.planner).

A query may be any of Qdrant's Universal Query API forms (see hybrid.queries.parse): a vector
input (dense, multivector, sparse, point id, document) or `{"nearest": ..}`, recommend,
discover, context, relevance feedback, order_by, sample, fusion, formula; with nested
`prefetch` trees. `explain` (our extension) adds per-prefetch ranks and scores to each point
(hybrid.queries.explain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from hybrid import models as m
from hybrid.errors import ValidationError
from hybrid.planner import Env, Ranked, run_tree
from hybrid.search import hydrate

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
    explain: bool = False  # our extension: ScoredPoint.explain with per-prefetch ranks/scores


class QueryGroupsRequest(QueryRequest):
    group_by: str = ""
    group_size: int = 3
    with_lookup: Any = None


def check_paging(req: QueryRequest) -> None:
    if req.limit < 0:
        raise ValidationError("limit", "must be non-negative")
    if req.offset < 0:
        raise ValidationError("offset", "must be non-negative")


def run_ranked(c: "Collection", req: QueryRequest, limit: int, infer: Any = None,
               lookup: Optional[Callable[[str], "Collection"]] = None) -> Ranked:
    """The request's top `limit` entries, before offset and hydration."""
    return run_tree(Env(c, infer, lookup), req, limit)


def run_query(c: "Collection", req: QueryRequest, infer: Any = None,
              lookup: Optional[Callable[[str], "Collection"]] = None) -> list[m.ScoredPoint]:
    """Run one query request; `lookup(name)` gives other collections (for `lookup_from`)."""
    check_paging(req)
    ranked = run_ranked(c, req, req.limit + req.offset, infer, lookup)
    rows = np.arange(min(req.offset, len(ranked.cand)), len(ranked.cand))
    return scored_points(ranked, rows, req.with_payload, req.with_vector, req.explain)


def scored_points(ranked: Ranked, rows: np.ndarray, with_payload: Any, with_vector: Any,
                  explain: bool = False) -> list[m.ScoredPoint]:
    """Hydrate the given rows of a ranked result (payload, vectors, order values, explain)."""
    cand = ranked.cand.take(rows)
    points = hydrate(cand, True if with_payload is None else with_payload, with_vector, ranked.distance)
    if ranked.order_values is not None:
        from hybrid.queries.ordering import order_value_output

        for point, value in zip(points, ranked.order_values[rows].tolist()):
            point.order_value = order_value_output(value)
    if explain:
        from hybrid.queries.explain import explain_entries

        for point, entry in zip(points, explain_entries(cand, [p.score for p in points], ranked.sources)):
            point.explain = entry
    return points
