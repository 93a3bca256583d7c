"""Vector names made and deleted on a live collection (Qdrant 1.20's create/delete_vector_name).

Semantics are Qdrant's (lib/collection/src/collection/vector_name_schema.rs):
- creating a name no point has a vector of yet; creating it again with the same defining
  parameters (size, distance, multivector config, datatype; or modifier and datatype) changes
  nothing, with other parameters (or as the other kind) is a 400;
- deleting drops the name, its vectors and their indexes from every point; deleting a name the
  collection does not have changes nothing; the last name may be deleted.

Durability: the change is a WAL record, fsynced before config.json is rewritten, so the config
is never ahead of the log. Each incarnation of a name has its own storage column
(`hybrid.config.Column`: stem and `since`, the record's sequence number): segment folders
written before it never lend it rows, and replay applies to a name only the records made after
it was (`CollectionSchema.holds`). Segments take the new columns copy-on-write
(`Segment.conform`), so a read sees the schema before or after, never a mix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional

import msgspec

from hybrid import models as m
from hybrid import operations as ops
from hybrid.config import Column, CollectionSchema, build_schema
from hybrid.errors import BadRequest, InvalidValue, ValidationError

if TYPE_CHECKING:
    from hybrid.collection import Collection

MAX_NAME_BYTES = 200
FORBIDDEN = '<>:"/\\|?*\0\x1f'  # Qdrant's INVALID_NAME_CHARS (lib/common/common/src/validation.rs)


class DenseVectorConfig(m.Model, forbid_unknown_fields=True):
    size: int
    distance: m.Distance
    multivector_config: Optional[m.MultiVectorConfig] = None
    datatype: Optional[m.Datatype] = None


class SparseVectorConfig(m.Model, forbid_unknown_fields=True):
    modifier: Optional[Literal["none", "idf"]] = None
    datatype: Optional[m.Datatype] = None


def check_vector_name(name: Any) -> str:
    """Qdrant's rule for vector names: at most 200 bytes, none of its forbidden characters (422)."""
    if not isinstance(name, str):
        raise InvalidValue("vector_name", "must be a string")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidValue("vector_name", f"vector name must be at most {MAX_NAME_BYTES} bytes long")
    bad = next((ch for ch in name if ch in FORBIDDEN), None)
    if bad is not None:
        raise InvalidValue("vector_name", f"vector name cannot contain {bad!r} char")
    return name


def parse_config(config: Any) -> tuple[bool, dict]:
    """(sparse, params JSON) of a VectorNameConfig: {"dense": {size, distance, ...}} or
    {"sparse": {modifier, datatype}} (dicts, msgspec or qdrant_client models)."""
    data = m.to_builtins(config)
    if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in ("dense", "sparse"):
        raise ValidationError("vector_name_config", "expected {\"dense\": {size, distance, ...}} or "
                                                    "{\"sparse\": {modifier, datatype}}")
    if "dense" in data:
        dense = m.convert(data["dense"], DenseVectorConfig, "dense")
        if not 1 <= dense.size <= 65536:
            raise InvalidValue("dense.size", "must be between 1 and 65536")
        return False, msgspec.to_builtins(m.VectorParams(dense.size, dense.distance, datatype=dense.datatype,
                                                         multivector_config=dense.multivector_config))
    sparse = m.convert(data["sparse"] or {}, SparseVectorConfig, "sparse")
    index = m.SparseIndexParams(datatype=sparse.datatype) if sparse.datatype is not None else None
    return True, msgspec.to_builtins(m.SparseVectorParams(index=index, modifier=sparse.modifier))


def _defining(sparse: bool, params: Any) -> tuple:
    """What defines a vector space (Qdrant's dense/sparse_schema_matches); tuning is left out."""
    p = m.to_builtins(params) or {}
    if sparse:
        return p.get("modifier"), (p.get("index") or {}).get("datatype")
    return p.get("size"), p.get("distance"), p.get("multivector_config"), p.get("datatype")


def _existing(schema: CollectionSchema, name: str, sparse: bool, params: dict) -> bool:
    """True when `name` exists as asked (nothing to do); a 400 when it exists otherwise."""
    other = schema.dense if sparse else schema.sparse
    if name in other:
        raise BadRequest(f"Vector `{name}` already exists as a {'dense' if sparse else 'sparse'} vector")
    same = schema.sparse if sparse else schema.dense
    if name not in same:
        return False
    if _defining(sparse, same[name].params) != _defining(sparse, params):
        kind = "Sparse vector" if sparse else "Vector"
        raise BadRequest(f"{kind} `{name}` already exists with a different configuration")
    return True


def changed(schema: CollectionSchema, op: Any, seq: int) -> CollectionSchema:
    """The schema after record `seq`. Replay over a config.json that already holds a later
    state leaves it as it is: a name made by this record or after it, a name deleted since."""
    cfg = schema.config
    dense = {n: s.params for n, s in schema.dense.items()}
    sparse = {n: s.params for n, s in schema.sparse.items()}
    columns = dict(schema.columns)
    if isinstance(op, ops.CreateVectorName):
        if op.name in columns:  # made by this record (config.json is ahead) or by a later one
            return schema
        if op.sparse:
            sparse[op.name] = m.convert(op.params, m.SparseVectorParams, f"sparse_vectors.{op.name}")
        else:
            dense[op.name] = m.convert(op.params, m.VectorParams, f"vectors.{op.name}")
        columns[op.name] = Column(f"v{seq}", seq)
    else:
        if not schema.holds(op.name, seq):  # not there, or made again after this record
            return schema
        dense.pop(op.name, None)
        sparse.pop(op.name, None)
        del columns[op.name]
    params = msgspec.structs.replace(cfg.params, vectors=dense, sparse_vectors=sparse or None)
    return build_schema(msgspec.structs.replace(cfg, params=params), columns)


class VectorNamesMixin:
    """Client methods (qdrant-client 1.20's names and signatures)."""

    if TYPE_CHECKING:
        def _get(self, name: str) -> "Collection": ...

    def create_vector_name(self, collection_name: str, vector_name: str, vector_name_config: Any,
                           wait: bool = True, ordering: Any = None, timeout: Optional[int] = None) -> m.UpdateResult:
        """Add a dense (or multivector) or sparse vector name; existing points have no vector
        of it until they are updated."""
        check_vector_name(vector_name)
        sparse, params = parse_config(vector_name_config)
        c = self._get(collection_name)
        with c.lock:
            if _existing(c.schema, vector_name, sparse, params):
                return m.UpdateResult(status="completed", operation_id=c.seq)
            op = ops.CreateVectorName(vector_name, sparse, params)
            changed(c.schema, op, c.seq + 1)  # validated whole (e.g. uint8 with Cosine) before it is logged
            seq = c.commit(op, sync_first=True)
        return m.UpdateResult(status="completed", operation_id=seq)

    def delete_vector_name(self, collection_name: str, vector_name: str, wait: bool = True, ordering: Any = None,
                           timeout: Optional[int] = None) -> m.UpdateResult:
        """Drop a vector name with every point's vector of it and its indexes."""
        check_vector_name(vector_name)
        c = self._get(collection_name)
        with c.lock:
            if vector_name not in c.schema.columns:  # as in Qdrant: nothing to delete is no error
                return m.UpdateResult(status="completed", operation_id=c.seq)
            seq = c.commit(ops.DeleteVectorName(vector_name), sync_first=True)
        return m.UpdateResult(status="completed", operation_id=seq)
