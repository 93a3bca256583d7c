"""Qdrant's `Points` service: each RPC is the REST route of api/routes/points.py or query.py."""

from __future__ import annotations

from typing import Any

from qdrant_client import grpc as g

from api import schemas as s
from api.grpc.convert import (as_rest, body, given, points_selector, present, rest, rest_many, to_grpc, to_rest,
                              wait)
from api.grpc.gateway import rpc
from api.routes import collections, points, query, schema

convert_filter = to_rest.convert_filter


# ---------------------------------------------------------------- replies
def updated(result: Any, elapsed: float) -> g.PointsOperationResponse:
    return g.PointsOperationResponse(result=to_grpc.convert_update_result(as_rest(rest.UpdateResult, result)),
                                     time=elapsed)


def scored(hits: Any) -> list[g.ScoredPoint]:
    return [to_grpc.convert_scored_point(p) for p in rest_many(rest.ScoredPoint, hits)]


def records(found: Any) -> list[g.RetrievedPoint]:
    return [to_grpc.convert_record(p) for p in rest_many(rest.Record, found)]


def groups(result: Any) -> g.GroupsResult:
    return to_grpc.convert_groups_result(as_rest(rest.GroupsResult, result))


def hits_reply(response: type) -> Any:
    return lambda hits, elapsed: response(result=scored(hits), time=elapsed)


def batch_reply(response: type) -> Any:
    return lambda batches, elapsed: response(result=[g.BatchResult(result=scored(b)) for b in batches], time=elapsed)


def groups_reply(response: type) -> Any:
    return lambda result, elapsed: response(result=groups(result), time=elapsed)


def scrolled(result: Any, elapsed: float) -> g.ScrollResponse:
    offset = result.next_page_offset
    return g.ScrollResponse(result=records(result.points), time=elapsed,
                            next_page_offset=None if offset is None else to_grpc.convert_extended_point_id(offset))


# ---------------------------------------------------------------- vector names
def create_vector_name(r: g.CreateVectorNameRequest) -> dict[str, Any]:
    kind = r.WhichOneof("vector_config")
    config = getattr(r, kind) if kind is not None else None
    if kind == "dense_config":
        data = body(s.VectorNameConfig, dense=present(
            size=config.size, distance=to_rest.convert_distance(config.distance),
            multivector_config=given(config, "multivector_config", to_rest.convert_multivector_config),
            datatype=given(config, "datatype", to_rest.convert_datatype)))
    elif kind == "sparse_config":
        data = body(s.VectorNameConfig, sparse=present(
            modifier=given(config, "modifier", to_rest.convert_modifier),
            datatype=given(config, "datatype", to_rest.convert_datatype)))
    else:
        data = body(s.VectorNameConfig)
    return {"collection_name": r.collection_name, "vector_name": r.vector_name, "wait": wait(r), "data": data}


# ---------------------------------------------------------------- point writes
def _selector_write(schema: type, selector_field: str, **extra: Any) -> Any:
    def decode(r: Any) -> dict[str, Any]:
        values = {k: convert(r) for k, convert in extra.items()}
        return {"collection_name": r.collection_name, "wait": wait(r),
                "data": body(schema, **points_selector(r, selector_field), **values)}
    return decode


def upsert(r: g.UpsertPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "wait": wait(r),
            "data": body(s.UpsertPoints, points=[to_rest.convert_point_struct(p) for p in r.points],
                         update_filter=given(r, "update_filter", convert_filter))}


def update_vectors(r: g.UpdatePointVectors) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "wait": wait(r),
            "data": body(s.UpdateVectors, points=[to_rest.convert_point_vectors(p) for p in r.points],
                         update_filter=given(r, "update_filter", convert_filter))}


def update_batch(r: g.UpdateBatchPoints) -> dict[str, Any]:
    operations = [to_rest.convert_points_update_operation(op) for op in r.operations]
    return {"collection_name": r.collection_name, "wait": wait(r),
            "data": body(s.UpdateOperations, operations=operations)}


