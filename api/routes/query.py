"""The Query API (query, batch, groups), facets, and the legacy search, recommend and discover
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
from api.routes.params import CollectionName, Rt
from api.runtime import Runtime
from hybrid import models as m

TAGS = ["Search"]
POINTS = "/collections/{collection_name:str}/points"


def _points(rt: Runtime, name: str, args: dict[str, Any]) -> list[m.ScoredPoint]:
    return rt.client.query_points(name, **args).points


def _many(rt: Runtime, name: str, batch: list[dict[str, Any]]) -> list[list[m.ScoredPoint]]:
    return [_points(rt, name, args) for args in batch]


@post(f"{POINTS}/query", opt=access(READ), tags=TAGS, summary="Universal query (prefetch, fusion, rescoring)",
      status_code=200)
async def query_points(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Query]) -> Envelope[m.QueryResponse]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.query_points, rt.resolve(collection_name), **legacy.query_args(data)), t0)


def _query_batch(rt: Runtime, name: str, batch: list[dict[str, Any]]) -> list[m.QueryResponse]:
    return [rt.client.query_points(name, **args) for args in batch]


@post(f"{POINTS}/query/batch", opt=access(READ), tags=TAGS, summary="Several queries", status_code=200)
async def query_batch(rt: Rt, collection_name: CollectionName, data: JSONBody[s.QueryBatch]) -> Envelope[list[m.QueryResponse]]:
    t0 = perf_counter()
    batch = [legacy.query_args(q) for q in data.searches]
    return ok(await rt.call(_query_batch, rt, rt.resolve(collection_name), batch), t0)


@post(f"{POINTS}/query/groups", opt=access(READ), tags=TAGS, summary="Query, grouped by a payload field",
      status_code=200)
async def query_groups(rt: Rt, collection_name: CollectionName, data: JSONBody[s.QueryGroups]) -> Envelope[m.GroupsResult]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.query_points_groups, rt.resolve(collection_name),
                            **legacy.query_groups_args(data)), t0)


@post(f"{POINTS}/search", opt=access(READ), tags=TAGS, summary="Legacy nearest search", status_code=200)
async def search(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Search]) -> Envelope[list[m.ScoredPoint]]:
    t0 = perf_counter()
    return ok(await rt.call(_points, rt, rt.resolve(collection_name), legacy.search_args(data)), t0)


@post(f"{POINTS}/search/batch", opt=access(READ), tags=TAGS, summary="Legacy batch search", status_code=200)
async def search_batch(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SearchBatch]) -> Envelope[list[list[m.ScoredPoint]]]:
    t0 = perf_counter()
    batch = [legacy.search_args(q) for q in data.searches]
    return ok(await rt.call(_many, rt, rt.resolve(collection_name), batch), t0)


@post(f"{POINTS}/search/groups", opt=access(READ), tags=TAGS, summary="Legacy grouped search", status_code=200)
async def search_groups(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SearchGroups]) -> Envelope[m.GroupsResult]:
    t0 = perf_counter()
    method = rt.client.query_points_groups
    return ok(await rt.call(method, rt.resolve(collection_name), **legacy.search_groups_args(data)), t0)


@post(f"{POINTS}/recommend", opt=access(READ), tags=TAGS, summary="Legacy recommendation", status_code=200)
async def recommend(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Recommend]) -> Envelope[list[m.ScoredPoint]]:
    t0 = perf_counter()
    return ok(await rt.call(_points, rt, rt.resolve(collection_name), legacy.recommend_args(data)), t0)


@post(f"{POINTS}/recommend/batch", opt=access(READ), tags=TAGS, summary="Legacy batch recommendation",
      status_code=200)
async def recommend_batch(rt: Rt, collection_name: CollectionName,
                          data: JSONBody[s.RecommendBatch]) -> Envelope[list[list[m.ScoredPoint]]]:
    t0 = perf_counter()
    batch = [legacy.recommend_args(q) for q in data.searches]
    return ok(await rt.call(_many, rt, rt.resolve(collection_name), batch), t0)


@post(f"{POINTS}/recommend/groups", opt=access(READ), tags=TAGS, summary="Legacy grouped recommendation",
      status_code=200)
async def recommend_groups(rt: Rt, collection_name: CollectionName, data: JSONBody[s.RecommendGroups]) -> Envelope[m.GroupsResult]:
    t0 = perf_counter()
    method = rt.client.query_points_groups
    return ok(await rt.call(method, rt.resolve(collection_name), **legacy.recommend_groups_args(data)), t0)


@post(f"{POINTS}/discover", opt=access(READ), tags=TAGS, summary="Legacy discovery search", status_code=200)
async def discover(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Discover]) -> Envelope[list[m.ScoredPoint]]:
    t0 = perf_counter()
    return ok(await rt.call(_points, rt, rt.resolve(collection_name), legacy.discover_args(data)), t0)


@post(f"{POINTS}/discover/batch", opt=access(READ), tags=TAGS, summary="Legacy batch discovery", status_code=200)
async def discover_batch(rt: Rt, collection_name: CollectionName,
                         data: JSONBody[s.DiscoverBatch]) -> Envelope[list[list[m.ScoredPoint]]]:
    t0 = perf_counter()
    batch = [legacy.discover_args(q) for q in data.searches]
    return ok(await rt.call(_many, rt, rt.resolve(collection_name), batch), t0)


@post("/collections/{collection_name:str}/facet", opt=access(READ), tags=TAGS,
      summary="Counts of the distinct values of a payload key", status_code=200)
async def facet(rt: Rt, collection_name: CollectionName, data: JSONBody[s.Facet]) -> Envelope[m.FacetResponse]:
    t0 = perf_counter()
    result = await rt.call(rt.client.facet, rt.resolve(collection_name), data.key, facet_filter=data.filter,
                           limit=10 if data.limit is None else data.limit, exact=bool(data.exact))
    return ok(result, t0)


ROUTES = [query_points, query_batch, query_groups, search, search_batch, search_groups, recommend,
          recommend_batch, recommend_groups, discover, discover_batch, facet]
