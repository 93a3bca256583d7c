"""The coordinator's writes: split by shard (hybrid.cluster.routing), each shard's part sent to
its primary (hybrid.cluster.replica), acknowledged at `write_consistency_factor`.

Never a half-applied write, as far as the coordinator can know it:
- a shard with fewer live replicas than `write_consistency_factor` refuses the whole write (503)
  before any shard is sent anything;
- a shard whose primary reached fewer replicas takes the write back itself (its `restore`);
- when one shard refuses, the shards that took the write are asked to take it back too (each
  only if it is still their last operation: a later write may have touched the same points, and
  undoing under it would lose that acknowledged write; the 503 then says it may remain there);
- when a shard's primary dies while it forwards and the retry is refused, the replicas left are
  asked to take back that operation (by its id: they kept its before-image) by the same rule.
Points are validated, and documents embedded, here, against the collection's schema, before any
shard sees them: one shard cannot refuse what another took.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from hybrid import models as m
from hybrid.cluster.meta import ACTIVE, DEAD, NAMESPACE, Layout
from hybrid.errors import HybridError, Unavailable, ValidationError
from hybrid.ids import normalize_id

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

_log = logging.getLogger("hybrid.cluster")
BATCH_KINDS = ("upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
               "update_vectors", "delete_vectors")


def refuse_unsupported(**arguments: Any) -> None:
    """Arguments a cluster does not honour yet are refused by name, never ignored."""
    for name, value in arguments.items():
        if value is not None:
            raise ValidationError(name, "not supported on a cluster collection")


class WriteMixin:
    # ------------------------------------------------------------------ the write path
    def write(self: "ClusterClient", layout: Layout, per_shard: dict[int, dict], method: str) -> m.UpdateResult:
        for sid in per_shard:
            self._writable(layout, sid)  # every shard, before any is sent anything
        spans, op = len(per_shard) > 1, uuid.uuid4().hex  # op: this write's id on every replica
        submitted = {sid: self._submit(layout, sid, method, kwargs, spans, op) for sid, kwargs in per_shard.items()}
        done: dict[int, tuple[int, int]] = {}
        refusal: Optional[BaseException] = None
        for sid, (replica_id, ref) in submitted.items():
            try:
                done[sid] = self._settle(layout, sid, method, per_shard[sid], replica_id, ref, op)
            except (HybridError, *self.dead_errors()) as exc:
                refusal = refusal or exc
        if refusal is not None:
            kept = [sid for sid in done if not self._revert(layout, sid, op)]
            if kept and isinstance(refusal, Unavailable):
                refusal = Unavailable(f"{refusal}; shards {kept} took the write and kept it (a later write "
                                      f"followed it there)")
            raise refusal
        return m.UpdateResult(status="completed", operation_id=max((seq for _, seq in done.values()), default=0))

    def _writable(self: "ClusterClient", layout: Layout, shard_id: int) -> None:
        shard = layout.shard(shard_id)
        alive = [r for r in shard.replicas if r.state != DEAD]
        if not any(r.state == ACTIVE for r in alive) or len(alive) < layout.write_consistency_factor:
            raise Unavailable(f"shard {shard_id} of {layout.name!r}: {len(alive)} of {len(shard.replicas)} replicas "
                              f"alive, write_consistency_factor is {layout.write_consistency_factor}")

    def _submit(self: "ClusterClient", layout: Layout, shard_id: int, method: str, kwargs: dict,
                spans: bool, op: str) -> tuple[int, Any]:
        self._writable(layout, shard_id)
        alive = [r for r in layout.shard(shard_id).replicas if r.state != DEAD]
        primary = next(r for r in alive if r.state == ACTIVE)
        try:
            handle = self.handle(layout, shard_id, primary.replica_id)
            return primary.replica_id, handle.write.remote(method, kwargs, self._peers(layout, shard_id, primary),
                                                           NAMESPACE, layout.write_consistency_factor, spans, op)
        except self.dead_errors():
            self.mark(layout, shard_id, primary.replica_id, DEAD)
            return self._submit(layout, shard_id, method, kwargs, spans, op)

    def _peers(self: "ClusterClient", layout: Layout, shard_id: int, primary: Any) -> list[str]:
        return [layout.actor_name(shard_id, r.replica_id) for r in layout.shard(shard_id).replicas
                if r.state != DEAD and r is not primary]

    def _settle(self: "ClusterClient", layout: Layout, shard_id: int, method: str, kwargs: dict, replica_id: int,
                ref: Any, op: str) -> tuple[int, int]:
        """(primary replica id, sequence number) of an acknowledged shard write; else Unavailable."""
        try:
            result = self.get(ref)
        except self.dead_errors():  # the primary died: the next replica takes over (writes are idempotent)
            self.mark(layout, shard_id, replica_id, DEAD)
            try:
                replica_id, ref = self._submit(layout, shard_id, method, kwargs, True, op)
            except Unavailable as exc:  # the dead primary may have forwarded it: the replicas left take it back
                kept = not self._revert(layout, shard_id, op)
                raise Unavailable(f"{exc}; its primary died while writing: the write was "
                                  + ("kept by a replica (a later write followed it)" if kept else "taken back")) from None
            return self._settle(layout, shard_id, method, kwargs, replica_id, ref, op)
        for name in result["failed"]:
            self.mark(layout, shard_id, int(name.rsplit("/", 1)[1]), DEAD)
        if result["acked"] < layout.write_consistency_factor:
            raise Unavailable(f"shard {shard_id} of {layout.name!r}: the operation reached {result['acked']} replicas, "
                              f"write_consistency_factor is {layout.write_consistency_factor}"
                              + ("; it was taken back" if result["undone"] else ""))
        return replica_id, result["seq"]

    def _revert(self: "ClusterClient", layout: Layout, shard_id: int, op: str) -> bool:
        """Ask the shard's live replicas in turn to take back operation `op` if it is still
        their last one, until one does: it forwards the take-back to the others (a replica
        that has not got `op` refuses it if it comes later). Whether no replica kept it. The
        primary is asked first: a take-back forwarded the other way could meet its forwards."""
        live = [r for r in layout.shard(shard_id).replicas if r.state != DEAD]
        primary = next((r for r in live if r.state == ACTIVE), None)
        for replica in sorted(live, key=lambda r: r is not primary):
            try:
                status, failed = self.get(self.handle(layout, shard_id, replica.replica_id).revert.remote(
                    op, self._peers(layout, shard_id, replica), NAMESPACE))
            except (HybridError, *self.dead_errors()) as exc:
                _log.warning("replica %d of shard %d of %r could not take back a write: %r", replica.replica_id,
                             shard_id, layout.name, exc)
                self.mark(layout, shard_id, replica.replica_id, DEAD)  # it is caught up when it returns
                continue
            for name in failed:
                self.mark(layout, shard_id, int(name.rsplit("/", 1)[1]), DEAD)
            if status != "absent":
                return status == "undone"
        return True

    # ------------------------------------------------------------------ point writes
    def _ids_or_filter(self: "ClusterClient", layout: Layout, method: str, selector: Any, shard_key_selector: Any,
                       field: str, make: Callable[[Any], dict]) -> m.UpdateResult:
        """A write selecting points by ids (routed) or by a filter (every targeted shard)."""
        sel = m.to_builtins(selector)
        if isinstance(sel, dict) and "points" in sel:
            sel = sel["points"]
        if isinstance(sel, list) and layout.sharding_method == "auto":
            ids = [normalize_id(v, f"{field}[{i}]") for i, v in enumerate(sel)]
            routed = self.route(layout, ids, shard_key_selector)
            return self.write(layout, {sid: make([ids[p] for p in pos]) for sid, pos in routed.items()}, method)
        shards = self.target_shards(layout, shard_key_selector)
        return self.write(layout, {s.shard_id: make(sel) for s in shards}, method)

    def _point_write(self: "ClusterClient", layout: Layout, points: Any, shard_key_selector: Any, method: str,
                     with_payload: bool) -> m.UpdateResult:
        """Upsert or update_vectors: documents embedded here; a write to several shards is
        validated whole here first (one shard validates its part whole itself)."""
        from hybrid.points import batch_from_points

        rows = point_rows(points)
        self.planning.view(layout)
        schema = self.planning.client._get(layout.name).schema
        for i, row in enumerate(rows):
            vector = row.get("vector", row.get("vectors"))
            if _is_document(vector):
                row["vector"] = self._embed(vector, "", schema, f"points[{i}].vector")
            elif isinstance(vector, dict) and not {"indices", "values"} <= set(vector):
                row["vector"] = {name: self._embed(v, name, schema, f"points[{i}].vector.{name}")
                                 if _is_document(v) else v for name, v in vector.items()}
        ids = [normalize_id(p.get("id"), f"points[{i}].id") for i, p in enumerate(rows)]
        routed = self.route(layout, ids, shard_key_selector)
        if len(routed) > 1:
            batch_from_points(rows, schema, None, with_payload=with_payload)  # refused here, before any shard
        return self.write(layout, {sid: {"points": [rows[p] for p in pos]} for sid, pos in routed.items()}, method)

    def _embed(self: "ClusterClient", document: dict, name: str, schema: Any, where: str) -> Any:
        if self.infer is None:
            raise ValidationError(where, "documents need an embedder: none is configured for this client")
        if name not in schema.dense and name not in schema.sparse:
            raise ValidationError(where, f"Not existing vector name error: {name or '(default)'}")
        return m.to_builtins(self.infer(document, name, schema.kind_of(name), where))

    def upsert(self: "ClusterClient", collection_name: str, points: Any, wait: bool = True, ordering: Any = None,
               shard_key_selector: Any = None, timeout: Optional[int] = None, update_filter: Any = None,
               update_mode: Any = None) -> m.UpdateResult:
        refuse_unsupported(update_filter=update_filter, update_mode=update_mode)
        return self._point_write(self.layout(collection_name), points, shard_key_selector, "upsert", True)

    def delete(self: "ClusterClient", collection_name: str, points_selector: Any, wait: bool = True,
               ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        layout = self.layout(collection_name)
        return self._ids_or_filter(layout, "delete", points_selector, shard_key_selector, "points",
                                   lambda sel: {"points_selector": sel})

    def set_payload(self: "ClusterClient", collection_name: str, payload: Any, points: Any, key: Optional[str] = None,
                    wait: bool = True, ordering: Any = None, shard_key_selector: Any = None,
                    timeout: Optional[int] = None) -> m.UpdateResult:
        layout, payload = self.layout(collection_name), m.to_builtins(payload)
        return self._ids_or_filter(layout, "set_payload", points, shard_key_selector, "points",
                                   lambda sel: {"payload": payload, "points": sel, "key": key})

    def overwrite_payload(self: "ClusterClient", collection_name: str, payload: Any, points: Any, wait: bool = True,
                          ordering: Any = None, shard_key_selector: Any = None,
                          timeout: Optional[int] = None) -> m.UpdateResult:
        layout, payload = self.layout(collection_name), m.to_builtins(payload)
        return self._ids_or_filter(layout, "overwrite_payload", points, shard_key_selector, "points",
                                   lambda sel: {"payload": payload, "points": sel})

    def delete_payload(self: "ClusterClient", collection_name: str, keys: Sequence[str], points: Any,
                       wait: bool = True, ordering: Any = None, shard_key_selector: Any = None,
                       timeout: Optional[int] = None) -> m.UpdateResult:
        layout = self.layout(collection_name)
        return self._ids_or_filter(layout, "delete_payload", points, shard_key_selector, "points",
                                   lambda sel: {"keys": list(keys), "points": sel})

    def clear_payload(self: "ClusterClient", collection_name: str, points_selector: Any, wait: bool = True,
                      ordering: Any = None, shard_key_selector: Any = None,
                      timeout: Optional[int] = None) -> m.UpdateResult:
        layout = self.layout(collection_name)
        return self._ids_or_filter(layout, "clear_payload", points_selector, shard_key_selector, "points",
                                   lambda sel: {"points_selector": sel})

    def update_vectors(self: "ClusterClient", collection_name: str, points: Any, wait: bool = True,
                       ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None,
                       update_filter: Any = None) -> m.UpdateResult:
        refuse_unsupported(update_filter=update_filter)
        return self._point_write(self.layout(collection_name), points, shard_key_selector, "update_vectors", False)

    def delete_vectors(self: "ClusterClient", collection_name: str, vectors: Sequence[str], points: Any,
                       wait: bool = True, ordering: Any = None, shard_key_selector: Any = None,
                       timeout: Optional[int] = None) -> m.UpdateResult:
        layout = self.layout(collection_name)
        return self._ids_or_filter(layout, "delete_vectors", points, shard_key_selector, "points",
                                   lambda sel: {"vectors": list(vectors), "points": sel})

    def batch_update_points(self: "ClusterClient", collection_name: str, update_operations: Sequence[Any],
                            wait: bool = True, ordering: Any = None,
                            timeout: Optional[int] = None) -> list[m.UpdateResult]:
        """Several writes in order, each as its own call (as in Qdrant, a batch is not atomic:
        an operation refused stops the batch, the ones before it stay)."""
        operations = m.to_builtins(update_operations)
        if not isinstance(operations, list):
            raise ValidationError("operations", "expected a list of update operations")
        steps = []
        for i, op in enumerate(operations):
            if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in BATCH_KINDS:
                raise ValidationError(f"operations[{i}]", f"expected one of {', '.join(BATCH_KINDS)}")
            steps.append(_batch_step(self, collection_name, *next(iter(op.items())), f"operations[{i}]"))
        return [step() for step in steps]

    # ------------------------------------------------------------------ schema writes
    def create_payload_index(self: "ClusterClient", collection_name: str, field_name: str, field_schema: Any = None,
                             field_type: Any = None, wait: bool = True, ordering: Any = None,
                             timeout: Optional[int] = None) -> m.UpdateResult:
        layout = self.layout(collection_name)
        schema = m.to_builtins(field_schema if field_schema is not None else field_type)
        self.planning_index(layout, field_name, schema)  # validated by the engine before any shard sees it
        result = self.write(layout, {s.shard_id: {"field_name": field_name, "field_schema": schema}
                                     for s in layout.shards}, "create_payload_index")
        self.meta.update(layout.name, lambda now: now.field_indexes.__setitem__(field_name, schema))
        return result

    def delete_payload_index(self: "ClusterClient", collection_name: str, field_name: str, wait: bool = True,
                             ordering: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        layout = self.layout(collection_name)
        result = self.write(layout, {s.shard_id: {"field_name": field_name} for s in layout.shards},
                            "delete_payload_index")
        self.meta.update(layout.name, lambda now: now.field_indexes.pop(field_name, None))
        return result

    def planning_index(self: "ClusterClient", layout: Layout, field_name: str, schema: Any) -> None:
        self.planning.client.create_payload_index(self.planning.view(layout).name, field_name, schema)

    def update_collection(self: "ClusterClient", collection_name: str, optimizers_config: Any = None,
                          collection_params: Any = None, vectors_config: Any = None, hnsw_config: Any = None,
                          quantization_config: Any = None, sparse_vectors_config: Any = None,
                          metadata: Optional[dict] = None, strict_mode_config: Any = None,
                          timeout: Optional[int] = None) -> bool:
        """Validated on the schema-only copy first, then sent to every shard as a write (in order
        with the points), and kept in the layout so replicas created later get it too."""
        layout = self.layout(collection_name)
        update = {k: m.to_builtins(v) for k, v in dict(
            optimizers_config=optimizers_config, collection_params=collection_params, vectors_config=vectors_config,
            hnsw_config=hnsw_config, quantization_config=quantization_config,
            sparse_vectors_config=sparse_vectors_config, metadata=metadata,
            strict_mode_config=strict_mode_config).items() if v is not None}
        self.planning.view(layout)
        self.planning.client.update_collection(layout.name, **update)
        self.write(layout, {s.shard_id: update for s in layout.shards}, "update_collection")
        self.meta.update(layout.name, lambda now: now.updates.append(update))
        return True


def _batch_step(client: "ClusterClient", name: str, kind: str, body: Any, where: str) -> Callable[[], Any]:
    if not isinstance(body, dict):
        raise ValidationError(f"{where}.{kind}", "must be an object")
    key = body.get("shard_key")
    points = body["points"] if "points" in body else {"filter": body.get("filter")}
    if kind == "upsert":
        data = body["batch"] if "batch" in body else body.get("points")
        return lambda: client.upsert(name, data, shard_key_selector=key)
    if kind == "update_vectors":
        return lambda: client.update_vectors(name, body.get("points"), shard_key_selector=key)
    if kind == "delete":
        return lambda: client.delete(name, points, shard_key_selector=key)
    if kind == "clear_payload":
        return lambda: client.clear_payload(name, points, shard_key_selector=key)
    if kind == "delete_vectors":
        return lambda: client.delete_vectors(name, body.get("vector") or [], points, shard_key_selector=key)
    if kind == "delete_payload":
        return lambda: client.delete_payload(name, body.get("keys") or [], points, shard_key_selector=key)
    method = client.set_payload if kind == "set_payload" else client.overwrite_payload
    extra = {"key": body.get("key")} if kind == "set_payload" else {}
    return lambda: method(name, body.get("payload"), points, shard_key_selector=key, **extra)


def _is_document(value: Any) -> bool:
    return isinstance(value, dict) and "text" in value and "model" in value


def point_rows(points: Any) -> list[dict]:
    """Points as [{id, vector, payload}] builtins, from a list of points or a Batch."""
    data = m.to_builtins(points)
    if isinstance(data, dict) and "batch" in data:
        data = data["batch"]
    if isinstance(data, dict) and "ids" in data:
        ids, vectors, payloads = data["ids"], data.get("vectors"), data.get("payloads")
        rows = []
        for i, pid in enumerate(ids):
            if isinstance(vectors, dict):
                vector = {name: values[i] for name, values in vectors.items()}
            else:
                vector = None if vectors is None else vectors[i]
            rows.append({"id": pid, "vector": vector, "payload": None if payloads is None else payloads[i]})
        return rows
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise ValidationError("points", "expected a list of points or a batch")
    return data