def field_schema(r: g.CreateFieldIndexCollection) -> Any:
    """REST's `field_schema`: the index params when given, else the field type's name."""
    if r.HasField("field_index_params"):
        return to_rest.convert_payload_schema_params(r.field_index_params)
    if r.HasField("field_type"):
        return g.FieldType.Name(r.field_type).removeprefix("FieldType").lower()
    return None


def create_index(r: g.CreateFieldIndexCollection) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "wait": wait(r),
            "data": body(s.CreateFieldIndex, field_name=r.field_name, field_schema=field_schema(r))}


def delete_index(r: g.DeleteFieldIndexCollection) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "wait": wait(r), "field_name": r.field_name}


# ---------------------------------------------------------------- point reads
def _read_options(r: Any) -> dict[str, Any]:
    """`read_consistency` and `timeout` as the REST route's query parameters."""
    consistency = given(r, "read_consistency", to_rest.convert_read_consistency)
    return {"consistency": None if consistency is None else str(getattr(consistency, "value", consistency)),
            "timeout": given(r, "timeout")}


def _reading(r: Any) -> dict[str, Any]:
    return {"with_payload": given(r, "with_payload", to_rest.convert_with_payload_selector),
            "with_vector": given(r, "with_vectors", to_rest.convert_with_vectors_selector)}


def retrieve(r: g.GetPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.Retrieve, ids=[to_rest.convert_point_id(i) for i in r.ids], **_reading(r))}


def scroll(r: g.ScrollPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.Scroll, filter=given(r, "filter", convert_filter), limit=given(r, "limit"),
                         offset=given(r, "offset", to_rest.convert_point_id),
                         order_by=given(r, "order_by", to_rest.convert_order_by), **_reading(r))}


def count(r: g.CountPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.Count, filter=given(r, "filter", convert_filter), exact=given(r, "exact"))}


def facet(r: g.FacetCounts) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.Facet, key=r.key, filter=given(r, "filter", convert_filter), limit=given(r, "limit"),
                         exact=given(r, "exact"))}


def _query(r: Any) -> rest.QueryRequest:
    return to_rest.convert_query_points(r)


def query_one(r: g.QueryPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r), "data": body(s.Query, **dict(_query(r)))}


def query_batch(r: g.QueryBatchPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.QueryBatch, searches=[_query(q) for q in r.query_points])}


def query_groups(r: g.QueryPointGroups) -> dict[str, Any]:
    """The query part is a QueryPoints (same fields), converted by qdrant-client."""
    shared = {f.name: getattr(r, f.name) for f in g.QueryPoints.DESCRIPTOR.fields
              if f.name in g.QueryPointGroups.DESCRIPTOR.fields_by_name
              and (not f.has_presence or r.HasField(f.name))}
    common = dict(_query(g.QueryPoints(**shared)))
    common.pop("offset", None)
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.QueryGroups, **common, group_by=r.group_by, group_size=given(r, "group_size"),
                         with_lookup=given(r, "with_lookup", to_rest.convert_with_lookup))}


def search_matrix(r: g.SearchMatrixPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, **_read_options(r),
            "data": body(s.SearchMatrix, filter=given(r, "filter", convert_filter), sample=given(r, "sample"),
                         limit=given(r, "limit"), using=given(r, "using"),
                         shard_key=given(r, "shard_key_selector", to_rest.convert_shard_key_selector))}


def matrix_reply(response: type, rest_model: type, convert: Any) -> Any:
    return lambda result, elapsed: response(result=convert(as_rest(rest_model, result)), time=elapsed)


# ---------------------------------------------------------------- legacy search, recommend, discover
def _common(r: Any) -> dict[str, Any]:
    has_threshold = "score_threshold" in r.DESCRIPTOR.fields_by_name  # discover requests have none
    threshold = given(r, "score_threshold") if has_threshold else None
    return {"filter": given(r, "filter", convert_filter), "params": given(r, "params", to_rest.convert_search_params),
            "score_threshold": threshold, **_reading(r)}


