"""The embedded client: qdrant-client's method names and keyword arguments over our engine.

`Client()` keeps everything in RAM; `Client(path=...)` persists collections under
`path/collections/<name>/` (config, WAL, sealed segments) and holds an exclusive lock on the
folder. Arguments may be `hybrid.models` objects, Qdrant-shaped dicts, or `qdrant_client.models`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

import msgspec

from hybrid import models as m
from hybrid import operations as ops
from hybrid.admin import AdminMixin
from hybrid.checkpoint import open_collection
from hybrid.collection import Collection, config_json
from hybrid.config import CollectionSchema, schema_from_request
from hybrid.errors import AlreadyExists, BadRequest, CollectionDamaged, CollectionNotFound, DataDamaged, ValidationError
from hybrid.ids import normalize_id, normalize_ids
from hybrid.names import check_name
from hybrid.points import batch_from_points
from hybrid.query.batch import execute_batch, plan_batch
from hybrid.query.execute import execute
from hybrid.query.plan import plan
from hybrid.query.request import QueryRequest
from hybrid.query.parse import shallow
from hybrid.query.client import QueryMixin
from hybrid.query.search import count as count_points
from hybrid.query.ordering import scroll_ordered
from hybrid.query.search import parse, record
from hybrid.query.search import scroll as scroll_points
from hybrid.matrix import MatrixMixin
from hybrid.quotas import QuotaManager, QuotasMixin
from hybrid.service import ServiceMixin
from hybrid.vector_names import VectorNamesMixin
from hybrid.storage.files import FolderLock, remove_tree, write_checked, write_dir_atomically
from hybrid.storage.health import read_config, remove_data_orphans
from hybrid.view import CollectionView
from indexes.payload.jsonpath import parse_path

_log = logging.getLogger("hybrid.client")
PAYLOAD_INDEX_TYPES = ("keyword", "integer", "float", "bool", "datetime", "uuid", "geo", "text")


def _completed(seq: int) -> m.UpdateResult:
    return m.UpdateResult(status="completed", operation_id=seq)


class Client(QueryMixin, MatrixMixin, AdminMixin, ServiceMixin, VectorNamesMixin, QuotasMixin):
    def __init__(self, location: Optional[str] = None, path: Optional[str | Path] = None, **options: Any) -> None:
        if location not in (None, ":memory:"):
            raise ValidationError("location", "the embedded client takes ':memory:' or path=...; use a URL with qdrant_client")
        self.path = Path(path) if path is not None else None
        self.infer = options.get("inference")
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._folder_lock: Optional[FolderLock] = None
        self._closed = False
        self._unopened: dict[str, DataDamaged] = {}  # collections whose files do not verify: red
        self.quota = QuotaManager(None)
        if self.path is not None:
            self._folder_lock = FolderLock(self.path)
            self.quota = QuotaManager(self.path)
            remove_data_orphans(self.path)
            for cdir in sorted((self.path / "collections").glob("*")):
                if cdir.is_dir():  # (a creation that never finished was a .building folder: removed)
                    self._open_contained(cdir)

    # ------------------------------------------------------------------ collections
    def _open_contained(self, cdir: Path) -> None:
        """Open one collection; damage makes it red (named file, logged), never stops the others."""
        start = time.perf_counter()
        try:
            self._collections[cdir.name] = self._open(cdir)
            _log.info("opened collection %r in %.1f s", cdir.name, time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 - containment: any failure of one collection
            damage = exc if isinstance(exc, DataDamaged) else DataDamaged(cdir, f"cannot be opened: {exc!r}")
            _log.error("collection %r is red and not served: %s", cdir.name, damage.message,
                       exc_info=not isinstance(exc, DataDamaged))
            self._unopened[cdir.name] = damage

    def _open(self, cdir: Path, in_memory: bool = False) -> Collection:
        """The collection in folder `cdir`; `in_memory`: loaded whole into RAM, keeping nothing
        open, mapped or written in `cdir` (an in-memory restore removes the folder afterwards)."""
        meta = read_config(cdir)
        columns = meta.get("columns")  # (absent in folders written before vector names could change)
        schema = CollectionSchema.from_json(msgspec.json.encode(meta["config"]),
                                            None if columns is None else msgspec.json.encode(columns))
        coll = Collection(cdir.name, schema, None if in_memory else cdir)
        coll.field_indexes = meta.get("field_indexes", {})
        coll.created_at = meta.get("created_at")
        coll.quota = self.quota.check_update
        open_collection(coll, self._load_index, cdir)
        return coll

    @staticmethod
    def _load_index(store: Any, directory: Path) -> Any:
        from hybrid.indexing import load_index

        return load_index(store, directory)

    def _get(self, name: str) -> Collection:
        coll = self._collections.get(name)
        if coll is None and isinstance(name, str):
            target = name if name in self._unopened else self.resolve_alias(name)
            if target in self._unopened:  # red: its files did not verify (the error names them)
                raise CollectionDamaged(target, self._unopened[target].message)
            coll = self._collections.get(target)
        if coll is None:
            raise CollectionNotFound(name)
        return coll

    def _view(self, name: str) -> CollectionView:
        """A consistent snapshot of a collection for one read (hybrid.view)."""
        return self._get(name).view()

    def _lookup(self, name: str) -> CollectionView:
        """The collection named by a request's lookup_from / with_lookup, as of now."""
        try:
            return self._view(name)
        except CollectionNotFound:
            raise ValidationError("lookup_from.collection", f"collection {name!r} does not exist") from None

    def collection(self, name: str) -> Collection:
        """The engine object behind a collection (for the API, evals and tests)."""
        return self._get(name)

    def create_collection(self, collection_name: str, vectors_config: Any = None, sparse_vectors_config: Any = None,
                          **kwargs: Any) -> bool:
        check_name(collection_name)
        schema = schema_from_request(vectors_config, sparse_vectors_config, **kwargs)
        with self._lock:
            if collection_name in self._collections or collection_name in self._unopened:
                raise AlreadyExists(collection_name)
            cdir = None
            created_at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
            if self.path is not None:
                cdir = self.path / "collections" / collection_name
                cdir.parent.mkdir(parents=True, exist_ok=True)
                meta = config_json(collection_name, schema, {}, created_at)
                write_dir_atomically(cdir, lambda d: write_checked(d / "config.json", meta))
            coll = Collection(collection_name, schema, cdir)
            coll.created_at, coll.quota = created_at, self.quota.check_update
            if cdir is not None:
                open_collection(coll, self._load_index, cdir)
            self._collections[collection_name] = coll
        return True

    def recreate_collection(self, collection_name: str, **kwargs: Any) -> bool:
        self.delete_collection(collection_name)
        return self.create_collection(collection_name, **kwargs)

    def delete_collection(self, collection_name: str, timeout: Optional[int] = None) -> bool:
        with self._lock:
            coll = self._collections.pop(collection_name, None)
            if coll is None and self._unopened.pop(collection_name, None) is not None and self.path is not None:
                remove_tree(self.path / "collections" / collection_name)  # deleting is how red data is dropped
                return True
            if coll is None:
                return False
            self.drop_aliases_of(collection_name)
            coll.close()
            if coll.path is not None:
                remove_tree(coll.path)
        return True

    def collection_exists(self, collection_name: str) -> bool:
        return collection_name in self._collections or collection_name in self._unopened

    def get_collections(self) -> m.CollectionsResponse:
        names = sorted({*self._collections, *self._unopened})
        return m.CollectionsResponse([m.CollectionDescription(n) for n in names])

    # ------------------------------------------------------------------ payload indexes
    def create_payload_index(self, collection_name: str, field_name: str, field_schema: Any = None,
                             field_type: Any = None, wait: bool = True, ordering: Any = None,
                             timeout: Optional[int] = None) -> m.UpdateResult:
        c = self._get(collection_name)
        schema = m.to_builtins(field_schema if field_schema is not None else field_type)
        if isinstance(schema, str):
            schema = {"type": schema}
        if not isinstance(schema, dict) or schema.get("type") not in PAYLOAD_INDEX_TYPES:
            raise ValidationError("field_schema", f"expected one of {', '.join(PAYLOAD_INDEX_TYPES)} "
                                  "or an index params object with a 'type'")
        if not isinstance(field_name, str) or not field_name:
            raise ValidationError("field_name", "expected a payload key")
        try:
            parse_path(field_name)
        except ValueError as exc:  # before logging: a write is validated whole
            raise ValidationError("field_name", str(exc)) from None
        if schema["type"] == "text":  # validate before logging: a bad params object changes nothing
            from indexes.text import TextIndexParams

            try:
                TextIndexParams.from_json({k: v for k, v in schema.items() if k != "type"})
            except (ValueError, TypeError) as exc:
                raise ValidationError("field_schema", str(exc)) from None
        return _completed(c.commit(ops.CreateFieldIndex(field_name, schema)))

    def delete_payload_index(self, collection_name: str, field_name: str, wait: bool = True, ordering: Any = None,
                             timeout: Optional[int] = None) -> m.UpdateResult:
        c = self._get(collection_name)
        return _completed(c.commit(ops.DeleteFieldIndex(field_name)))

    # ------------------------------------------------------------------ points: writes
    def upsert(self, collection_name: str, points: Any, wait: bool = True, ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None,
               update_filter: Any = None, update_mode: Any = None) -> m.UpdateResult:
        m.single_node(shard_key_selector, update_filter=update_filter, update_mode=update_mode)
        c = self._get(collection_name)
        batch = batch_from_points(points, c.schema, self.infer)
        return _completed(c.upsert(batch))

    def _selected_ids(self, c: Collection, selector: Any, field: str) -> list:
        """Ids from a points selector: a list of ids, {"points": [...]}, {"filter": ...} or a Filter."""
        from hybrid.query.search import all_matching

        selector = m.to_builtins(selector)
        if isinstance(selector, dict) and "points" in selector:
            selector = selector["points"]
        if isinstance(selector, list):
            return normalize_ids(selector, field)
        if isinstance(selector, dict):
            flt = parse(selector.get("filter", selector), f"{field}.filter" if "filter" in selector else field)
            return all_matching(c.view(), flt).ids()  # under the write's lock: the ids as of now
        raise ValidationError(field, "expected a list of point ids or a filter")

    def delete(self, collection_name: str, points_selector: Any, wait: bool = True, ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        m.single_node(shard_key_selector)
        c = self._get(collection_name)
        return _completed(c.commit(lambda: ops.Delete(self._selected_ids(c, points_selector, "points"))))

    def _payload_op(self, collection_name: str, selector: Any, make: Any) -> m.UpdateResult:
        c = self._get(collection_name)
        return _completed(c.commit(lambda: make(self._selected_ids(c, selector, "points"))))

    def set_payload(self, collection_name: str, payload: Any, points: Any, key: Optional[str] = None,
                    wait: bool = True, ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        m.single_node(shard_key_selector)
        payload = _payload_arg(payload)
        return self._payload_op(collection_name, points, lambda ids: ops.SetPayload(ids, payload, key))

    def overwrite_payload(self, collection_name: str, payload: Any, points: Any, wait: bool = True,
                          ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        m.single_node(shard_key_selector)
        payload = _payload_arg(payload)
        return self._payload_op(collection_name, points, lambda ids: ops.OverwritePayload(ids, payload))

    def delete_payload(self, collection_name: str, keys: Sequence[str], points: Any, wait: bool = True,
                       ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        m.single_node(shard_key_selector)
        if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
            raise ValidationError("keys", "expected a list of payload keys")
        return self._payload_op(collection_name, points, lambda ids: ops.DeletePayload(ids, list(keys)))

    def clear_payload(self, collection_name: str, points_selector: Any, wait: bool = True,
                      ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        m.single_node(shard_key_selector)
        return self._payload_op(collection_name, points_selector, lambda ids: ops.ClearPayload(ids))

    def update_vectors(self, collection_name: str, points: Any, wait: bool = True, ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None,
                       update_filter: Any = None) -> m.UpdateResult:
        m.single_node(shard_key_selector, update_filter=update_filter)
        c = self._get(collection_name)
        batch = batch_from_points(points, c.schema, self.infer, with_payload=False)
        def make() -> ops.Operation:
            for i, pid in enumerate(batch.ids):
                if pid not in c.where:
                    raise ValidationError(f"points[{i}].id", f"No point with id {pid} found")
            return c.upsert_op(batch)

        return _completed(c.commit(make))

    def delete_vectors(self, collection_name: str, vectors: Sequence[str], points: Any, wait: bool = True,
                       ordering: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        m.single_node(shard_key_selector)
        c = self._get(collection_name)
        for i, name in enumerate(vectors):
            c.schema.kind_of(name) if isinstance(name, str) else None
            if not isinstance(name, str):
                raise ValidationError(f"vector[{i}]", "expected a vector name")
        return self._payload_op(collection_name, points, lambda ids: ops.DeleteVectors(ids, list(vectors)))

    # ------------------------------------------------------------------ points: reads
    def retrieve(self, collection_name: str, ids: Sequence[Any], with_payload: Any = True, with_vectors: Any = False,
                 consistency: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> list[m.Record]:
        m.single_node_read(shard_key_selector, consistency, timeout)
        c = self._get(collection_name)
        wanted = normalize_ids(ids, "ids")
        out = []
        with c.lock:
            for pid in dict.fromkeys(wanted):
                loc = c.where.get(pid)
                if loc is not None:
                    out.append(record(loc[0], loc[1], with_payload, with_vectors))
        return out

    def scroll(self, collection_name: str, scroll_filter: Any = None, limit: int = 10, offset: Any = None,
               with_payload: Any = True, with_vectors: Any = False, order_by: Any = None,
               consistency: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> tuple[list[m.Record], Any]:
        """Points in id order from `offset`, or ordered by a payload value (`order_by`: a key
        or {key, direction, start_from}; it needs a range index and takes no `offset`)."""
        m.single_node_read(shard_key_selector, consistency, timeout)
        c = self._get(collection_name)
        if limit is None or isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValidationError("limit", "must be a non-negative integer")
        flt = parse(scroll_filter)
        if order_by is not None:
            if offset is not None:
                raise BadRequest("Cannot use an `offset` when using `order_by`. The alternative for paging is to use "
                                 "`order_by.start_from` and a filter to exclude the IDs that you've already seen for "
                                 "the `order_by.start_from` value")
            return scroll_ordered(c.view(), flt, limit, order_by, with_payload, with_vectors)
        start = normalize_id(offset, "offset") if offset is not None else None
        return scroll_points(c.view(), flt, limit, start, with_payload, with_vectors)

    def count(self, collection_name: str, count_filter: Any = None, exact: bool = True, shard_key_selector: Any = None,
              timeout: Optional[int] = None, consistency: Any = None) -> m.CountResult:
        m.single_node_read(shard_key_selector, consistency, timeout)
        flt = parse(count_filter)
        return m.CountResult(count=count_points(self._view(collection_name), flt))

    def query_points(self, collection_name: str, query: Any = None, using: Optional[str] = None, prefetch: Any = None,
                     query_filter: Any = None, search_params: Any = None, limit: int = 10, offset: Optional[int] = None,
                     with_payload: Any = True, with_vectors: Any = False, score_threshold: Optional[float] = None,
                     lookup_from: Any = None, explain: bool = False, consistency: Any = None, shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.QueryResponse:
        """Qdrant's Query API. `explain=True` (our extension) adds per-branch scores and ranks."""
        m.single_node_read(shard_key_selector, consistency, timeout)
        c = self._view(collection_name)
        req = QueryRequest(
            query=query, using=using, prefetch=shallow(prefetch), filter=shallow(query_filter),
            params=m.convert(search_params, m.SearchParams, "params") if search_params is not None else None,
            score_threshold=score_threshold, limit=limit, offset=offset or 0,
            with_payload=m.to_builtins(with_payload), with_vector=m.to_builtins(with_vectors),
            lookup_from=m.to_builtins(lookup_from), explain=explain,
        )
        return execute(plan(req, c, self.infer, self._lookup), c, self._lookup)

    def query_batch_points(self, collection_name: str, requests: Sequence[Any], consistency: Any = None,
                           timeout: Optional[int] = None) -> list[m.QueryResponse]:
        """Every request is planned (and so validated) before any runs; plain dense ones share
        one graph walk per segment (hybrid.query.batch)."""
        m.single_node_read(None, consistency, timeout)
        c = self._view(collection_name)
        reqs = [_query_request(raw, f"searches[{i}]") for i, raw in enumerate(requests)]
        return execute_batch(plan_batch(reqs, c, self.infer, self._lookup), c, self._lookup)

    # ------------------------------------------------------------------ lifecycle
    def close(self, grpc_grace: Optional[float] = None) -> None:
        if self._closed:
            return
        self._closed = True
        for coll in self._collections.values():
            coll.close()
        if self._folder_lock is not None:
            self._folder_lock.release()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _query_request(raw: Any, where: str) -> QueryRequest:
    """One batch entry as a QueryRequest: its vectors (query, prefetch) are kept as given, for
    the planner reads them once (a conversion would walk every number); the rest is checked,
    once per distinct JSON (a batch repeats its limit, params and filters)."""
    data = raw if isinstance(raw, dict) else m.to_builtins(raw)
    if not isinstance(data, dict):
        return m.convert(data, QueryRequest, where)
    rest = {k: v for k, v in data.items() if k not in ("query", "prefetch")}
    if "with_vectors" in rest and "with_vector" not in rest:
        rest["with_vector"] = rest.pop("with_vectors")
    try:
        key = msgspec.json.encode(rest)
    except (TypeError, msgspec.EncodeError):
        key = b"null"
    try:
        req = _checked_request(key) if b"null" not in key else None  # NaN and inf encode as null too
    except ValidationError:
        req = None
    if req is None:
        req = m.convert(rest, QueryRequest, where)  # (an error names the entry)
    return msgspec.structs.replace(req, query=data.get("query"), prefetch=shallow(data.get("prefetch")))


@functools.lru_cache(maxsize=1024)
def _checked_request(key: bytes) -> QueryRequest:
    """The QueryRequest of a JSON request without its vectors (callers copy it: Structs are mutable)."""
    return m.convert(msgspec.json.decode(key), QueryRequest)


def _payload_arg(payload: Any) -> dict:
    payload = m.to_builtins(payload)
    if not isinstance(payload, dict):
        raise ValidationError("payload", "must be a JSON object")
    return payload

