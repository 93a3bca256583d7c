"""Client methods for collection administration: aliases, collection updates, payload indexes,
facets, batched point updates and snapshots.

`AdminMixin` is mixed into `hybrid.Client`; its methods use the client's `self._get(name)`,
`self._collections`, `self._lock`, `self.path` and `self._open(folder)`. Every method validates
its whole request before it changes anything, so a rejected request leaves no trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import msgspec

from hybrid import models as m
from hybrid.config import build_schema, payload_storage
from hybrid.errors import BadRequest, NotFound, ValidationError
from hybrid.names import check_name
from hybrid.ids import normalize_ids
from hybrid.optimizations import OptimizationsResponse
from hybrid.points import batch_from_points
from hybrid.query.search import filter_mask, parse
from indexes.payload.jsonpath import parse_path
from hybrid.snapshot_sets import SnapshotSetsMixin
from hybrid.snapshots import SnapshotMixin
from hybrid.storage.files import read_checked, write_checked
from hybrid.storage.health import unopened_info

if TYPE_CHECKING:
    import threading

    from hybrid.collection import Collection
    from hybrid.quotas import QuotaManager

INDEX_TYPES = ("keyword", "integer", "float", "bool", "geo", "datetime", "text", "uuid")


class AliasNotFound(NotFound):
    def __init__(self, alias: str) -> None:
        super().__init__(f"Alias `{alias}` doesn't exist!")


class NameConflict(BadRequest):
    """An alias would shadow a collection (or the reverse): Qdrant's 400 "Wrong input"."""


def _patch(base: Any, diff: Any) -> Any:
    """`base` (a Struct) with the fields `diff` sets (not None) replaced."""
    changes = {k: v for k, v in msgspec.structs.asdict(diff).items() if v is not None}
    return msgspec.structs.replace(base, **{k: v for k, v in changes.items() if hasattr(base, k)})


def _quantization(value: Any, field: str) -> Optional[m.ScalarQuantization]:
    value = m.to_builtins(value)
    return None if value == "Disabled" else m.convert(value, m.ScalarQuantization, field)


def _completed(seq: int) -> m.UpdateResult:
    return m.UpdateResult(status="completed", operation_id=seq)


