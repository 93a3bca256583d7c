"""Request bodies of the REST API, shaped like Qdrant's (qdrant-openapi-v1.18.x.json).

Litestar decodes each body into one of these Structs (malformed JSON -> 400, a field of the
wrong type -> 422 naming it) and documents them in /openapi.json. Nested query, filter and
vector shapes stay `Any` here: the engine validates them and names the failing path. Unknown
fields are ignored, as newer clients may send fields this version does not know.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from msgspec import Meta, Struct

from hybrid import models as m
from hybrid.errors import ValidationError

PointId = Union[int, str]
Limit = Annotated[int, Meta(ge=1, le=1_000_000, description="Maximum number of results")]
Offset = Annotated[int, Meta(ge=0, le=1_000_000, description="Results to skip")]

QUERY_DOC = (
    "What to search for. Qdrant's forms: a dense vector, a multivector, a sparse vector "
    "{indices, values}, a point id, a document {text, model}, {nearest}, {recommend}, {discover}, "
    "{context}, {order_by}, {fusion: rrf|dbsf}, {rrf: {k, weights}}, {formula}, {sample}, {mmr}. "
    "Extensions of this engine: {bm25: {text, field, k1, b}} scores a full-text indexed payload "
    "field with BM25; {linear: {weights, normalization: minmax|zscore}} fuses prefetches linearly."
)
FILTER_DOC = "Qdrant filter: {must, should, must_not, min_should} of field, has_id, is_empty, is_null, nested conditions"
PAYLOAD_DOC = "true/false, a list of keys to include, or {include: [...]} / {exclude: [...]}"
VECTOR_DOC = "true/false or a list of vector names to return"
#: Qdrant's WithPayloadInterface and WithVector: typed here, so `{"include": 5}` is a 400 naming it.
WithPayload = Annotated[Union[bool, list[str], dict[str, list[str]]], Meta(description=PAYLOAD_DOC)]
WithVector = Annotated[Union[bool, list[str]], Meta(description=VECTOR_DOC)]


class Body(Struct, forbid_unknown_fields=False, omit_defaults=True, kw_only=True):
    pass


class Selector(Body):
    """Points to act on: `points` (a list of ids) or `filter`."""

    points: Optional[list[PointId]] = None
    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    shard_key: Any = None

    def selector(self) -> Any:
        if self.points is not None:
            return self.points
        if self.filter is not None:
            return {"filter": self.filter}
        raise ValidationError("points", "give `points` (a list of ids) or `filter`")


# ---------------------------------------------------------------- collections
class CreateCollection(Body):
    vectors: Annotated[Any, Meta(description="VectorParams {size, distance, ...} or a map of name to VectorParams")] = None
    sparse_vectors: Optional[dict[str, m.SparseVectorParams]] = None
    hnsw_config: Optional[m.HnswConfigDiff] = None
    optimizers_config: Optional[m.OptimizersConfigDiff] = None
    wal_config: Optional[dict] = None
    quantization_config: Optional[m.ScalarQuantization] = None
    on_disk_payload: Optional[bool] = None
    payload: Optional[m.PayloadStorageParams] = None
    shard_number: Optional[int] = None
    replication_factor: Optional[int] = None
    write_consistency_factor: Optional[int] = None
    sharding_method: Optional[str] = None
    strict_mode_config: Optional[dict] = None
    init_from: Any = None
    metadata: Optional[dict] = None


class UpdateCollection(Body):
    vectors: Annotated[Optional[dict], Meta(description="map of vector name ('' for the unnamed one) to "
                                                        "{hnsw_config, quantization_config, on_disk}")] = None
    optimizers_config: Optional[m.OptimizersConfigDiff] = None
    params: Optional[dict] = None
    hnsw_config: Optional[m.HnswConfigDiff] = None
    quantization_config: Any = None
    sparse_vectors: Optional[dict] = None
    strict_mode_config: Optional[dict] = None
    metadata: Optional[dict] = None


class ChangeAliases(Body):
    actions: Annotated[list[dict], Meta(description="{create_alias: {collection_name, alias_name}}, "
                                                    "{delete_alias: {alias_name}} or "
                                                    "{rename_alias: {old_alias_name, new_alias_name}}")]


class CreateFieldIndex(Body):
    field_name: str
    field_schema: Annotated[Any, Meta(description="keyword, integer, float, bool, geo, datetime, text, uuid, "
                                                  "or an index params object with `type`")] = None


class DenseVectorConfig(Body):
    size: Annotated[int, Meta(ge=1, le=65536, description="Dimensionality of the vectors")]
    distance: m.Distance
    multivector_config: Optional[m.MultiVectorConfig] = None
    datatype: Optional[m.Datatype] = None


class SparseVectorConfig(Body):
    modifier: Optional[Literal["none", "idf"]] = None
    datatype: Optional[m.Datatype] = None


class VectorNameConfig(Body):
    """Qdrant 1.20's VectorNameConfig: {"dense": {size, distance, ...}} or {"sparse": {modifier, datatype}}."""

    dense: Optional[DenseVectorConfig] = None
    sparse: Optional[SparseVectorConfig] = None


