"""The Query API (query, batch, groups), the search matrix, facets, and the legacy search_points, recommend and discover
routes, which api/legacy.py translates into Query API calls."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from litestar import post
from litestar.params import JSONBody

from api import legacy
from api import schemas as s
from api.auth import READ, access
from api.responses import Envelope, ok
from api.routes.params import CollectionName, Consistency, Rt, Timeout, read_options
from api.runtime import Runtime
from hybrid import models as m
from hybrid.matrix import DEFAULT_LIMIT, DEFAULT_SAMPLE

TAGS = ["Search"]
POINTS = "/collections/{collection_name:str}/points"


def _points(rt: Runtime, name: str, args: dict[str, Any]) -> list[m.ScoredPoint]:
    return rt.client.query_points(name, **args).points


def _many(rt: Runtime, name: str, batch: list[dict[str, Any]]) -> list[list[m.ScoredPoint]]:
    return [_points(rt, name, args) for args in batch]


@post(f"{POINTS}/query", opt=access(READ), tags=TAGS, summary="Universal query (prefetch, fusion, rescoring)",
      status_code=200)
async def query_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Query], consistency: Consistency = None,
                       timeout: Timeout = None) -> Envelope[m.QueryResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.query_points, rt.resolve(collection_name), **legacy.query_args(data),
                            **read_options(consistency, timeout)), t0)


def _batch_entry(body: s.Query) -> dict[str, Any]:
    """One search of a REST batch as a `query_batch_points` entry (QueryRequest's fields, the
    REST defaults of `legacy.query_args`)."""
    args = legacy.query_args(body)
    entry = {"query": args["query"], "using": args["using"], "prefetch": args["prefetch"],
             "filter": args["query_filter"], "params": args["search_params"], "limit": args["limit"],
             "offset": args["offset"], "with_payload": args["with_payload"], "with_vector": args["with_vectors"],
             "score_threshold": args["score_threshold"], "lookup_from": args["lookup_from"],
             "explain": args.get("explain")}
    return {key: value for key, value in entry.items() if value is not None}


@post(f"{POINTS}/query/batch", opt=access(READ), tags=TAGS, summary="Several queries", status_code=200)
async def query_batch_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.QueryBatch],
                             consistency: Consistency = None, timeout: Timeout = None) -> Envelope[list[m.QueryResponse]]:
    """Every search planned before any runs; plain dense ones share one graph walk per segment."""
    t0 = perf_counter()
    batch = [_batch_entry(q) for q in data.searches]
    return ok(await rt.call(rt.client.query_batch_points, rt.resolve(collection_name), batch,
                            **read_options(consistency, timeout)), t0)


@post(f"{POINTS}/query/groups", opt=access(READ), tags=TAGS, summary="Query, grouped by a payload field",
      status_code=200)
async def query_points_groups(rt: Rt, collection_name: CollectionName, data: JSONBody[s.QueryGroups],
                              consistency: Consistency = None, timeout: Timeout = None) -> Envelope[m.GroupsResult]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.query_points_groups, rt.resolve(collection_name),
                            **legacy.query_groups_args(data), **read_options(consistency, timeout)), t0)


def _matrix_args(data: s.SearchMatrix) -> dict[str, Any]:
    return {"query_filter": data.filter, "using": data.using, "shard_key_selector": data.shard_key,
            "sample": DEFAULT_SAMPLE if data.sample is None else data.sample,
            "limit": DEFAULT_LIMIT if data.limit is None else data.limit}


@post(f"{POINTS}/search/matrix/pairs", opt=access(READ), tags=TAGS, summary="Distance matrix of a sample, as pairs",
      status_code=200)
async def search_matrix_pairs(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SearchMatrix],
                              consistency: Consistency = None, timeout: Timeout = None) -> Envelope[m.SearchMatrixPairsResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.search_matrix_pairs, rt.resolve(collection_name), **_matrix_args(data),
                            **read_options(consistency, timeout)), t0)


@post(f"{POINTS}/search/matrix/offsets", opt=access(READ), tags=TAGS,
      summary="Distance matrix of a sample, as offsets", status_code=200)
async def search_matrix_offsets(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SearchMatrix],
                              consistency: Consistency = None, timeout: Timeout = None) -> Envelope[m.SearchMatrixOffsetsResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.search_matrix_offsets, rt.resolve(collection_name), **_matrix_args(data),
                            **read_options(consistency, timeout)), t0)


@post(f"{POINTS}/search", opt=access(READ), tags=TAGS, summary="Legacy nearest search", status_code=200)
async def search_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Search]) -> Envelope[list[m.ScoredPoint]]:
    t0 = perf_counter()
    return ok(await rt.call(_points, rt, rt.resolve(collection_name), legacy.search_args(data)), t0)


@post(f"{POINTS}/search/batch", opt=access(READ), tags=TAGS, summary="Legacy batch search", status_code=200)
async def search_batch_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SearchBatch]) -> Envelope[list[list[m.ScoredPoint]]]:
    t0 = perf_counter()
    batch = [legacy.search_args(q) for q in data.searches]
    return ok(await rt.call(_many, rt, rt.resolve(collection_name), batch), t0)


@post(f"{POINTS}/search/groups", opt=access(READ), tags=TAGS, summary="Legacy grouped search", status_code=200)
async def search_point_groups(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SearchGroups]) -> Envelope[m.GroupsResult]:
    t0 = perf_counter()
    method = rt.client.query_points_groups
    return ok(await rt.call(method, rt.resolve(collection_name), **legacy.search_groups_args(data)), t0)


@post(f"{POINTS}/recommend", opt=access(READ), tags=TAGS, summary="Legacy recommendation", status_code=200)
async def recommend_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Recommend]) -> Envelope[list[m.ScoredPoint]]:
    t0 = perf_counter()
    return ok(await rt.call(_points, rt, rt.resolve(collection_name), legacy.recommend_args(data)), t0)


@post(f"{POINTS}/recommend/batch", opt=access(READ), tags=TAGS, summary="Legacy batch recommendation",
      status_code=200)
async def recommend_batch_points(rt: Rt, collection_name: CollectionName,
                          data: JSONBody[s.RecommendBatch]) -> Envelope[list[list[m.ScoredPoint]]]:
    t0 = perf_counter()
    batch = [legacy.recommend_args(q) for q in data.searches]
    return ok(await rt.call(_many, rt, rt.resolve(collection_name), batch), t0)


@post(f"{POINTS}/recommend/groups", opt=access(READ), tags=TAGS, summary="Legacy grouped recommendation",
      status_code=200)
async def recommend_point_groups(rt: Rt, collection_name: CollectionName, data: JSONBody[s.RecommendGroups]) -> Envelope[m.GroupsResult]:
    t0 = perf_counter()
    method = rt.client.query_points_groups
    return ok(await rt.call(method, rt.resolve(collection_name), **legacy.recommend_groups_args(data)), t0)


@post(f"{POINTS}/discover", opt=access(READ), tags=TAGS, summary="Legacy discovery search", status_code=200)
async def discover_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Discover]) -> Envelope[list[m.ScoredPoint]]:
    t0 = perf_counter()
    return ok(await rt.call(_points, rt, rt.resolve(collection_name), legacy.discover_args(data)), t0)


@post(f"{POINTS}/discover/batch", opt=access(READ), tags=TAGS, summary="Legacy batch discovery", status_code=200)
async def discover_batch_points(rt: Rt, collection_name: CollectionName,
                         data: JSONBody[s.DiscoverBatch]) -> Envelope[list[list[m.ScoredPoint]]]:
    t0 = perf_counter()
    batch = [legacy.discover_args(q) for q in data.searches]
    return ok(await rt.call(_many, rt, rt.resolve(collection_name), batch), t0)


@post("/collections/{collection_name:str}/facet", opt=access(READ), tags=TAGS,
      summary="Counts of the distinct values of a payload key", status_code=200)
async def facet(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Facet], consistency: Consistency = None,
                timeout: Timeout = None) -> Envelope[m.FacetResponse]:
    t0 = perf_counter()
    result = await rt.call(rt.client.facet, rt.resolve(collection_name), data.key, facet_filter=data.filter,
                           limit=10 if data.limit is None else data.limit, exact=bool(data.exact),
                           **read_options(consistency, timeout))
    return ok(result, t0)


ROUTES = [query_points, query_batch_points, query_points_groups, search_matrix_pairs, search_matrix_offsets,
          search_points, search_batch_points, search_point_groups, recommend_points, recommend_batch_points,
          recommend_point_groups, discover_points, discover_batch_points, facet]