class AdminMixin(SnapshotMixin, SnapshotSetsMixin):
    path: Optional[Path]
    infer: Any
    _lock: "threading.RLock"
    _collections: dict[str, "Collection"]
    quota: "QuotaManager"

    if TYPE_CHECKING:
        def _get(self, name: str) -> "Collection": ...
        def delete(self, collection_name: str, points_selector: Any, **kw: Any) -> m.UpdateResult: ...
        def set_payload(self, collection_name: str, payload: Any, points: Any, key: Optional[str] = None,
                        **kw: Any) -> m.UpdateResult: ...
        def overwrite_payload(self, collection_name: str, payload: Any, points: Any, **kw: Any) -> m.UpdateResult: ...
        def delete_payload(self, collection_name: str, keys: Sequence[str], points: Any, **kw: Any) -> m.UpdateResult: ...
        def clear_payload(self, collection_name: str, points_selector: Any, **kw: Any) -> m.UpdateResult: ...
        def update_vectors(self, collection_name: str, points: Any, **kw: Any) -> m.UpdateResult: ...
        def delete_vectors(self, collection_name: str, vectors: Sequence[str], points: Any, **kw: Any) -> m.UpdateResult: ...

    # ------------------------------------------------------------------ aliases
    def _alias_table(self) -> dict[str, str]:
        table = self.__dict__.get("_aliases")
        if table is None:
            file = self.path / "aliases.json" if self.path is not None else None
            table = msgspec.json.decode(read_checked(file), type=dict[str, str]) if file and file.exists() else {}
            self._aliases = table
        return table

    def resolve_alias(self, name: str) -> str:
        """The collection a name stands for: itself when it is a collection, else its alias target."""
        if name in self._collections:
            return name
        return self._alias_table().get(name, name)

    def update_collection_aliases(self, change_aliases_operations: Sequence[Any], timeout: Optional[int] = None) -> bool:
        """Apply create/delete/rename alias actions, all or none (Qdrant's ChangeAliasesOperation)."""
        actions = m.to_builtins(change_aliases_operations)
        if not isinstance(actions, list):
            raise ValidationError("actions", "expected a list of alias operations")
        with self._lock:
            table = dict(self._alias_table())
            for i, action in enumerate(actions):
                self._alias_action(table, action, f"actions[{i}]")
            self._aliases = table
            if self.path is not None:
                write_checked(self.path / "aliases.json", msgspec.json.encode(table))
        return True

    def _alias_action(self, table: dict[str, str], action: Any, where: str) -> None:
        kind, body = _single_key(action, where, ("create_alias", "delete_alias", "rename_alias"))
        text = _text_fields(body, where, {"create_alias": ("collection_name", "alias_name"),
                                         "delete_alias": ("alias_name",),
                                         "rename_alias": ("old_alias_name", "new_alias_name")}[kind])
        if kind == "create_alias":
            check_name(text["alias_name"], f"{where}.alias_name")
            self._get(text["collection_name"])
            if text["alias_name"] in self._collections:
                raise NameConflict(f"Alias `{text['alias_name']}` conflicts with a collection of that name")
            table[text["alias_name"]] = text["collection_name"]
        elif kind == "delete_alias":
            if table.pop(text["alias_name"], None) is None:
                raise AliasNotFound(text["alias_name"])
        else:
            check_name(text["new_alias_name"], f"{where}.new_alias_name")
            if text["old_alias_name"] not in table:
                raise AliasNotFound(text["old_alias_name"])
            if text["new_alias_name"] in self._collections:
                raise NameConflict(f"Alias `{text['new_alias_name']}` conflicts with a collection of that name")
            table[text["new_alias_name"]] = table.pop(text["old_alias_name"])

    def get_aliases(self) -> m.CollectionsAliasesResponse:
        live = {a: c for a, c in self._alias_table().items() if c in self._collections}
        return m.CollectionsAliasesResponse([m.AliasDescription(a, c) for a, c in sorted(live.items())])

    def get_collection_aliases(self, collection_name: str) -> m.CollectionsAliasesResponse:
        self._get(collection_name)
        return m.CollectionsAliasesResponse([a for a in self.get_aliases().aliases if a.collection_name == collection_name])

    def drop_aliases_of(self, collection_name: str) -> None:
        """Forget the aliases of a deleted collection (so a new one of that name does not inherit them)."""
        gone = [a for a, c in self._alias_table().items() if c == collection_name]
        if gone:
            self.update_collection_aliases([{"delete_alias": {"alias_name": a}} for a in gone])

    # ------------------------------------------------------------------ collection state
    def get_collection(self, collection_name: str) -> m.CollectionInfo:
        """Qdrant's collection info: status is green only when no optimization runs or is
        pending (yellow), red while a failed one waits for its retry or while its data is
        damaged (the reason in optimizer_status and warnings), grey when pending work is not
        being done (optimizations disabled, or not triggered since the folder opened)."""
        from hybrid.indexing import payload_schema

        unopened = self.__dict__.get("_unopened", {})
        if collection_name in unopened:  # its files did not verify: red, naming them
            return unopened_info(self.path / "collections" / collection_name, unopened[collection_name])
        c = self._get(collection_name)
        status, optimizer_status = c.optimizer.status()
        with c.lock:
            problem = c.problem()
            if problem:
                status, optimizer_status = "red", {"error": problem}
            return m.CollectionInfo(
                status=status,
                optimizer_status=optimizer_status,
                warnings=[{"message": problem}] if problem else [],
                segments_count=len(c.segments),
                config=c.schema.config,
                payload_schema=payload_schema(c),
                indexed_vectors_count=c.indexed_vectors_count(),
                points_count=c.points_count(),
                created_at=c.created_at,
            )

    def get_optimizations(self, collection_name: str, completed_limit: Optional[int] = None,
                          with_: str | Sequence[str] | None = None) -> OptimizationsResponse:
        """What the optimizer runs and has queued (Qdrant's GET /collections/{name}/optimizations);
        `with_` adds "queued", "completed" and/or "idle_segments"."""
        from hybrid.optimizations import report

        fields = {with_} if isinstance(with_, str) else set(with_ or ())
        unknown = fields - {"queued", "completed", "idle_segments"}
        if unknown:
            raise ValidationError("with", f"unknown fields {sorted(unknown)}; expected queued, completed, idle_segments")
        limit = 16 if completed_limit is None else completed_limit
        if not isinstance(limit, int) or limit < 0:
            raise ValidationError("completed_limit", "must be a non-negative integer")
        return report(self._get(collection_name).optimizer, fields, limit)

    # ------------------------------------------------------------------ collection updates
    def update_collection(self, collection_name: str, optimizers_config: Any = None, collection_params: Any = None,
                          vectors_config: Any = None, hnsw_config: Any = None, quantization_config: Any = None,
                          sparse_vectors_config: Any = None, metadata: Optional[dict] = None,
                          strict_mode_config: Any = None, timeout: Optional[int] = None) -> bool:
        """Change tunable parameters. Index parameters apply to segments built after the change."""
        if strict_mode_config is not None:
            raise ValidationError("strict_mode_config", "not supported")
        c = self._get(collection_name)
        with c.lock:
            cfg = c.schema.config
            changes: dict[str, Any] = {}
            if optimizers_config is not None:
                changes["optimizer_config"] = _patch(cfg.optimizer_config, m.convert(
                    optimizers_config, m.OptimizersConfigDiff, "optimizers_config"))
            if hnsw_config is not None:
                changes["hnsw_config"] = _patch(cfg.hnsw_config, m.convert(hnsw_config, m.HnswConfigDiff, "hnsw_config"))
            if quantization_config is not None:
                changes["quantization_config"] = _quantization(quantization_config, "quantization_config")
            params = cfg.params
            if collection_params is not None:
                diff = m.convert(collection_params, m.CollectionParamsDiff, "params")
                payload_storage(diff.payload)
                params = _patch(params, diff)
            if vectors_config is not None:
                current = {n: spec.params for n, spec in c.schema.dense.items()}
                params = msgspec.structs.replace(params, vectors=_vectors_update(current, vectors_config))
            if sparse_vectors_config is not None:
                params = msgspec.structs.replace(params, sparse_vectors=_sparse_update(
                    params.sparse_vectors or {}, sparse_vectors_config))
            changes["params"] = params
            if metadata is not None:
                if not isinstance(metadata, dict):
                    raise ValidationError("metadata", "must be a JSON object")
                changes["metadata"] = {**(cfg.metadata or {}), **metadata} if metadata else None
            c.schema = build_schema(msgspec.structs.replace(cfg, **changes), c.schema.columns)
            c._save_config()
        c.optimizer.trigger()  # new thresholds may leave work pending (Qdrant re-plans too)
        return True

    # ------------------------------------------------------------------ facet
    def facet(self, collection_name: str, key: str, facet_filter: Any = None, limit: int = 10, exact: bool = False,
              consistency: Any = None, timeout: Optional[int] = None, shard_key_selector: Any = None) -> m.FacetResponse:
        """Distinct values of `key` among points matching the filter, by count desc then value asc."""
        from hybrid.filters import facet as facet_values

        m.single_node_read(shard_key_selector, consistency, timeout)

        if not isinstance(key, str) or not key:
            raise ValidationError("key", "must be a non-empty string")
        try:
            parse_path(key)
        except ValueError as exc:
            raise ValidationError("key", str(exc)) from None
        if not isinstance(limit, int) or limit < 0:
            raise ValidationError("limit", "must be a non-negative integer")
        flt = parse(facet_filter, "filter")
        segments = self._get(collection_name).view().segments
        counts: dict[tuple[int, Any], int] = {}
        for seg in segments:
            if seg.size:
                for value, n in facet_values(key, seg, filter_mask(seg, flt)):
                    kind = 0 if isinstance(value, bool) else 1 if isinstance(value, (int, float)) else 2
                    counts[(kind, value)] = counts.get((kind, value), 0) + int(n)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return m.FacetResponse([m.FacetValueHit(value, n) for (_, value), n in ranked])

    # ------------------------------------------------------------------ batched updates
    def batch_update_points(self, collection_name: str, update_operations: Sequence[Any], wait: bool = True,
                            ordering: Any = None, timeout: Optional[int] = None) -> list[m.UpdateResult]:
        """Several write operations in order; all are validated before the first is applied."""
        c = self._get(collection_name)
        operations = m.to_builtins(update_operations)
        if not isinstance(operations, list):
            raise ValidationError("operations", "expected a list of update operations")
        if any(not (isinstance(op, dict) and list(op) == ["delete"]) for op in operations):
            self.quota.check_update()  # before the first step: a refusal midway would half-apply the batch
        with c.lock:
            known: set = set()  # ids upserted by earlier operations of this batch
            steps = [self._prepare_update(c, collection_name, op, f"operations[{i}]", known)
                     for i, op in enumerate(operations)]
            return [step() for step in steps]

    def _prepare_update(self, c: "Collection", name: str, op: Any, where: str,
                        known: set) -> Callable[[], m.UpdateResult]:
        kind, body = _single_key(op, where, ("upsert", "delete", "set_payload", "overwrite_payload", "delete_payload",
                                             "clear_payload", "update_vectors", "delete_vectors"))
        at = f"{where}.{kind}"
        if kind == "upsert":
            batch = batch_from_points(body if "batch" in body else body.get("points"), c.schema, self.infer, where=at)
            known.update(batch.ids)
            return lambda: _completed(c.upsert(batch))
        if kind == "update_vectors":
            batch = batch_from_points(body.get("points"), c.schema, self.infer, with_payload=False, where=f"{at}.points")
            for i, pid in enumerate(batch.ids):
                if pid not in known and pid not in c.where:
                    raise ValidationError(f"{at}.points[{i}].id", f"No point with id {pid} found")
            return lambda: self.update_vectors(name, body["points"])
        selector = _selector(body, at)
        if kind == "delete":
            return lambda: self.delete(name, selector)
        if kind == "clear_payload":
            return lambda: self.clear_payload(name, selector)
        if kind == "delete_vectors":
            names = body.get("vector")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValidationError(f"{at}.vector", "expected a list of vector names")
            for n in names:
                c.schema.kind_of(n)
            return lambda: self.delete_vectors(name, names, selector)
        if kind == "delete_payload":
            keys = body.get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValidationError(f"{at}.keys", "expected a list of payload keys")
            return lambda: self.delete_payload(name, keys, selector)
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise ValidationError(f"{at}.payload", "must be a JSON object")
        if kind == "overwrite_payload":
            return lambda: self.overwrite_payload(name, payload, selector)
        key = body.get("key")
        if key is not None and not isinstance(key, str):
            raise ValidationError(f"{at}.key", "must be a string")
        return lambda: self.set_payload(name, payload, selector, key=key)


