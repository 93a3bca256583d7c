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


def run_ranked(c: "CollectionView", req: QueryRequest, limit: int, infer: Any = None,
               lookup: Optional[Callable[[str], "CollectionView"]] = None) -> Ranked:
    """The request's top `limit` entries, before offset and hydration."""
    return run_tree(Env(c, infer, lookup), req, limit)


def run_query(c: "CollectionView", req: QueryRequest, infer: Any = None,
              lookup: Optional[Callable[[str], "CollectionView"]] = None) -> list[m.ScoredPoint]:
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


def run_groups(c: "CollectionView", req: QueryGroupsRequest, infer: Any = None,
               lookup: Optional[Callable[[str], "CollectionView"]] = None) -> m.GroupsResult:
    """query_points_groups: the best `limit` groups of `group_size` hits (hybrid.queries.groups).

    The ranked list is fetched with a growing limit until the best groups are all full or
    the list is exhausted, so the answer equals grouping the complete ranking.
    """
    from hybrid.queries.groups import first_occurrences, group

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
    want = max(2 * req.limit * req.group_size, 16)
    while True:
        ranked = run_ranked(c, req, want, infer, lookup)
        rows = first_occurrences(ranked.cand)
        ranked = Ranked(ranked.cand.take(rows), ranked.distance,
                        None if ranked.order_values is None else ranked.order_values[rows], ranked.sources)
        names, members, complete = group(ranked.cand, req.group_by, req.limit, req.group_size)
        if complete or len(rows) < want:
            break
        want *= 4
    lookup_in, lookup_payload, lookup_vectors = _with_lookup(c, req.with_lookup, lookup)
    groups = []
    for name, hits in zip(names, members):  # hydration of the returned groups only
        found = None
        if lookup_in is not None:
            found = _record(lookup_in, name, lookup_payload, lookup_vectors)
        points = scored_points(ranked, hits, req.with_payload, req.with_vector, req.explain)
        groups.append(m.PointGroup(hits=points, id=name, lookup=found))
    return m.GroupsResult(groups=groups)


def _with_lookup(c: "CollectionView", with_lookup: Any, lookup: Any) -> tuple[Any, Any, Any]:
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
    from hybrid.search import record

    try:
        loc = target.where.get(normalize_id(group_id))
    except HybridError:  # a group id that is no point id has nothing to look up
        return None
    return None if loc is None else record(loc[0], loc[1], with_payload, with_vectors)
