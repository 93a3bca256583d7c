"""A collection's resolved configuration: what each vector name is and how it is indexed.

`CollectionSchema` is built once from create_collection's arguments (Qdrant JSON, msgspec or
qdrant_client models) and persisted as JSON; everything inside the engine reads it, never the
raw request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import msgspec

from hybrid import models as m
from hybrid.errors import InvalidValue, ValidationError
from hybrid.multivector_index import index_config

DEFAULT_VECTOR = ""  # Qdrant's unnamed vector


@dataclass(frozen=True)
class DenseSpec:
    """One dense (or multivector) name: `multivector` means a matrix of `size`-dim tokens per point."""

    name: str
    size: int
    distance: str
    datatype: str = "float32"
    on_disk: bool = False
    multivector: bool = False
    hnsw: m.HnswConfig = field(default_factory=m.HnswConfig)
    quantization: Optional[m.ScalarQuantization] = None
    params: Optional[m.VectorParams] = None  # as given, for get_collection


@dataclass(frozen=True)
class SparseSpec:
    name: str
    idf: bool = False
    params: Optional[m.SparseVectorParams] = None


class Column(msgspec.Struct, frozen=True):
    """Where a vector name's data lives in segment folders (files `<stem>.*`), and the WAL
    sequence number of the create_vector_name that made it (0: made with the collection).

    A name deleted and created again gets a new stem, so folders written before never lend it
    their old rows; `since` tells WAL replay which records belong to this incarnation."""

    stem: str
    since: int = 0


@dataclass(frozen=True)
class CollectionSchema:
    dense: dict[str, DenseSpec]
    sparse: dict[str, SparseSpec]
    config: m.CollectionConfig
    columns: dict[str, Column] = field(default_factory=dict)  # every name of dense and sparse

    def column(self, name: str) -> Column:
        return self.columns[name]

    def holds(self, name: str, seq: int) -> bool:
        """Whether a WAL record `seq` that names vector `name` is about this schema's `name`
        (the name exists and was made before the record): replay skips the others."""
        column = self.columns.get(name)
        return column is not None and column.since < seq

    def kind_of(self, name: str) -> str:
        """'dense', 'multivector' or 'sparse'; raises a ValidationError naming unknown vectors."""
        spec = self.dense.get(name)
        if spec is not None:
            return "multivector" if spec.multivector else "dense"
        if name in self.sparse:
            return "sparse"
        shown = name or "(default)"
        known = ", ".join(repr(n or "(default)") for n in [*self.dense, *self.sparse]) or "none"
        raise ValidationError("using", f"Not existing vector name error: {shown}; this collection has {known}")

    def to_json(self) -> bytes:
        return msgspec.json.encode(self.config)

    @classmethod
    def from_json(cls, data: bytes, columns: Optional[bytes] = None) -> "CollectionSchema":
        config = msgspec.json.decode(data, type=m.CollectionConfig)
        return build_schema(config, None if columns is None else msgspec.json.decode(columns, type=dict[str, Column]))


def _merge(base: msgspec.Struct, diff: Any) -> Any:
    if diff is None:
        return base
    changes = {k: v for k, v in msgspec.structs.asdict(diff).items() if v is not None}
    return msgspec.structs.replace(base, **changes)


def build_schema(config: m.CollectionConfig, columns: Optional[dict[str, Column]] = None) -> CollectionSchema:
    """Validate vector configs and resolve per-name defaults (hnsw/quantization inherit).
    `columns`: the storage of each name (None: positional stems, as a collection's first
    schema and folders written before vector names could change)."""
    raw = config.params.vectors
    if raw is None:
        raw = {}
    elif isinstance(raw, dict) and "size" in raw and "distance" in raw:
        raw = {DEFAULT_VECTOR: raw}
    elif isinstance(raw, m.VectorParams):
        raw = {DEFAULT_VECTOR: raw}
    if not isinstance(raw, dict):
        raise ValidationError("vectors", "expected vector params or a map of name to vector params")
    dense: dict[str, DenseSpec] = {}
    for name, params in raw.items():
        p = m.convert(params, m.VectorParams, f"vectors.{name}" if name else "vectors")
        where = f"vectors.{name}" if name else "vectors"
        if p.size <= 0:
            raise ValidationError(f"{where}.size", "must be a positive integer")
        if p.size > 65536:
            raise ValidationError(f"{where}.size", "must be at most 65536")
        if p.datatype == "uint8" and p.distance == "Cosine" and p.multivector_config is None:
            raise ValidationError(f"{where}.datatype", "uint8 storage with Cosine distance is not supported for dense "
                                  "vectors (unit vectors do not fit bytes); use float16 or another distance")
        hnsw = _merge(config.hnsw_config, p.hnsw_config)
        dense[name] = DenseSpec(
            name=name, size=p.size, distance=p.distance, datatype=p.datatype or "float32",
            on_disk=bool(p.on_disk), multivector=p.multivector_config is not None, hnsw=hnsw,
            quantization=p.quantization_config or config.quantization_config, params=p,
        )
    for name, spec in dense.items():
        if spec.multivector:
            try:
                index_config(spec)
            except (ValueError, TypeError) as exc:
                raise ValidationError(f"vectors.{name}.multivector_index" if name else "vectors.multivector_index",
                                      str(exc)) from None
    sparse: dict[str, SparseSpec] = {}
    for name, params in (config.params.sparse_vectors or {}).items():
        if name in dense:
            raise ValidationError(f"sparse_vectors.{name}", "name is already used by a dense vector")
        p = m.convert(params or {}, m.SparseVectorParams, f"sparse_vectors.{name}")
        sparse[name] = SparseSpec(name=name, idf=p.modifier == "idf", params=p)
    normalized = msgspec.structs.replace(
        config,
        params=msgspec.structs.replace(
            config.params,
            vectors=dense[DEFAULT_VECTOR].params if list(dense) == [DEFAULT_VECTOR] else {n: s.params for n, s in dense.items()},
            sparse_vectors={n: s.params for n, s in sparse.items()} or None,
        ),
    )
    names = [*dense, *sparse]
    if columns is None:
        columns = {name: Column(f"vec{i}") for i, name in enumerate(names)}
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(f"no storage column for vector names {missing}")
    return CollectionSchema(dense=dense, sparse=sparse, config=normalized,
                            columns={n: columns[n] for n in names})


def schema_from_request(
    vectors_config: Any = None,
    sparse_vectors_config: Any = None,
    hnsw_config: Any = None,
    optimizers_config: Any = None,
    quantization_config: Any = None,
    on_disk_payload: Optional[bool] = None,
    metadata: Optional[dict] = None,
    shard_number: Optional[int] = None,
    replication_factor: Optional[int] = None,
    write_consistency_factor: Optional[int] = None,
    wal_config: Any = None,
    timeout: Optional[int] = None,
    sharding_method: Any = None,
    strict_mode_config: Any = None,
    init_from: Any = None,
    payload: Any = None,
    id_tracker: Any = None,
) -> CollectionSchema:
    """create_collection's keyword arguments (qdrant-client's names) -> CollectionSchema.

    One node answers for every shard and replica: shard_number, replication_factor,
    write_consistency_factor (positive integers), the WAL's tuning and timeout change no result
    and are accepted;
    arguments that would change behaviour we do not have are refused by name; any other name
    is a TypeError (no catch-all)."""
    for name, value in (("shard_number", shard_number), ("replication_factor", replication_factor),
                        ("write_consistency_factor", write_consistency_factor)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValidationError(name, "expected a positive integer")
    if m.to_builtins(sharding_method) not in (None, "auto"):
        raise ValidationError("sharding_method", "custom sharding is not supported")
    for name, value in (("strict_mode_config", strict_mode_config), ("init_from", init_from),
                        ("id_tracker", id_tracker)):
        if value is not None:
            raise ValidationError(name, "not supported")
    vectors = m.to_builtins(vectors_config)
    sparse = m.to_builtins(sparse_vectors_config)
    if sparse is not None and not isinstance(sparse, dict):
        raise ValidationError("sparse_vectors", "expected a map of name to sparse vector params")
    config = m.CollectionConfig(
        params=m.CollectionParams(
            vectors=vectors,
            sparse_vectors={k: m.convert(v or {}, m.SparseVectorParams, f"sparse_vectors.{k}") for k, v in (sparse or {}).items()} or None,
            on_disk_payload=True if on_disk_payload is None else on_disk_payload,
            payload=payload_storage(payload),
        ),
        hnsw_config=_merge(m.HnswConfig(), m.convert(hnsw_config, m.HnswConfigDiff, "hnsw_config") if hnsw_config else None),
        optimizer_config=_merge(
            m.OptimizersConfig(),
            m.convert(optimizers_config, m.OptimizersConfigDiff, "optimizers_config") if optimizers_config else None,
        ),
        quantization_config=m.convert(quantization_config, m.ScalarQuantization, "quantization_config") if quantization_config else None,
        metadata=metadata,
    )
    return build_schema(config)


def payload_storage(value: Any) -> Optional[m.PayloadStorageParams]:
    """`payload: {memory}` as Qdrant accepts it: `cold` or `cached`; `pinned` is a 422."""
    if value is None:
        return None
    params = m.convert(value, m.PayloadStorageParams, "payload")
    if params.memory == "pinned":
        raise InvalidValue("payload.memory", "`pinned` memory placement is not supported for payload storage")
    return params
