"""Reads on a cluster: scatter to one replica per shard (or more, by read `consistency`),
merge at the coordinator.

count sums; retrieve routes ids to their shards; scroll merges every shard's first
`limit + 1` ids from the offset (id order, so paging is exact); facet sums every shard's
counts of every value before taking the top `limit`; queries run the plan's leaves on the
shards and its merge tree here (hybrid.cluster.reads).

Read `consistency` (an integer, "majority", "quorum", "all") asks several replicas of each
shard and resolves their answers by Qdrant's rule (hybrid.cluster.resolve).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import time
from typing import TYPE_CHECKING, Any, Iterator, Optional

import numpy as np

from hybrid import models as m
from hybrid.cluster.meta import ACTIVE, DEAD, Layout, ShardInfo
from hybrid.cluster.resolve import (Resolver, first, read_rule, resolve_count, resolve_facet, resolve_records,
                                    resolve_scroll)
from hybrid.errors import Unavailable, ValidationError
from hybrid.client import _query_request
from hybrid.ids import id_keys, normalize_id, normalize_ids
from hybrid.matrix import MatrixMixin
from hybrid.query.parse import parse_order_by, shallow
from hybrid.query.request import QueryGroupsRequest, QueryRequest

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

FACET_ALL = 2**31 - 1  # shards return every value: counts are summed before the top `limit`
CALL_WAIT_S = 120.0  # longest wait for one replica's answer before it is taken for dead

#: The monotonic time by which the current read must finish (its `timeout`), or None.
_deadline: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar("read_deadline", default=None)


@contextlib.contextmanager
def read_deadline(timeout: Optional[int]) -> Iterator[None]:
    """A read's `timeout` (seconds): every replica answer it waits for must come before it ends,
    else the read fails with 503 (the replica is not taken for dead). Nested reads keep the
    outer deadline unless they bring their own."""
    if timeout is None:
        yield
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ValidationError("timeout", "expected a positive number of seconds")
    token = _deadline.set(time.monotonic() + timeout)
    try:
        yield
    finally:
        _deadline.reset(token)


class ReadMixin(MatrixMixin):
    """The read methods of ClusterClient; the search matrix (hybrid.matrix) samples through
    `query_points` here."""

    _turn = itertools.count()

    def _schema_of(self: "ClusterClient", collection_name: str) -> Any:
        return self.planning.view(self.layout(collection_name)).schema

    # ------------------------------------------------------------------ scatter
    def on_shards(self: "ClusterClient", layout: Layout, shards: list[ShardInfo], call: Any,
                  consistency: Any = None, resolve: Resolver = first) -> list[Any]:
        """`call(handle, shard_id)` on as many active replicas of every shard as `consistency`
        asks (hybrid.cluster.resolve), in parallel; a dead replica is marked and another one
        asked. One answer per shard: its replicas' answers by `resolve`."""
        rules = [read_rule(consistency, len(s.replicas)) for s in shards]
        pending = [self._ask(layout, s, call, n, set()) for s, (n, _) in zip(shards, rules)]
        out = []
        for shard, asked, (_, condition) in zip(shards, pending, rules):
            answers = self._answers(layout, shard, call, asked)
            out.append(answers[0] if len(answers) == 1 else resolve(answers, condition))
        return out

    def _ask(self: "ClusterClient", layout: Layout, shard: ShardInfo, call: Any, n: int, skip: set) -> list:
        active = [r for r in shard.replicas if r.state == ACTIVE and r.replica_id not in skip]
        if len(active) < n:
            raise Unavailable(f"shard {shard.shard_id} of {layout.name!r}: {len(active)} active replicas, "
                              f"the read needs {n}")
        start = next(self._turn) % len(active)  # spread reads over the replicas
        chosen = (active[start:] + active[:start])[:n]
        out = []
        for r in chosen:
            try:
                out.append((r.replica_id, call(self.handle(layout, shard.shard_id, r.replica_id), shard.shard_id)))
            except self.dead_errors():
                out.append((r.replica_id, None))
        return out

    def _answers(self: "ClusterClient", layout: Layout, shard: ShardInfo, call: Any, asked: list,
                 tried: frozenset = frozenset()) -> list:
        """The answers of the asked replicas; each dead one replaced by another replica's."""
        tried = tried | {replica_id for replica_id, _ in asked}
        answers = []
        deadline = _deadline.get()
        for replica_id, ref in asked:
            try:
                if ref is None:
                    raise ValueError("unreachable")
                left = CALL_WAIT_S if deadline is None else min(CALL_WAIT_S, deadline - time.monotonic())
                answers.append(self.get(ref, timeout=max(left, 0.0)))
            except self.dead_errors():
                if deadline is not None and time.monotonic() >= deadline:
                    raise Unavailable(f"shard {shard.shard_id} of {layout.name!r} did not answer within the "
                                      "read's timeout") from None
                self.mark(layout, shard.shard_id, replica_id, DEAD)
                answers.extend(self._answers(layout, shard, call, self._ask(layout, shard, call, 1, set(tried)), tried))
        return answers

    # ------------------------------------------------------------------ point reads
    def count(self, collection_name: str, count_filter: Any = None, exact: bool = True, shard_key_selector: Any = None,
              consistency: Any = None, timeout: Optional[int] = None) -> m.CountResult:
        layout = self.layout(collection_name)
        kwargs = {"count_filter": m.to_builtins(count_filter), "exact": exact}
        with read_deadline(timeout):
            parts = self.on_shards(layout, self.target_shards(layout, shard_key_selector),
                                   lambda h, _: h.read.remote("count", kwargs), consistency, resolve_count)
        return m.CountResult(count=sum(p["count"] for p in parts))

    def retrieve(self, collection_name: str, ids: Any, with_payload: Any = True, with_vectors: Any = False,
                 consistency: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> list[m.Record]:
        layout = self.layout(collection_name)
        wanted = list(dict.fromkeys(normalize_ids(ids, "ids")))
        kwargs = {"with_payload": m.to_builtins(with_payload), "with_vectors": m.to_builtins(with_vectors)}
        found = {}
        with read_deadline(timeout):
            parts = self._by_id(layout, wanted, shard_key_selector, "retrieve", kwargs, "ids", consistency)
        for part in parts:
            for rec in part:
                found[normalize_id(rec["id"])] = rec
        return [m.convert(found[i], m.Record, "record") for i in wanted if i in found]

    def _by_id(self: "ClusterClient", layout: Layout, ids: list, selector: Any, method: str, kwargs: dict,
               field: str, consistency: Any) -> list:
        """`method` on the shards holding `ids` (routed by id; every targeted shard when custom)."""
        if layout.sharding_method == "auto":
            routed = self.route(layout, ids, selector)
            per = {sid: {**kwargs, field: [ids[p] for p in pos]} for sid, pos in routed.items()}
        else:
            per = {s.shard_id: {**kwargs, field: ids} for s in self.target_shards(layout, selector)}
        return self.on_shards(layout, [layout.shard(sid) for sid in per],
                              lambda h, sid: h.read.remote(method, per[sid]), consistency, resolve_records)

    def scroll(self, collection_name: str, scroll_filter: Any = None, limit: int = 10, offset: Any = None,
               with_payload: Any = True, with_vectors: Any = False, order_by: Any = None, consistency: Any = None,
               shard_key_selector: Any = None, timeout: Optional[int] = None) -> tuple[list[m.Record], Any]:
        """Id order across shards: every shard's first `limit + 1` from `offset`, merged. By a
        payload value (`order_by`): every shard's first `limit`, merged by value then id (a
        point once per distinct value, no next offset), as on one node."""
        if limit is None or isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValidationError("limit", "must be a non-negative integer")
        layout = self.layout(collection_name)
        ordered = order_by is not None
        kwargs = {"scroll_filter": m.to_builtins(scroll_filter), "limit": limit + (0 if ordered else 1),
                  "offset": m.to_builtins(offset), "with_payload": m.to_builtins(with_payload),
                  "with_vectors": m.to_builtins(with_vectors), "order_by": m.to_builtins(order_by)}
        with read_deadline(timeout):
            parts = self.on_shards(layout, self.target_shards(layout, shard_key_selector),
                                   lambda h, _: h.read.remote("scroll", kwargs), consistency, resolve_scroll)
        records = [rec for records, _ in parts for rec in records]
        keys = id_keys([normalize_id(r["id"]) for r in records]) if records else np.empty(0)
        if ordered:
            values = np.array([r["order_value"] for r in records], np.float64)
            order = np.lexsort((keys, -values if parse_order_by(kwargs["order_by"]).descending else values))
        else:
            order = np.argsort(keys, kind="stable")
        records = [records[i] for i in order.tolist()]
        page = [m.convert(r, m.Record, "record") for r in records[:limit]]
        return page, (records[limit]["id"] if len(records) > limit and not ordered else None)

    def facet(self, collection_name: str, key: str, facet_filter: Any = None, limit: int = 10, exact: bool = False,
              consistency: Any = None, timeout: Optional[int] = None, shard_key_selector: Any = None) -> Any:
        """Every shard's counts of every value, summed, then the top `limit` (count desc, value asc)."""
        from hybrid.models import FacetResponse, FacetValueHit

        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ValidationError("limit", "must be a non-negative integer")
        layout = self.layout(collection_name)
        kwargs = {"key": key, "facet_filter": m.to_builtins(facet_filter), "limit": FACET_ALL, "exact": exact}
        with read_deadline(timeout):
            parts = self.on_shards(layout, self.target_shards(layout, shard_key_selector),
                                   lambda h, _: h.read.remote("facet", kwargs), consistency, resolve_facet)
        counts: dict[tuple[int, Any], int] = {}
        for part in parts:
            for hit in part["hits"]:
                value = hit["value"]
                kind = 0 if isinstance(value, bool) else 1 if isinstance(value, (int, float)) else 2
                counts[(kind, value)] = counts.get((kind, value), 0) + int(hit["count"])
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return FacetResponse([FacetValueHit(value, n) for (_, value), n in ranked])

    # ------------------------------------------------------------------ queries
    def query_points(self, collection_name: str, query: Any = None, using: Optional[str] = None, prefetch: Any = None,
                     query_filter: Any = None, search_params: Any = None, limit: int = 10, offset: Optional[int] = None,
                     with_payload: Any = True, with_vectors: Any = False, score_threshold: Optional[float] = None,
                     lookup_from: Any = None, explain: bool = False, consistency: Any = None,
                     shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.QueryResponse:
        req = QueryRequest(
            query=m.to_builtins(query), using=using, prefetch=shallow(prefetch), filter=shallow(query_filter),
            params=m.convert(search_params, m.SearchParams, "params") if search_params is not None else None,
            score_threshold=score_threshold, limit=limit, offset=offset or 0,
            with_payload=m.to_builtins(with_payload), with_vector=m.to_builtins(with_vectors),
            lookup_from=m.to_builtins(lookup_from), explain=explain)
        with read_deadline(timeout):
            return self._query(collection_name, req, shard_key_selector, consistency)

    def query_points_groups(self, collection_name: str, group_by: str, query: Any = None, using: Optional[str] = None,
                            prefetch: Any = None, query_filter: Any = None, search_params: Any = None, limit: int = 10,
                            group_size: int = 3, with_payload: Any = True, with_vectors: Any = False,
                            score_threshold: Optional[float] = None, with_lookup: Any = None, lookup_from: Any = None,
                            explain: bool = False, consistency: Any = None, shard_key_selector: Any = None,
                            timeout: Optional[int] = None) -> m.GroupsResult:
        req = QueryGroupsRequest(
            query=m.to_builtins(query), using=using, prefetch=shallow(prefetch), filter=shallow(query_filter),
            params=m.convert(search_params, m.SearchParams, "params") if search_params is not None else None,
            score_threshold=score_threshold, limit=limit, with_payload=m.to_builtins(with_payload),
            with_vector=m.to_builtins(with_vectors), lookup_from=m.to_builtins(lookup_from), group_by=group_by,
            group_size=group_size, with_lookup=m.to_builtins(with_lookup), explain=explain)
        with read_deadline(timeout):
            return self._query(collection_name, req, shard_key_selector, consistency)

    def query_batch_points(self, collection_name: str, requests: Any, consistency: Any = None,
                           timeout: Optional[int] = None) -> list[m.QueryResponse]:
        reqs = [_query_request(raw, f"searches[{i}]") for i, raw in enumerate(requests)]
        with read_deadline(timeout):
            return [self._query(collection_name, req, None, consistency) for req in reqs]

    def _query(self: "ClusterClient", collection_name: str, req: Any, shard_key_selector: Any, consistency: Any) -> Any:
        from hybrid.cluster.reads import run_query

        layout = self.layout(collection_name)
        return run_query(self, layout, self.target_shards(layout, shard_key_selector), req, consistency)