def _search(r: Any) -> dict[str, Any]:
    vector: Any = list(r.vector)
    if r.HasField("sparse_indices"):
        vector = {"indices": list(r.sparse_indices.data), "values": vector}
    if r.HasField("vector_name"):
        vector = {"name": r.vector_name, "vector": vector}
    return {"vector": vector, "limit": r.limit, **_common(r)}


def search(r: g.SearchPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "data": body(s.Search, **_search(r), offset=given(r, "offset"))}


def search_batch(r: g.SearchBatchPoints) -> dict[str, Any]:
    searches = [present(**_search(q), offset=given(q, "offset")) for q in r.search_points]
    return {"collection_name": r.collection_name, "data": body(s.SearchBatch, searches=searches)}


def search_groups(r: g.SearchPointGroups) -> dict[str, Any]:
    return {"collection_name": r.collection_name,
            "data": body(s.SearchGroups, **_search(r), group_by=r.group_by, group_size=r.group_size,
                         with_lookup=given(r, "with_lookup", to_rest.convert_with_lookup))}


def _examples(ids: Any, vectors: Any) -> list[Any]:
    return [to_rest.convert_point_id(i) for i in ids] + [to_rest.convert_vector(v) for v in vectors]


def _example(e: g.VectorExample) -> Any:
    return to_rest.convert_point_id(e.id) if e.HasField("id") else to_rest.convert_vector(e.vector)


def _looking_up(r: Any) -> dict[str, Any]:
    return {"using": given(r, "using"), "lookup_from": given(r, "lookup_from", to_rest.convert_lookup_location),
            "limit": r.limit, **_common(r)}


def _recommend(r: Any) -> dict[str, Any]:
    return {"positive": _examples(r.positive, r.positive_vectors),
            "negative": _examples(r.negative, r.negative_vectors),
            "strategy": given(r, "strategy", to_rest.convert_recommend_strategy), **_looking_up(r)}


def recommend(r: g.RecommendPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "data": body(s.Recommend, **_recommend(r), offset=given(r, "offset"))}


def recommend_batch(r: g.RecommendBatchPoints) -> dict[str, Any]:
    searches = [present(**_recommend(q), offset=given(q, "offset")) for q in r.recommend_points]
    return {"collection_name": r.collection_name, "data": body(s.RecommendBatch, searches=searches)}


def recommend_groups(r: g.RecommendPointGroups) -> dict[str, Any]:
    return {"collection_name": r.collection_name,
            "data": body(s.RecommendGroups, **_recommend(r), group_by=r.group_by, group_size=r.group_size,
                         with_lookup=given(r, "with_lookup", to_rest.convert_with_lookup))}


def _discover(r: Any) -> dict[str, Any]:
    target = _example(r.target.single) if r.HasField("target") else None
    context = [{"positive": _example(p.positive), "negative": _example(p.negative)} for p in r.context]
    return {"target": target, "context": context, "offset": given(r, "offset"), **_looking_up(r)}


def discover(r: g.DiscoverPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name, "data": body(s.Discover, **_discover(r))}


def discover_batch(r: g.DiscoverBatchPoints) -> dict[str, Any]:
    return {"collection_name": r.collection_name,
            "data": body(s.DiscoverBatch, searches=[present(**_discover(q)) for q in r.discover_points])}


