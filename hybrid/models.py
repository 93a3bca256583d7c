"""Wire models: msgspec Structs shaped like Qdrant's REST JSON (qdrant-openapi-v1.18.x.json).

The embedded Client and the REST API share these. Inputs may also arrive as plain dicts or as
`qdrant_client.models` objects: `to_builtins` turns any of them into Qdrant-shaped JSON and
`convert` validates that JSON into a Struct, naming the offending field on error.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, TypeVar, Union

import msgspec
from msgspec import Struct

from hybrid.errors import ValidationError

Distance = Literal["Cosine", "Dot", "Euclid", "Manhattan"]
Datatype = Literal["float32", "float16", "uint8"]
ExtendedPointId = Union[int, str]
T = TypeVar("T")


class Model(Struct, omit_defaults=True, forbid_unknown_fields=False):
    """Base: attribute access like qdrant-client's models, JSON like Qdrant's."""

    def model_dump(self) -> dict:
        return msgspec.to_builtins(self)


# ---------------------------------------------------------------- collection configuration
class HnswConfigDiff(Model):
    m: Optional[int] = None
    ef_construct: Optional[int] = None
    full_scan_threshold: Optional[int] = None
    max_indexing_threads: Optional[int] = None
    on_disk: Optional[bool] = None
    payload_m: Optional[int] = None


class HnswConfig(Model, omit_defaults=False):
    """Graph parameters. m: links per node; ef_construct: build beam width; full_scan_threshold
    (KB of vectors): below it a filtered search scores the allowed points exactly."""

    m: int = 16
    ef_construct: int = 100
    full_scan_threshold: int = 10_000
    max_indexing_threads: int = 0
    on_disk: bool = False
    payload_m: Optional[int] = None


class ScalarQuantizationConfig(Model):
    type: Literal["int8"] = "int8"
    quantile: Optional[float] = None
    always_ram: Optional[bool] = None


class ScalarQuantization(Model):
    scalar: ScalarQuantizationConfig


class MultiVectorConfig(Model):
    comparator: Literal["max_sim"] = "max_sim"


class VectorParams(Model):
    size: int
    distance: Distance
    hnsw_config: Optional[HnswConfigDiff] = None
    quantization_config: Optional[ScalarQuantization] = None
    on_disk: Optional[bool] = None
    datatype: Optional[Datatype] = None
    multivector_config: Optional[MultiVectorConfig] = None
    #: Our extension for multivector names: {"type": "centroids"|"exact", ...} (see
    #: hybrid/storage/multivectors.py); by default hnsw_config.m > 0 selects the centroid stage.
    multivector_index: Optional[dict[str, Any]] = None


class PayloadStorageParams(Model):
    """Qdrant 1.20's payload storage placement: `cold` (the default) or `cached` (`pinned` is
    refused, as by Qdrant). Payloads are read through the same store either way here."""

    memory: Optional[Literal["cold", "cached", "pinned"]] = None


class SparseIndexParams(Model):
    full_scan_threshold: Optional[int] = None
    on_disk: Optional[bool] = None
    datatype: Optional[Datatype] = None


class SparseVectorParams(Model):
    index: Optional[SparseIndexParams] = None
    modifier: Optional[Literal["none", "idf"]] = None


class OptimizersConfig(Model, omit_defaults=False):
    """When to seal and vacuum. indexing_threshold is in KB of vector data (Qdrant's unit):
    the appendable segment is sealed (HNSW built) once its vectors pass it; 0 disables."""

    deleted_threshold: float = 0.2
    vacuum_min_vector_number: int = 1000
    default_segment_number: int = 0
    max_segment_size: Optional[int] = None
    memmap_threshold: Optional[int] = None
    indexing_threshold: int = 10_000
    flush_interval_sec: int = 5
    max_optimization_threads: Optional[int] = None


class OptimizersConfigDiff(Model):
    deleted_threshold: Optional[float] = None
    vacuum_min_vector_number: Optional[int] = None
    default_segment_number: Optional[int] = None
    max_segment_size: Optional[int] = None
    memmap_threshold: Optional[int] = None
    indexing_threshold: Optional[int] = None
    flush_interval_sec: Optional[int] = None
    max_optimization_threads: Optional[int] = None


class WalConfig(Model, omit_defaults=False):
    wal_capacity_mb: int = 32
    wal_segments_ahead: int = 0


class CollectionParams(Model, omit_defaults=False):
    vectors: Any = None  # VectorParams, or {name: VectorParams}; see CollectionSchema
    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    on_disk_payload: bool = True
    payload: Optional[PayloadStorageParams] = None
    sparse_vectors: Optional[dict[str, SparseVectorParams]] = None


class CollectionConfig(Model, omit_defaults=False):
    params: CollectionParams
    hnsw_config: HnswConfig
    optimizer_config: OptimizersConfig
    wal_config: WalConfig = msgspec.field(default_factory=WalConfig)
    quantization_config: Optional[ScalarQuantization] = None
    metadata: Optional[dict] = None


class PayloadIndexInfo(Model):
    data_type: str
    params: Optional[dict] = None
    points: int = 0


class CollectionInfo(Model):
    status: Literal["green", "yellow", "grey", "red"]
    optimizer_status: Any
    segments_count: int
    config: CollectionConfig
    payload_schema: dict[str, PayloadIndexInfo]
    indexed_vectors_count: int = 0
    points_count: int = 0
    warnings: list = msgspec.field(default_factory=list)
    created_at: Optional[str] = None  # RFC 3339; absent for collections made before it was recorded


class CollectionDescription(Model):
    name: str


class CollectionsResponse(Model):
    collections: list[CollectionDescription]


class CollectionExistence(Model):
    exists: bool


# ---------------------------------------------------------------- points and results
class PointStruct(Model):
    id: ExtendedPointId
    vector: Any = None
    payload: Optional[dict] = None


class SparseVector(Model):
    indices: list[int]
    values: list[float]


class Document(Model):
    text: str
    model: str
    options: Optional[dict] = None


class Record(Model):
    id: ExtendedPointId
    payload: Optional[dict] = None
    vector: Any = None
    shard_key: Any = None
    order_value: Any = None


class ScoredPoint(Model):
    id: ExtendedPointId
    version: int
    score: float
    payload: Optional[dict] = None
    vector: Any = None
    shard_key: Any = None
    order_value: Any = None
    explain: Optional[dict] = None  # our extension: per-branch scores and ranks


class QueryResponse(Model):
    points: list[ScoredPoint]
    plan: Optional[str] = None  # our extension, with explain=True: the printed query plan


class PointGroup(Model):
    hits: list[ScoredPoint]
    id: Any
    lookup: Optional[Record] = None


class GroupsResult(Model):
    groups: list[PointGroup]


# ---------------------------------------------------------------- admin responses
class AliasDescription(Model):
    alias_name: str
    collection_name: str


class CollectionsAliasesResponse(Model):
    aliases: list[AliasDescription]


class FacetValueHit(Model):
    value: Any
    count: int


class FacetResponse(Model):
    hits: list[FacetValueHit]


class VectorParamsDiff(Model):
    hnsw_config: Optional[HnswConfigDiff] = None
    quantization_config: Any = None
    on_disk: Optional[bool] = None


class CollectionParamsDiff(Model):
    replication_factor: Optional[int] = None
    write_consistency_factor: Optional[int] = None
    on_disk_payload: Optional[bool] = None
    payload: Optional[PayloadStorageParams] = None


class SnapshotDescription(Model):
    name: str
    size: int
    creation_time: Optional[str] = None
    checksum: Optional[str] = None


class UpdateResult(Model):
    status: Literal["acknowledged", "completed"]
    operation_id: Optional[int] = None


class CountResult(Model):
    count: int


class ScrollResult(Model):
    points: list[Record]
    next_page_offset: Optional[ExtendedPointId] = None


class SearchParams(Model):
    hnsw_ef: Optional[int] = None
    exact: bool = False
    quantization: Optional[dict] = None
    indexed_only: bool = False
    acorn: Optional[dict] = None
    idf: Any = None  # Qdrant 1.20: "global" (the default) or {"corpus": filter} (hybrid.query.corpus)

    def __post_init__(self) -> None:
        corpus = isinstance(self.idf, dict) and list(self.idf) == ["corpus"] and isinstance(self.idf["corpus"], dict)
        if self.idf not in (None, "global") and not corpus:
            raise ValueError("idf: expected \"global\" or {\"corpus\": filter}")


# ---------------------------------------------------------------- service, cluster and matrix responses
class ClusterStatusDisabled(Model):
    status: str  # "disabled"


class LocalShardInfo(Model):
    shard_id: int
    points_count: int
    state: str  # "Active"


class CollectionClusterInfo(Model):
    peer_id: int
    shard_count: int
    local_shards: list[LocalShardInfo]
    remote_shards: list[Any]
    shard_transfers: list[Any]


class ShardKeysResponse(Model):
    shard_keys: Optional[list[Any]] = None  # only collections with custom sharding have keys


class IssuesReport(Model):
    issues: list[Any]


class SearchMatrixPair(Model):
    a: Any
    b: Any
    score: float


class SearchMatrixPairsResponse(Model):
    pairs: list[SearchMatrixPair]


class SearchMatrixOffsetsResponse(Model):
    offsets_row: list[int]
    offsets_col: list[int]
    scores: list[float]
    ids: list[Any]


# ---------------------------------------------------------------- conversion helpers
def with_defaults(value: Any) -> Any:
    """JSON builtins of a Struct tree keeping fields equal to their defaults (the wire models omit
    them, but Qdrant's clients require e.g. every hnsw_config field); None fields stay omitted."""
    if isinstance(value, Struct):
        return {f: with_defaults(v) for f in value.__struct_fields__ if (v := getattr(value, f)) is not None}
    if isinstance(value, dict):
        return {k: with_defaults(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [with_defaults(v) for v in value]
    return value


def to_builtins(obj: Any) -> Any:
    """Qdrant-shaped JSON builtins from a dict, a msgspec Struct or a qdrant_client pydantic model."""
    if obj is None or type(obj) in (str, int, float, bool):
        return obj
    if isinstance(obj, (str, int, float, bool)):  # subclasses: numpy scalars, str enums
        item = getattr(obj, "item", None)
        if item is not None:
            return item()
        value = getattr(obj, "value", obj)  # enum members (qdrant_client.models.Distance.COSINE)
        return value if type(value) in (str, int, float, bool) else str(obj)
    if isinstance(obj, Struct):
        return msgspec.to_builtins(obj)
    dump = getattr(obj, "model_dump", None)
    if dump is not None and callable(dump):  # pydantic (qdrant_client.models)
        return to_builtins(dump(exclude_none=True, mode="json"))
    if isinstance(obj, (dict, list, tuple)):
        try:  # plain JSON (points with float-list vectors) in one C call, not a call per float
            return msgspec.to_builtins(obj)
        except TypeError:  # numpy values or pydantic models inside: convert item by item
            pass
    if isinstance(obj, dict):
        return {k: to_builtins(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtins(v) for v in obj]
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if tolist is not None:
        return tolist()
    return obj


def convert(obj: Any, type_: type[T], field: str = "") -> T:
    """Validate `obj` (any accepted form) into `type_`, raising ValidationError with the path."""
    if isinstance(obj, type_):
        return obj
    try:
        return msgspec.convert(to_builtins(obj), type_, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = ""
        if " - at `$" in text:
            text, _, at = text.partition(" - at `$")
            path = at.rstrip("`")
        raise ValidationError(f"{field}{path}" if field else path.lstrip("."), text) from None


def read_consistency(consistency: Any) -> Any:
    """A read's `consistency` as Qdrant's ReadConsistency: None, a number of replicas (a
    positive integer, or its digits as a REST query parameter sends them), or "majority",
    "quorum" or "all" (also as qdrant-client's `{"type": ...}`); anything else is refused."""
    value = to_builtins(consistency)
    if isinstance(value, dict) and "type" in value:
        value = value["type"]
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value is None or value in ("majority", "quorum", "all") or \
            (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValidationError("consistency", "expected a number of replicas, 'majority', 'quorum' or 'all'")


def single_node_read(shard_key_selector: Any, consistency: Any, timeout: Any) -> None:
    """A read's options on one node: custom sharding refused; `consistency` and `timeout`
    checked, then met (one node answers alike at every consistency level)."""
    single_node(shard_key_selector)
    read_consistency(consistency)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1):
        raise ValidationError("timeout", "expected a positive number of seconds")


def single_node(shard_key_selector: Any, **unsupported: Any) -> None:
    """qdrant-client arguments that a single-node, unsharded engine cannot honour are refused
    (naming the argument), never ignored. (`consistency`, `ordering`, `timeout` and `wait` are
    accepted: one node answers consistently, in order, and before returning.)"""
    if shard_key_selector is not None:
        raise ValidationError("shard_key_selector", "collections here have no custom sharding")
    for name, value in unsupported.items():
        if value is not None:
            raise ValidationError(name, "not supported")
