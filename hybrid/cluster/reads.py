"""Queries on a cluster, on the plan interface (hybrid.query): plan once, leaves per shard,
the merge tree once.

The coordinator plans against a schema-only copy of the collection (same config and payload
indexes, no points), so a request is validated whole before anything is sent. Every shard runs
the plan's leaves (`execute_leaves`, with collection-wide IDF statistics summed from every
shard's `leaf_statistics`); `gather` keeps each leaf's global top `leaf.limit`; `finish` runs
fusion, rescoring, formulas, order_by, MMR, groups once here over the points fetched from
their shards. So scores do not depend on `shard_number` (Qdrant fuses per shard: qdrant#10640).

Point-id examples (of every query kind, also from `lookup_from`'s collection) are resolved to
their stored vectors first, from the shard holding them, and the searched collection's are
excluded from the result, as on one node. BM25 over a prefetch pool runs as a BM25 leaf
filtered to the pool's ids on the shards. BM25 scores with the collection's statistics, length normalisation included
(indexes.text.global_bm25), so they equal one node's whatever each shard's average length.
"""

from __future__ import annotations

import pickle
import threading
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.cluster.meta import Layout, ShardInfo
from hybrid.cluster.resolve import resolve_leaves, resolve_statistics
from hybrid.config import DEFAULT_VECTOR
from hybrid.errors import HybridError, PointNotFound, ValidationError
from hybrid.ids import id_of_key, normalize_id

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient


class PlanningViews:
    """Schema-only collections, one per cluster collection, rebuilt when its layout changes."""

    def __init__(self) -> None:
        from hybrid.client import Client

        self.client = Client()
        self.built: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def view(self, layout: Layout) -> Any:
        key = msgspec.json.encode([layout.uid, layout.config, layout.field_indexes, layout.updates])
        with self.lock:
            if self.built.get(layout.name) != key:
                self.client.delete_collection(layout.name)
                self.client.create_collection(layout.name, **layout.config)
                for update in layout.updates:
                    self.client.update_collection(layout.name, **update)
                for field, schema in layout.field_indexes.items():
                    self.client.create_payload_index(layout.name, field, schema)
                self.built[layout.name] = key
            return self.client._view(layout.name)


def run_query(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], req: Any, consistency: Any) -> Any:
    """A QueryRequest (or QueryGroupsRequest) over the given shards."""
    from hybrid.query.execute import finish, finish_ranked
    from hybrid.query.plan import plan
    from hybrid.query.request import group_response

    req = msgspec.structs.replace(req, **_resolved(client, layout, shards, req, consistency))
    lookup = None
    if getattr(req, "with_lookup", None) is not None:  # filled below from the shards, not the planning copy
        lookup, req = _lookup_spec(client, req.with_lookup), msgspec.structs.replace(req, with_lookup=None)
    view = client.planning.view(layout)
    p = plan(req, view, client.infer)
    leaves, stats = _leaves(client, layout, shards, p, consistency)
    fetch = _fetcher(client, layout, shards, view.schema, p, consistency)
    pool_bm25 = _pool_bm25(client, layout, shards, consistency)
    if p.groups is None:
        return finish(p, leaves, fetch, stats=stats, shard_bm25=pool_bm25(stats))
    while True:  # as hybrid.query.request.run_groups: more entries until the best groups are full
        ranked = finish_ranked(p, leaves, fetch, stats=stats, shard_bm25=pool_bm25(stats))
        result, complete, seen = group_response(p, ranked, view, None)
        if complete or seen < p.limit:
            return result if lookup is None else _with_lookup(client, lookup, result, consistency)
        p = plan(req, view, client.infer, limit=p.limit * 4)
        leaves, stats = _leaves(client, layout, shards, p, consistency)


def _leaves(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], p: Any, consistency: Any) -> tuple:
    """(the gathered leaf results, the collection-wide statistics or None)."""
    from hybrid.query.execute import sum_statistics

    # Sent pickled in-band: Ray's zero-copy arrays would arrive read-only, which the kernels refuse.
    stats = None
    if p.weighted():  # IDF sparse queries and BM25: statistics summed over every shard
        shipped = pickle.dumps(p)
        stats = sum_statistics(client.on_shards(layout, shards, lambda h, _: h.leaf_statistics.remote(shipped),
                                                consistency, resolve_statistics))
    return _run_leaves(client, layout, shards, p, stats, consistency), stats


