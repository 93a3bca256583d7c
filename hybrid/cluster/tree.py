"""A query tree on a cluster: leaves scattered to the shards, merges run once here.

Mirrors hybrid.planner.execute node by node (filters merged downwards, prefetch limits,
score thresholds, ties by id) so the answer is the single node's: a leaf's union of per-shard
top-`limit` lists, cut to `limit`, is the leaf's top `limit`; fusion uses the same pool order
(point id) and the same fusion functions; a rescore scores the pooled ids where they live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid.cluster.meta import Layout, ShardInfo
from hybrid.cluster.scatter import Hits
from hybrid.config import schema_from_request
from hybrid.errors import ValidationError
from hybrid.ids import normalize_id
from hybrid.planner import MAX_DEPTH, as_list, exclude_ids, merge_filters
from hybrid.queries.parse import Fusion, Nearest, VECTOR_OPERATIONS, parse_query, shallow
from hybrid.search import display, internal_threshold

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

_LEAF_KEYS = ("query", "using", "params", "score_threshold", "lookup_from")


class Tree:
    def __init__(self, client: "ClusterClient", layout: Layout, shards: list[ShardInfo], consistency: Any) -> None:
        self.client, self.layout, self.shards, self.consistency = client, layout, shards, consistency
        self.schema = schema_from_request(**layout.config)

    def run(self, node: dict, limit: int, propagated: Any = None, field: str = "", depth: int = 0) -> Hits:
        if depth > MAX_DEPTH:
            raise ValidationError(f"{field}prefetch", f"prefetch nesting is deeper than {MAX_DEPTH} levels")
        op = parse_query(node.get("query"), f"{field}query")
        flt = merge_filters(propagated, node.get("filter"))
        if isinstance(op, Nearest) and op.mmr is not None:
            raise ValidationError(f"{field}query.nearest.mmr", "MMR is not distributed yet")
        if isinstance(op, Nearest) and isinstance(op.example, (int, str)) and not isinstance(op.example, bool):
            node, flt = self._resolve_id(node, op.example, flt, field)
        children = as_list(node.get("prefetch"))
        threshold = node.get("score_threshold")
        if not children:
            return self.leaf({**{k: node.get(k) for k in _LEAF_KEYS}, "filter": flt}, limit)
        if op is None:
            raise ValidationError(f"{field}query", "a query is needed to merge the prefetches")
        sources = []
        for i, child in enumerate(children):
            child = shallow(child)
            if not isinstance(child, dict):
                raise ValidationError(f"{field}prefetch[{i}]", "expected a prefetch object")
            child_limit = child.get("limit")
            sources.append(self.run(child, 10 if child_limit is None else int(child_limit), flt,
                                    f"{field}prefetch[{i}].", depth + 1))
        if isinstance(op, Fusion):
            if node.get("using") is not None:
                raise ValidationError(f"{field}using", "fusion queries cannot be combined with 'using'")
            hits = fuse(sources, op, limit, f"{field}query")
        elif isinstance(op, VECTOR_OPERATIONS):
            hits = self.rescore(node, sources, limit)
        else:
            raise ValidationError(f"{field}query", f"{type(op).__name__} over prefetches is not distributed yet")
        if threshold is not None:
            hits = hits.take(np.flatnonzero(hits.score >= internal_threshold(threshold, hits.distance)))
        return hits.take(np.arange(min(limit, len(hits.ids))))

    def leaf(self, node: dict, limit: int) -> Hits:
        stats = self.term_stats(node)
        parts = self.client.on_shards(self.layout, self.shards, lambda h, _: h.leaf.remote(node, limit, stats),
                                      self.consistency)
        return Hits.gather(parts).ranked(limit)

    def rescore(self, node: dict, sources: list[Hits], limit: int) -> Hits:
        """The node's vector query over the pooled points, scored on their shards."""
        ids = list(dict.fromkeys(i for s in sources for i in s.ids))
        if not ids:
            return Hits([], np.empty(0, "S17"), np.empty(0, np.float32))
        leaf = {**{k: node.get(k) for k in _LEAF_KEYS}, "score_threshold": None, "filter": {"must": [{"has_id": ids}]}}
        return self.leaf(leaf, len(ids)).ranked(limit)

    def term_stats(self, node: dict) -> Optional[dict]:
        """Collection-wide (points with the vector, term document frequencies) of an IDF sparse
        nearest query: the sums of every shard's, so IDF does not depend on sharding."""
        using = node.get("using")
        spec = self.schema.sparse.get(using) if using is not None else None
        if spec is None or not spec.idf or not isinstance(parse_query(node.get("query"), "query"), Nearest):
            return None
        parts = self.client.on_shards(self.layout, self.shards,
                                      lambda h, _: h.term_stats.remote(using, node["query"]), self.consistency)
        docs, df = 0, {}
        for shard_docs, shard_df in parts:
            docs += shard_docs
            for term, n in shard_df.items():
                df[term] = df.get(term, 0) + n
        return {using: (docs, df)}

    def _resolve_id(self, node: dict, example: Any, flt: Any, field: str) -> tuple[dict, Any]:
        """`nearest` a stored point: its vector from its shard; the point itself excluded."""
        if node.get("lookup_from") is not None:
            raise ValidationError(f"{field}lookup_from", "lookup_from is not distributed yet")
        pid = normalize_id(example, f"{field}query")
        using = node.get("using") or ""
        found = self.client.retrieve(self.layout.name, [pid], with_payload=False, with_vectors=[using] if using else True,
                                     consistency=self.consistency,
                                     shard_key_selector=self._selector())
        if not found:
            raise ValidationError(f"{field}query", f"No point with id {pid} found")
        vector = found[0].vector
        vector = vector.get(using) if isinstance(vector, dict) and (using or using in vector) else vector
        return {**node, "query": vector}, exclude_ids(flt, [pid])

    def _selector(self) -> Any:
        return [s.shard_key for s in self.shards] if self.layout.sharding_method == "custom" else None


def fuse(sources: list[Hits], op: Fusion, limit: int, field: str) -> Hits:
    """As hybrid.planner.fuse: pool index = rank in id order, so ties break by id."""
    from fusion.dbsf import dbsf
    from fusion.rrf import DEFAULT_K, rrf
    from fusion.weighted import linear

    keys = np.concatenate([s.keys for s in sources]) if sources else np.empty(0, "S17")
    if keys.size == 0:
        return Hits([], keys, np.empty(0, np.float32))
    ids = [i for s in sources for i in s.ids]
    pool_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    lists, start = [], 0
    for s in sources:
        codes = inverse[start: start + len(s.ids)]
        start += len(s.ids)
        _, once = np.unique(codes, return_index=True)
        once.sort()
        scores = display(s.score, s.distance) if op.method == "dbsf" else s.score
        lists.append((codes[once], np.asarray(scores)[once]))
    try:
        if op.method == "rrf":
            out, scores = rrf(lists, k=DEFAULT_K if op.k is None else op.k, weights=op.weights, limit=limit)
        elif op.method == "dbsf":
            out, scores = dbsf(lists, limit=limit)
        else:
            out, scores = linear(lists, weights=op.weights, normalization=op.normalization, limit=limit)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None
    out = np.asarray(out, dtype=np.int64)
    return Hits([ids[i] for i in first[out].tolist()], pool_keys[out], np.asarray(scores, np.float32))
