"""The last step of a read: ranked candidates -> ScoredPoints (payload, vectors, order values,
explain) or groups (with their `with_lookup` records). Only the returned points are read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.errors import HybridError, ValidationError
from hybrid.ids import normalize_id
from hybrid.query.explain import explain_entries
from hybrid.query.groups import first_occurrences, group
from hybrid.query.ordering import order_value_output
from hybrid.query.search import hydrate, record

if TYPE_CHECKING:
    from hybrid.query.merge import Ranked
    from hybrid.view import CollectionView


def scored_points(ranked: Ranked, rows: Optional[np.ndarray], with_payload: Any, with_vector: Any,
                  explain: bool = False) -> list[m.ScoredPoint]:
    """Hydrate the given rows (None: all) of a ranked result (payload, vectors, order values,
    explain)."""
    cand = ranked.cand.take(rows) if rows is not None and rows.size != len(ranked.cand) else ranked.cand
    points = hydrate(cand, with_payload, with_vector, ranked.distance)
    if ranked.order_values is not None:
        values = ranked.order_values if rows is None else ranked.order_values[rows]
        for point, value in zip(points, values.tolist()):
            point.order_value = order_value_output(value)
    if explain:
        for point, entry in zip(points, explain_entries(cand, [p.score for p in points], ranked.sources)):
            point.explain = entry
    return points


def group_response(p: Any, ranked: Any, c: Any, lookup: Any) -> tuple[m.GroupsResult, bool, int]:
    """(the best `p.limit` groups of a ranked list, whether they are all full, points seen)."""
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
    if c is not None and name == c.name:
        target = c
    elif lookup is None:
        raise ValidationError("with_lookup.collection", "looking up another collection needs the client")
    else:
        target = lookup(name)
    payload = spec.get("with_payload")
    return target, True if payload is None else payload, spec.get("with_vectors") or False


def _record(target: "CollectionView", group_id: Any, with_payload: Any, with_vectors: Any) -> Optional[m.Record]:
    try:
        loc = target.where.get(normalize_id(group_id))
    except HybridError:  # a group id that is no point id has nothing to look up
        return None
    return None if loc is None else record(loc[0], loc[1], with_payload, with_vectors)