def _run_leaves(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], p: Any, stats: Any,
                consistency: Any) -> tuple:
    """The plan's leaves on every shard, gathered: each leaf's global top `leaf.limit`."""
    from hybrid.query.execute import LeafHits, gather

    shipped = pickle.dumps((p, stats))
    parts = client.on_shards(layout, shards, lambda h, _: h.execute_leaves.remote(shipped), consistency,
                             resolve_leaves)
    return gather(p, [tuple(LeafHits(scores, keys, values) for keys, scores, values in part) for part in parts])


def _pool_bm25(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], consistency: Any) -> Any:
    """For a BM25 merge (BM25 restricted to a prefetch pool): the pool's points scored by the
    shards holding them, as a BM25 leaf filtered to the pool's ids, with the collection's
    statistics; the best `node.limit` (ties by id), as one node's index restricted to the pool."""
    from hybrid.query.nodes import Leaf, Plan
    from hybrid.query.search import parse

    def with_stats(stats: Any) -> Any:
        def run(node: Any, keys: np.ndarray) -> tuple:
            if not keys.size:
                return keys, np.empty(0, np.float32)
            only = parse({"must": [{"has_id": [id_of_key(k) for k in keys.tolist()]}]})
            leaf = Leaf(0, "bm25", None, node.query, only, None, node.limit, None, path=node.path)
            plan = Plan(leaf, (leaf,), node.limit)
            (hits,) = _run_leaves(client, layout, shards, plan, {0: stats[node.stats_key]}, consistency)
            return hits.keys, hits.scores

        return run

    return with_stats


def _fetcher(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], schema: Any, p: Any,
             consistency: Any) -> Any:
    """fetch(keys, needs): the candidates' records from their shards, with what the merge
    tree needs (payload for formulas/order_by, named vectors for rescoring/MMR) and what the
    answer shows."""
    from hybrid.query.execute import records_candidates

    def fetch(keys: np.ndarray, needs: tuple) -> Any:
        ids = [id_of_key(k) for k in keys.tolist()]
        payload = True if "payload" in needs or p.with_payload is None else p.with_payload
        vectors = sorted(n.split(":", 1)[1] for n in needs if n.startswith("vector:"))
        shown = p.with_vector
        if shown is True or (vectors and not shown):
            wanted = True if shown is True else vectors
        else:
            wanted = sorted(set(vectors) | set(shown or [])) if isinstance(shown, list) else (vectors or False)
        if not ids:
            return records_candidates(schema, [])
        records = client.retrieve(layout.name, ids, with_payload=payload, with_vectors=wanted, consistency=consistency,
                                  shard_key_selector=_selector(layout, shards))
        return records_candidates(schema, records)

    return fetch


def _selector(layout: Layout, shards: list[ShardInfo]) -> Any:
    return sorted({s.shard_key for s in shards}, key=str) if layout.sharding_method == "custom" else None


def _resolved(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], req: Any, consistency: Any) -> dict:
    """The request with every point-id example (nearest, recommend, discover, context, relevance
    feedback; top level and in prefetches) replaced by its stored vector, read from the shard
    holding it (of `lookup_from`'s collection when given). Ids of the searched collection are
    excluded under their node, as hybrid.query.plan does (Qdrant's rule)."""
    node = {"query": req.query, "using": req.using, "filter": req.filter, "prefetch": req.prefetch,
            "lookup_from": req.lookup_from}
    out = _resolve_node(client, layout, shards, node, consistency, "")
    return {k: out[k] for k in ("query", "filter", "prefetch", "lookup_from")}