# ---------------------------------------------------------------- point writes
class PointIn(Body):
    id: PointId
    vector: Annotated[Any, Meta(description="a vector, or a map of vector name to dense/sparse/multi vector or document")] = None
    payload: Optional[dict] = None


class BatchIn(Body):
    ids: list[PointId]
    vectors: Any = None
    payloads: Optional[list[Optional[dict]]] = None


class UpsertPoints(Body):
    """`points` (a list) or `batch` (columns)."""

    points: Optional[list[PointIn]] = None
    batch: Optional[BatchIn] = None
    shard_key: Any = None

    def data(self) -> Any:
        if (self.points is None) == (self.batch is None):
            raise ValidationError("points", "give exactly one of `points` and `batch`")
        if self.points is not None:
            return self.points
        return self.batch


class SetPayload(Selector, kw_only=True):
    payload: dict
    key: Optional[str] = None


class DeletePayload(Selector, kw_only=True):
    keys: list[str]


class PointVectors(Body):
    id: PointId
    vector: Any


class UpdateVectors(Body):
    points: list[PointVectors]
    shard_key: Any = None


class DeleteVectors(Selector, kw_only=True):
    vector: list[str]


class UpdateOperations(Body):
    operations: Annotated[list[dict], Meta(description="{upsert}, {delete}, {set_payload}, {overwrite_payload}, "
                                                       "{delete_payload}, {clear_payload}, {update_vectors}, "
                                                       "{delete_vectors} objects, applied in order")]


# ---------------------------------------------------------------- point reads
class Retrieve(Body):
    ids: list[PointId]
    with_payload: WithPayload = True
    with_vector: WithVector = False
    shard_key: Any = None


class Scroll(Body):
    offset: Optional[PointId] = None
    limit: Optional[Limit] = None
    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    with_payload: WithPayload = True
    with_vector: WithVector = False
    order_by: Any = None
    shard_key: Any = None


class Count(Body):
    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    exact: Optional[bool] = None
    shard_key: Any = None


class Facet(Body):
    key: str
    limit: Optional[Limit] = None
    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    exact: Optional[bool] = None
    shard_key: Any = None


class Query(Body):
    """Qdrant's QueryRequest, plus `explain` (our extension: per-branch scores and ranks)."""

    prefetch: Annotated[Any, Meta(description="sub-queries whose results the query re-ranks or fuses")] = None
    query: Annotated[Any, Meta(description=QUERY_DOC)] = None
    using: Optional[str] = None
    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    params: Optional[m.SearchParams] = None
    score_threshold: Optional[float] = None
    limit: Optional[Limit] = None
    offset: Optional[Offset] = None
    with_vector: WithVector = False
    with_payload: WithPayload = False
    lookup_from: Any = None
    explain: Optional[bool] = None
    shard_key: Any = None


class SearchMatrix(Body):
    """Qdrant's SearchMatrixRequest: `sample` random points matching `filter`, `limit` nearest each."""

    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    sample: Optional[Annotated[int, Meta(ge=2, le=10_000)]] = None
    limit: Optional[Limit] = None
    using: Optional[str] = None
    shard_key: Any = None


class QueryBatch(Body):
    searches: list[Query]


class QueryGroups(Query, kw_only=True):
    group_by: str
    group_size: Optional[Limit] = None
    with_lookup: Any = None


# ---------------------------------------------------------------- legacy search routes
class Common(Body):
    filter: Annotated[Any, Meta(description=FILTER_DOC)] = None
    params: Optional[m.SearchParams] = None
    with_payload: WithPayload = False
    with_vector: WithVector = False
    score_threshold: Optional[float] = None
    shard_key: Any = None


class Search(Common):
    vector: Annotated[Any, Meta(description="a vector, {name, vector} or {name, vector: {indices, values}}")] = None
    limit: Limit = 10
    offset: Optional[Offset] = None


class SearchBatch(Body):
    searches: list[Search]


class SearchGroups(Common, kw_only=True):
    vector: Any = None
    group_by: str
    group_size: Limit = 3
    limit: Limit = 10
    with_lookup: Any = None


class Recommend(Common):
    positive: list[Any] = []
    negative: list[Any] = []
    strategy: Optional[str] = None
    using: Optional[str] = None
    lookup_from: Any = None
    limit: Limit = 10
    offset: Optional[Offset] = None


class RecommendBatch(Body):
    searches: list[Recommend]


class RecommendGroups(Recommend, kw_only=True):
    group_by: str
    group_size: Limit = 3
    with_lookup: Any = None


class Discover(Common):
    target: Any = None
    context: Optional[list[dict]] = None
    using: Optional[str] = None
    lookup_from: Any = None
    limit: Limit = 10
    offset: Optional[Offset] = None


class DiscoverBatch(Body):
    searches: list[Discover]


# ---------------------------------------------------------------- snapshots
class SnapshotRecover(Body):
    location: str
    priority: Optional[str] = None
    checksum: Optional[str] = None
    api_key: Optional[str] = None
