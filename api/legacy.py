"""Qdrant's legacy search, recommend and discover requests as Query API calls.

Each function maps a request body to keyword arguments of `Client.query_points` (or
`query_points_groups`), the way Qdrant itself serves these routes since 1.10:
- search: `vector` (plain, or {name, vector}) -> `query` + `using`;
- recommend: positive/negative/strategy -> `query={"recommend": {...}}`;
- discover: target + context pairs -> `query={"discover": {...}}` (only context: `{"context": [...]}`).
"""

from __future__ import annotations

from typing import Any, Optional

from api import schemas as s
from api.responses import as_builtin
from hybrid.errors import ValidationError


def _common(body: s.Common) -> dict[str, Any]:
    return {"query_filter": body.filter, "search_params": as_builtin(body.params),
            "with_payload": body.with_payload, "with_vectors": body.with_vector,
            "score_threshold": body.score_threshold}


def _named_vector(vector: Any) -> tuple[Any, Optional[str]]:
    """(vector, vector name) of a search's `vector`: a list, {name, vector}, or a sparse {name, vector}."""
    if isinstance(vector, dict) and "name" in vector and "vector" in vector:
        if not isinstance(vector["name"], str):
            raise ValidationError("vector.name", "must be a string")
        vector, name = vector["vector"], vector["name"]
    else:
        name = None
    if not isinstance(vector, (list, dict)):
        raise ValidationError("vector", "expected a vector: a list of numbers, {name, vector} or a sparse vector")
    return vector, name


def search_args(body: s.Search) -> dict[str, Any]:
    vector, using = _named_vector(body.vector)
    return {"query": vector, "using": using, "limit": body.limit, "offset": body.offset, **_common(body)}


def search_groups_args(body: s.SearchGroups) -> dict[str, Any]:
    vector, using = _named_vector(body.vector)
    return {"query": vector, "using": using, "limit": body.limit, "group_by": body.group_by,
            "group_size": body.group_size, "with_lookup": body.with_lookup, **_common(body)}


def _recommend_query(body: s.Recommend) -> dict[str, Any]:
    spec: dict[str, Any] = {"positive": body.positive, "negative": body.negative}
    if body.strategy is not None:
        spec["strategy"] = body.strategy
    return {"recommend": spec}


def recommend_args(body: s.Recommend) -> dict[str, Any]:
    return {"query": _recommend_query(body), "using": body.using, "lookup_from": body.lookup_from,
            "limit": body.limit, "offset": body.offset, **_common(body)}


def recommend_groups_args(body: s.RecommendGroups) -> dict[str, Any]:
    return {"query": _recommend_query(body), "using": body.using, "lookup_from": body.lookup_from,
            "limit": body.limit, "group_by": body.group_by, "group_size": body.group_size,
            "with_lookup": body.with_lookup, **_common(body)}


def discover_args(body: s.Discover) -> dict[str, Any]:
    context = body.context or []
    if body.target is None:
        if not context:
            raise ValidationError("context", "give a target, context pairs, or both")
        query: dict[str, Any] = {"context": context}
    else:
        query = {"discover": {"target": body.target, "context": context}}
    return {"query": query, "using": body.using, "lookup_from": body.lookup_from,
            "limit": body.limit, "offset": body.offset, **_common(body)}


def query_args(body: s.Query) -> dict[str, Any]:
    """A Query API body -> `Client.query_points` keyword arguments (REST defaults: no payload)."""
    args = {"query": body.query, "using": body.using, "prefetch": body.prefetch, "query_filter": body.filter,
            "search_params": as_builtin(body.params), "limit": 10 if body.limit is None else body.limit,
            "offset": body.offset, "with_payload": body.with_payload, "with_vectors": body.with_vector,
            "score_threshold": body.score_threshold, "lookup_from": body.lookup_from}
    if body.explain:
        args["explain"] = True
    return args


def query_groups_args(body: s.QueryGroups) -> dict[str, Any]:
    args = query_args(body)
    args.pop("offset")
    args.update(group_by=body.group_by, group_size=3 if body.group_size is None else body.group_size,
                with_lookup=body.with_lookup)
    return args
