"""Query requests: Qdrant's QueryRequest shape, run against a collection (hybrid.query.plan).

A query may be any of Qdrant's Universal Query API forms (see hybrid.query.parse): a vector
input (dense, multivector, sparse, point id, document) or `{"nearest": ..}`, recommend,
discover, context, relevance feedback, order_by, sample, fusion, formula; with nested
`prefetch` trees. `explain` (our extension) adds per-prefetch ranks and scores to each point
(hybrid.query.explain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from hybrid import models as m
from hybrid.query.execute import execute, execute_leaves, finish_ranked
from hybrid.query.hydrate import group_response
from hybrid.query.plan import plan

if TYPE_CHECKING:
    from hybrid.view import CollectionView


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


def query_response(c: "CollectionView", req: QueryRequest, infer: Any = None,
                   lookup: Optional[Callable[[str], "CollectionView"]] = None) -> m.QueryResponse:
    """Plan and run one query request; `lookup(name)` gives other collections (`lookup_from`)."""
    return execute(plan(req, c, infer, lookup), c, lookup)


def run_query(c: "CollectionView", req: QueryRequest, infer: Any = None,
              lookup: Optional[Callable[[str], "CollectionView"]] = None) -> list[m.ScoredPoint]:
    return query_response(c, req, infer, lookup).points


def run_groups(c: "CollectionView", req: QueryGroupsRequest, infer: Any = None,
               lookup: Optional[Callable[[str], "CollectionView"]] = None) -> m.GroupsResult:
    """query_points_groups: the best `limit` groups of `group_size` hits (hybrid.query.groups).

    The ranked list is planned and run with a growing limit until the best groups are all
    full or the list is exhausted, so the answer equals grouping the complete ranking.
    """
    want = None
    while True:
        p = plan(req, c, infer, lookup, limit=want)
        ranked = finish_ranked(p, execute_leaves(p, c), view=c)
        result, complete, seen = group_response(p, ranked, c, lookup)
        if complete or seen < p.limit:
            return result
        want = p.limit * 4