def _resolve_node(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], node: Any, consistency: Any,
                  field: str) -> Any:
    from hybrid.query.plan import exclude_ids

    node = m.to_builtins(node)
    if not isinstance(node, dict):
        return node
    ids: list = []
    _map_examples(node.get("query"), lambda example: ids.append(normalize_id(example, f"{field}query")))
    source = m.to_builtins(node.get("lookup_from"))
    if ids or source is not None:
        name, vector, selector = layout.name, node.get("using") or DEFAULT_VECTOR, _selector(layout, shards)
        if isinstance(source, dict) and isinstance(source.get("collection"), str):
            name, vector = source["collection"], source.get("vector") or vector
            if name != layout.name:
                selector = source.get("shard_key")
        elif source is not None:
            raise ValidationError(f"{field}lookup_from", "expected {collection, vector}")
        looked_up = client.layout(name)
        client.planning.view(looked_up).schema.kind_of(vector)  # an unknown vector name: refused by name
        records = client.retrieve(name, ids, with_payload=False, with_vectors=[vector] if vector else True, consistency=consistency,
                                  shard_key_selector=selector) if ids else []
        vectors = {normalize_id(r.id): _named(m.to_builtins(r.vector), vector) for r in records}
        missing = [pid for pid in ids if vectors.get(pid) is None]
        if missing:
            if missing[0] not in vectors:
                raise PointNotFound(missing[0])
            raise ValidationError(f"{field}query", f"point {missing[0]} has no vector {vector or '(default)'!r}")
        query = _map_examples(node.get("query"), lambda example: vectors[normalize_id(example)])
        flt = exclude_ids(node.get("filter"), ids) if name == layout.name else node.get("filter")
        node = {**node, "query": query, "filter": flt, "lookup_from": None}
    prefetch = node.get("prefetch")
    if prefetch is not None:
        children = prefetch if isinstance(prefetch, list) else [prefetch]
        node["prefetch"] = [_resolve_node(client, layout, shards, child, consistency, f"{field}prefetch[{i}].")
                            for i, child in enumerate(children)]
    return node


def _map_examples(query: Any, change: Any) -> Any:
    """`query` with `change(id)` in place of every point-id example (hybrid.query.parse's shapes)."""
    def one(example: Any) -> Any:
        return change(example) if isinstance(example, (int, str)) and not isinstance(example, bool) else example

    def pairs(value: Any) -> Any:
        if isinstance(value, dict):
            return {**value, **{k: one(value[k]) for k in ("positive", "negative") if k in value}}
        return [pairs(pair) for pair in value] if isinstance(value, list) else value

    def many(value: Any) -> Any:
        return [one(v) for v in value] if isinstance(value, list) else one(value) if value is not None else None

    if not isinstance(query, dict):
        return one(query)
    if "nearest" in query:
        return {**query, "nearest": one(query["nearest"])}
    body = query.get("recommend") or query.get("discover") or query.get("relevance_feedback")
    if "recommend" in query and isinstance(body, dict):
        return {**query, "recommend": {**body, **{k: many(body[k]) for k in ("positive", "negative") if k in body}}}
    if "discover" in query and isinstance(body, dict):
        return {**query, "discover": {**body, "target": one(body.get("target")),
                                      **({"context": pairs(body["context"])} if "context" in body else {})}}
    if "relevance_feedback" in query and isinstance(body, dict):
        feedback = body.get("feedback")
        if isinstance(feedback, list):
            feedback = [{**item, "example": one(item.get("example"))} if isinstance(item, dict) else item
                        for item in feedback]
        return {**query, "relevance_feedback": {**body, "target": one(body.get("target")), "feedback": feedback}}
    if "context" in query:
        return {**query, "context": pairs(query["context"])}
    return query


def _named(vector: Any, name: str) -> Any:
    return vector.get(name) if isinstance(vector, dict) and "indices" not in vector else vector


def _lookup_spec(client: "ClusterClient", spec: Any) -> tuple:
    """(collection, with_payload, with_vectors) of a groups request's `with_lookup`."""
    from hybrid.query.hydrate import with_lookup

    return with_lookup(None, spec, lambda name: client.layout(name).name)


def _with_lookup(client: "ClusterClient", lookup: tuple, result: Any, consistency: Any) -> Any:
    """Each group's `lookup`: the point of that id in the lookup collection, read from its shard
    (a group id that is no point id has none), as hybrid.query.hydrate does on one node."""
    name, with_payload, with_vectors = lookup
    ids = {}
    for group in result.groups:
        try:
            ids[group.id] = normalize_id(group.id)
        except HybridError:
            pass
    records = client.retrieve(name, list(dict.fromkeys(ids.values())), with_payload=with_payload,
                              with_vectors=with_vectors, consistency=consistency) if ids else []
    found = {normalize_id(r.id): r for r in records}
    groups = [msgspec.structs.replace(g, lookup=found.get(ids.get(g.id))) for g in result.groups]
    return msgspec.structs.replace(result, groups=groups)
