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
from hybrid.errors import ValidationError

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


def check_paging(req: QueryRequest) -> None:
    if req.limit < 0:
        raise ValidationError("limit", "must be non-negative")
    if req.offset < 0:
        raise ValidationError("offset", "must be non-negative")


def query_response(c: "CollectionView", req: QueryRequest, infer: Any = None,
                   lookup: Optional[Callable[[str], "CollectionView"]] = None) -> m.QueryResponse:
    """Plan and run one query request; `lookup(name)` gives other collections (`lookup_from`)."""
    from hybrid.query.execute import execute
    from hybrid.query.plan import plan

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
    from hybrid.query.execute import execute_leaves, finish_ranked
    from hybrid.query.plan import plan

    want = None
    while True:
        p = plan(req, c, infer, lookup, limit=want)
        ranked = finish_ranked(p, execute_leaves(p, c), view=c)
        result, complete, seen = group_response(p, ranked, c, lookup)
        if complete or seen < p.limit:
            return result
        want = p.limit * 4


def check_groups(req: QueryGroupsRequest) -> None:
    check_paging(req)
    if req.limit < 1 or req.group_size < 1:
        raise ValidationError("limit" if req.limit < 1 else "group_size", "must be at least 1")
    if not isinstance(req.group_by, str) or not req.group_by:
        raise ValidationError("group_by", "expected a payload key")
    try:
        from indexes.payload.jsonpath import parse_path

        parse_path(req.group_by)
    except (TypeError, ValueError) as exc:
        raise ValidationError("group_by", str(exc)) from None


def group_response(p: Any, ranked: Any, c: Any, lookup: Any) -> tuple[m.GroupsResult, bool, int]:
    """(the best `p.limit` groups of a ranked list, whether they are all full, points seen)."""
    from hybrid.query.execute import scored_points
    from hybrid.query.groups import first_occurrences, group

    rows = first_occurrences(ranked.cand)
    ranked = ranked.take(rows)
    spec = p.groups
    names, members, complete = group(ranked.cand, spec.key, spec.limit, spec.size)
    lookup_in, lookup_payload, lookup_vectors = with_lookup(c, spec.lookup, lookup)
    groups = []
    for name, hits in zip(names, members):  # hydration of the returned groups only
        found = None
        if lookup_in is not None:
            found = _record(lookup_in, name, lookup_payload, lookup_vectors)
        points = scored_points(ranked, hits, p.with_payload, p.with_vector, p.explain)
        groups.append(m.PointGroup(hits=points, id=name, lookup=found))
    return m.GroupsResult(groups=groups), complete, len(rows)


def with_lookup(c: "CollectionView", with_lookup: Any, lookup: Any) -> tuple[Any, Any, Any]:
    """(collection, with_payload, with_vectors) of `with_lookup` (a name or an object)."""
    spec = m.to_builtins(with_lookup)
    if spec is None:
        return None, None, None
    if isinstance(spec, str):
        spec = {"collection": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("collection"), str):
        raise ValidationError("with_lookup", "expected a collection name or {collection, with_payload, with_vectors}")
    name = spec["collection"]
    if name == c.name:
        target = c
    elif lookup is None:
        raise ValidationError("with_lookup.collection", "looking up another collection needs the client")
    else:
        target = lookup(name)
    payload = spec.get("with_payload")
    return target, True if payload is None else payload, spec.get("with_vectors") or False


def _record(target: "CollectionView", group_id: Any, with_payload: Any, with_vectors: Any) -> Optional[m.Record]:
    from hybrid.errors import HybridError
    from hybrid.ids import normalize_id
    from hybrid.query.search import record

    try:
        loc = target.where.get(normalize_id(group_id))
    except HybridError:  # a group id that is no point id has nothing to look up
        return None
    return None if loc is None else record(loc[0], loc[1], with_payload, with_vectors)