def _single_key(value: Any, where: str, kinds: tuple[str, ...]) -> tuple[str, dict]:
    """(kind, body) of a one-key operation object such as {"upsert": {...}}."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in kinds:
        raise ValidationError(where, f"expected an object with one of: {', '.join(kinds)}")
    kind, body = next(iter(value.items()))
    if not isinstance(body, dict):
        raise ValidationError(f"{where}.{kind}", "must be a JSON object")
    return kind, body


def _text_fields(body: dict, where: str, names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{where}.{name}", "must be a non-empty string")
        out[name] = value
    return out


def _selector(body: dict, where: str) -> Any:
    """A validated points selector: a list of ids, or {"filter": ...}."""
    points, flt = body.get("points"), body.get("filter")
    if points is not None:
        if not isinstance(points, list):
            raise ValidationError(f"{where}.points", "expected a list of point ids")
        return normalize_ids(points, f"{where}.points")
    if flt is not None:
        parse(flt, f"{where}.filter")
        return {"filter": flt}
    raise ValidationError(where, "expected `points` (a list of ids) or `filter`")


def _vectors_update(current: dict, diff: Any) -> dict:
    diff = m.to_builtins(diff)
    if not isinstance(diff, dict):
        raise ValidationError("vectors", "expected a map of vector name to parameter changes")
    out = dict(current)
    for name, change in diff.items():
        where = f"vectors.{name}" if name else "vectors"
        if name not in out:
            raise ValidationError(where, f"no dense vector named {name or '(default)'!r} in this collection")
        d = m.convert(change, m.VectorParamsDiff, where)
        p = out[name]
        if d.hnsw_config is not None:
            p = msgspec.structs.replace(p, hnsw_config=_patch(p.hnsw_config or m.HnswConfigDiff(), d.hnsw_config))
        if d.quantization_config is not None:
            p = msgspec.structs.replace(p, quantization_config=_quantization(d.quantization_config, f"{where}.quantization_config"))
        if d.on_disk is not None:
            p = msgspec.structs.replace(p, on_disk=d.on_disk)
        out[name] = p
    return out


def _sparse_update(current: dict, diff: Any) -> dict:
    diff = m.to_builtins(diff)
    if not isinstance(diff, dict):
        raise ValidationError("sparse_vectors", "expected a map of sparse vector name to parameters")
    out = dict(current)
    for name, change in diff.items():
        where = f"sparse_vectors.{name}"
        if name not in out:
            raise ValidationError(where, f"no sparse vector named {name!r} in this collection")
        new = m.convert(change or {}, m.SparseVectorParams, where)
        old = out[name] or m.SparseVectorParams()
        if new.modifier is not None and (new.modifier == "idf") != (old.modifier == "idf"):
            raise ValidationError(f"{where}.modifier", "changing the modifier of an existing sparse vector is not supported")
        index = _patch(old.index or m.SparseIndexParams(), new.index) if new.index is not None else old.index
        out[name] = msgspec.structs.replace(old, index=index)
    return out