class Points(g.PointsServicer):
    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    Upsert = rpc(points.upsert_points, upsert, updated)
    Delete = rpc(points.delete_points, _selector_write(s.Selector, "points"), updated)
    UpdateVectors = rpc(points.update_vectors, update_vectors, updated)
    DeleteVectors = rpc(points.delete_vectors, _selector_write(
        s.DeleteVectors, "points_selector", vector=lambda r: to_rest.convert_vectors_selector(r.vectors)), updated)
    SetPayload = rpc(points.set_payload, _selector_write(
        s.SetPayload, "points_selector", payload=lambda r: to_rest.convert_payload(r.payload),
        key=lambda r: given(r, "key")), updated)
    OverwritePayload = rpc(points.overwrite_payload, _selector_write(
        s.SetPayload, "points_selector", payload=lambda r: to_rest.convert_payload(r.payload)), updated)
    DeletePayload = rpc(points.delete_payload, _selector_write(
        s.DeletePayload, "points_selector", keys=lambda r: list(r.keys)), updated)
    ClearPayload = rpc(points.clear_payload, _selector_write(s.Selector, "points"), updated)
    UpdateBatch = rpc(points.batch_update, update_batch, lambda results, elapsed: g.UpdateBatchResponse(
        result=[to_grpc.convert_update_result(u) for u in rest_many(rest.UpdateResult, results)], time=elapsed))
    CreateFieldIndex = rpc(collections.create_field_index, create_index, updated)
    DeleteFieldIndex = rpc(collections.delete_field_index, delete_index, updated)

    Get = rpc(points.get_points, retrieve, lambda found, elapsed: g.GetResponse(
        result=records(found), time=elapsed))
    Scroll = rpc(points.scroll_points, scroll, scrolled)
    Count = rpc(points.count_points, count, lambda result, elapsed: g.CountResponse(
        result=to_grpc.convert_count_result(as_rest(rest.CountResult, result)), time=elapsed))
    Facet = rpc(query.facet, facet, lambda result, elapsed: g.FacetResponse(
        hits=[to_grpc.convert_facet_value_hit(h) for h in rest_many(rest.FacetValueHit, result.hits)], time=elapsed))
    Query = rpc(query.query_points, query_one, lambda result, elapsed: g.QueryResponse(
        result=scored(result.points), time=elapsed))
    QueryBatch = rpc(query.query_batch_points, query_batch, lambda results, elapsed: g.QueryBatchResponse(
        result=[g.BatchResult(result=scored(r.points)) for r in results], time=elapsed))
    QueryGroups = rpc(query.query_points_groups, query_groups, groups_reply(g.QueryGroupsResponse))

    Search = rpc(query.search_points, search, hits_reply(g.SearchResponse))
    SearchBatch = rpc(query.search_batch_points, search_batch, batch_reply(g.SearchBatchResponse))
    SearchGroups = rpc(query.search_point_groups, search_groups, groups_reply(g.SearchGroupsResponse))
    Recommend = rpc(query.recommend_points, recommend, hits_reply(g.RecommendResponse))
    RecommendBatch = rpc(query.recommend_batch_points, recommend_batch, batch_reply(g.RecommendBatchResponse))
    RecommendGroups = rpc(query.recommend_point_groups, recommend_groups, groups_reply(g.RecommendGroupsResponse))
    Discover = rpc(query.discover_points, discover, hits_reply(g.DiscoverResponse))
    DiscoverBatch = rpc(query.discover_batch_points, discover_batch, batch_reply(g.DiscoverBatchResponse))

    CreateVectorName = rpc(schema.create_vector_name, create_vector_name, updated)
    DeleteVectorName = rpc(schema.delete_vector_name, lambda r: {
        "collection_name": r.collection_name, "vector_name": r.vector_name, "wait": wait(r)}, updated)
    SearchMatrixPairs = rpc(query.search_matrix_pairs, search_matrix, matrix_reply(
        g.SearchMatrixPairsResponse, rest.SearchMatrixPairsResponse, to_grpc.convert_search_matrix_pairs))
    SearchMatrixOffsets = rpc(query.search_matrix_offsets, search_matrix, matrix_reply(
        g.SearchMatrixOffsetsResponse, rest.SearchMatrixOffsetsResponse, to_grpc.convert_search_matrix_offsets))
