"""Qdrant 1.20's BM25 text query through the real qdrant-client 1.20 (sync and async): a text
index with `scoring`, `query: {"text": ...}` with `using`, and the same points and scores as
our `bm25` extension (one implementation, two request shapes)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

NAME = "txt"
DOCS = ["the quick brown fox", "a lazy dog sleeps all day", "quick quick dog runs", "brown bread and butter",
        "the dog and the fox are friends", "nothing to see here"]


@pytest.fixture(scope="module")
def texts(server, remote):
    if not remote.collection_exists(NAME):
        remote.create_collection(NAME, vectors_config={"d": qm.VectorParams(size=2, distance=qm.Distance.DOT)})
        remote.upsert(NAME, [qm.PointStruct(id=i, vector={"d": [1.0, float(i)]}, payload={"body": d, "n": i})
                             for i, d in enumerate(DOCS)])
        remote.create_payload_index(NAME, "body", field_schema=qm.TextIndexParams(
            type=qm.TextIndexType.TEXT, scoring=True))
        remote.create_payload_index(NAME, "plain", field_schema=qm.TextIndexParams(type=qm.TextIndexType.TEXT))
    return server, remote


def extension(server, text: str, **extra) -> list[tuple[int, float]]:
    body = {"query": {"bm25": {"text": text, "field": "body"}}, "limit": 10, **extra}
    points = httpx.post(f"{server.url}/collections/{NAME}/points/query", json=body).json()["result"]["points"]
    return [(p["id"], round(p["score"], 5)) for p in points]


def test_text_query_equals_the_bm25_extension(texts):
    server, remote = texts
    for text in ("quick dog", "brown fox", "friends"):
        got = remote.query_points(NAME, query=qm.TextQuery(text=text), using="body", limit=10).points
        assert [(p.id, round(p.score, 5)) for p in got] == extension(server, text), text
    scored = remote.query_points(NAME, query=qm.TextQuery(text=qm.TextQueryInput(
        query="quick dog", scoring=qm.Bm25Scoring(bm25=qm.Bm25Params(k=1.2, b=0.75)))), using="body").points
    assert [(p.id, round(p.score, 5)) for p in scored] == extension(server, "quick dog")
    flt = qm.Filter(must=[qm.FieldCondition(key="n", range=qm.Range(gte=2))])
    filtered = remote.query_points(NAME, query=qm.TextQuery(text="dog"), using="body", query_filter=flt).points
    assert [(p.id, round(p.score, 5)) for p in filtered] == extension(server, "dog", filter={"must": [
        {"key": "n", "range": {"gte": 2}}]})


def test_text_query_in_prefetch_and_groups(texts):
    server, remote = texts
    fused = remote.query_points(NAME, prefetch=[qm.Prefetch(query=qm.TextQuery(text="dog"), using="body"),
                                               qm.Prefetch(query=[1.0, 0.0], using="d")],
                                query=qm.FusionQuery(fusion=qm.Fusion.RRF), limit=3).points
    assert len(fused) == 3
    groups = remote.query_points_groups(NAME, group_by="n", query=qm.TextQuery(text="dog"), using="body",
                                        limit=2, group_size=1).groups
    assert [g.hits[0].id for g in groups] == [i for i, _ in extension(server, "dog")][:2]
    batch = remote.query_batch_points(NAME, [qm.QueryRequest(query=qm.TextQuery(text="fox"), using="body")])
    assert [p.id for p in batch[0].points] == [i for i, _ in extension(server, "fox")]


def test_text_query_errors(texts, refused):
    _, remote = texts
    for using in ("plain", "n", "missing"):  # no scoring; no text index; no index
        with refused(400, "using"):
            remote.query_points(NAME, query=qm.TextQuery(text="dog"), using=using)


@pytest.mark.transports("rest")  # async REST; async gRPC is the grpc-async transport of the tests above
def test_async_text_query(texts):
    server, _ = texts

    async def run() -> list:
        client = AsyncQdrantClient(url=server.url, timeout=60)
        try:
            return (await client.query_points(NAME, query=qm.TextQuery(text="quick dog"), using="body")).points
        finally:
            await client.close()

    assert [(p.id, round(p.score, 5)) for p in asyncio.run(run())] == extension(server, "quick dog")
