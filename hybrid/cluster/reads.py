"""Queries on a cluster, on the plan interface (hybrid.query): plan once, leaves per shard,
the merge tree once.

The coordinator plans against a schema-only copy of the collection (same config and payload
indexes, no points), so a request is validated whole before anything is sent. Every shard runs
the plan's leaves (`execute_leaves`, with collection-wide IDF statistics summed from every
shard's `leaf_statistics`); `gather` keeps each leaf's global top `leaf.limit`; `finish` runs
fusion, rescoring, formulas, order_by, MMR, groups once here over the points fetched from
their shards. So scores do not depend on `shard_number` (Qdrant fuses per shard: qdrant#10640).

Point ids used as `nearest` examples are resolved to their stored vectors first (from the
shard holding them) and excluded from the result, as on one node. Not distributed (refused by
name): BM25 over a prefetch pool, ids as recommend/discover/context examples, `lookup_from`.
BM25 leaves score with the collection's statistics, length normalisation included
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
from hybrid.errors import ValidationError
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
        key = msgspec.json.encode([layout.uid, layout.config, layout.field_indexes])
        with self.lock:
            if self.built.get(layout.name) != key:
                self.client.delete_collection(layout.name)
                self.client.create_collection(layout.name, **layout.config)
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
    view = client.planning.view(layout)
    p = plan(req, view, client.infer)
    leaves, stats = _leaves(client, layout, shards, p, consistency)
    fetch = _fetcher(client, layout, shards, view.schema, p, consistency)
    if p.groups is None:
        return finish(p, leaves, fetch, stats=stats)
    while True:  # as hybrid.query.request.run_groups: more entries until the best groups are full
        result, complete, seen = group_response(p, finish_ranked(p, leaves, fetch, stats=stats), view, None)
        if complete or seen < p.limit:
            return result
        p = plan(req, view, client.infer, limit=p.limit * 4)
        leaves, stats = _leaves(client, layout, shards, p, consistency)


def _leaves(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], p: Any, consistency: Any) -> tuple:
    """(the gathered leaf results, the collection-wide statistics or None)."""
    from hybrid.query.execute import LeafHits, gather, sum_statistics
    from hybrid.query.nodes import Merge

    for node in p.nodes():
        if isinstance(node, Merge) and not node.coordinator:
            raise ValidationError("query", f"{node.op} over prefetched points is not distributed yet")
    # Sent pickled in-band: Ray's zero-copy arrays would arrive read-only, which the kernels refuse.
    stats = None
    if p.weighted():  # IDF sparse queries and BM25: statistics summed over every shard
        shipped = pickle.dumps(p)
        stats = sum_statistics(client.on_shards(layout, shards, lambda h, _: h.leaf_statistics.remote(shipped),
                                                consistency))
    shipped = pickle.dumps((p, stats))
    parts = client.on_shards(layout, shards, lambda h, _: h.execute_leaves.remote(shipped), consistency)
    return gather(p, [tuple(LeafHits(scores, keys, values) for keys, scores, values in part) for part in parts]), stats


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
    """The request's `nearest` point-id examples replaced by their vectors (top level and in
    prefetches); each such point is excluded under its node, as hybrid.query.plan does."""
    node = {"query": req.query, "using": req.using, "filter": req.filter, "prefetch": req.prefetch}
    out = _resolve_node(client, layout, shards, node, consistency, "")
    return {k: out[k] for k in ("query", "filter", "prefetch")}


def _resolve_node(client: "ClusterClient", layout: Layout, shards: list[ShardInfo], node: Any, consistency: Any,
                  field: str) -> Any:
    node = m.to_builtins(node)
    if not isinstance(node, dict):
        return node
    query = node.get("query")
    wrapped = isinstance(query, dict) and "nearest" in query
    example = query["nearest"] if wrapped else query
    if isinstance(example, (int, str)) and not isinstance(example, bool) and node.get("lookup_from") is None:
        pid = normalize_id(example, f"{field}query")
        using = node.get("using") or ""
        found = client.retrieve(layout.name, [pid], with_payload=False, with_vectors=[using] if using else True,
                                consistency=consistency, shard_key_selector=_selector(layout, shards))
        if not found:
            raise ValidationError(f"{field}query", f"No point with id {pid} found")
        vector = found[0].vector
        vector = vector.get(using) if isinstance(vector, dict) and using in vector else vector
        query = {**query, "nearest": vector} if wrapped else vector
        flt = node.get("filter") or {}
        node = {**node, "query": query, "filter": {**flt, "must_not": _as_list(flt.get("must_not")) + [{"has_id": [pid]}]}}
    prefetch = node.get("prefetch")
    if prefetch is not None:
        children = prefetch if isinstance(prefetch, list) else [prefetch]
        node["prefetch"] = [_resolve_node(client, layout, shards, child, consistency, f"{field}prefetch[{i}].")
                            for i, child in enumerate(children)]
    return node


def _as_list(value: Any) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]
