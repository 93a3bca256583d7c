"""Qdrant 1.20's create/delete_vector_name through the real qdrant-client (REST, gRPC, async
gRPC), and the global quotas (GET/PUT /quotas, REST only as in Qdrant) sync and async."""

from __future__ import annotations

import asyncio

import pytest
import requests
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client import models as qm

from hybrid import Client
from tests.e2e.conftest import start_server

DENSE = qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(size=3, distance=qm.Distance.DOT))
SPARSE = qm.SparseVectorNameConfig(sparse=qm.SparseVectorConfig(modifier=qm.Modifier.IDF))
MULTI = qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(
    size=2, distance=qm.Distance.COSINE, multivector_config=qm.MultiVectorConfig(comparator=qm.MultiVectorComparator.MAX_SIM)))


def make(remote, name: str) -> None:
    if remote.collection_exists(name):
        remote.delete_collection(name)
    remote.create_collection(name, vectors_config={"a": qm.VectorParams(size=4, distance=qm.Distance.COSINE)})
    remote.upsert(name, [qm.PointStruct(id=i, vector={"a": [1.0, float(i), 0.0, 1.0]}) for i in range(20)])


def test_create_search_delete(remote, transport):
    name = f"vn_{transport.replace('-', '_')}"
    make(remote, name)
    for vector_name, config in (("b", DENSE), ("t", SPARSE), ("m", MULTI)):
        result = remote.create_vector_name(name, vector_name, config)
        assert result.status == qm.UpdateStatus.COMPLETED
    params = remote.get_collection(name).config.params
    assert params.vectors["b"].size == 3 and params.vectors["m"].multivector_config is not None
    assert params.sparse_vectors["t"].modifier == qm.Modifier.IDF
    assert remote.count(name, count_filter=qm.Filter(must=[qm.HasVectorCondition(has_vector="b")])).count == 0
    remote.update_vectors(name, [qm.PointVectors(id=2, vector={"b": [1.0, 2.0, 3.0], "m": [[1.0, 0.0]],
                                                                "t": qm.SparseVector(indices=[5], values=[2.0])})])
    assert [p.id for p in remote.query_points(name, query=[1.0, 1.0, 1.0], using="b").points] == [2]
    assert [p.id for p in remote.query_points(name, query=[[1.0, 0.0]], using="m").points] == [2]
    assert [p.id for p in remote.query_points(name, query=qm.SparseVector(indices=[5], values=[1.0]),
                                               using="t").points] == [2]
    assert remote.delete_vector_name(name, "a").status == qm.UpdateStatus.COMPLETED
    vectors = remote.retrieve(name, [2], with_vectors=True)[0].vector
    assert set(vectors) == {"b", "m", "t"}
    assert remote.delete_vector_name(name, "unknown").status == qm.UpdateStatus.COMPLETED  # as Qdrant: no error
    assert remote.create_vector_name(name, "b", DENSE).status == qm.UpdateStatus.COMPLETED  # the same: no-op


def test_refusals(remote, transport, refused):
    name = f"vn_bad_{transport.replace('-', '_')}"
    make(remote, name)
    remote.create_vector_name(name, "b", DENSE)
    with refused(400, "already exists with a different configuration"):
        remote.create_vector_name(name, "b", qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(
            size=5, distance=qm.Distance.DOT)))
    with refused(400, "already exists as a dense vector"):
        remote.create_vector_name(name, "b", SPARSE)
    with refused(404, "doesn't exist"):
        remote.create_vector_name("vn_missing", "b", DENSE)
    with refused(404, "doesn't exist"):
        remote.delete_vector_name("vn_missing", "b")
    with refused(422, "vector name cannot contain"):
        remote.create_vector_name(name, "a:b", DENSE)


@pytest.mark.transports("rest")
def test_rest_shapes(server, remote):
    make(remote, "vn_rest")
    url = f"{server.url}/collections/vn_rest/vectors"
    answer = requests.put(f"{url}/x", json={"dense": {"size": 0, "distance": "Dot"}})
    assert answer.status_code == 422 and "dense.size" in answer.json()["status"]["error"]
    assert requests.put(f"{url}/x", json={"other": {}}).status_code == 400
    answer = requests.put(f"{url}/x?wait=false", json={"sparse": {}})
    assert answer.status_code == 200 and answer.json()["result"]["status"] == "acknowledged"
    assert requests.delete(f"{url}/x?wait=true").json()["result"]["status"] == "completed"
    info = requests.get(f"{server.url}/collections/vn_rest").json()["result"]
    assert info["created_at"].endswith("Z") and "sparse_vectors" not in info["config"]["params"]


# ---------------------------------------------------------------- quotas
@pytest.fixture(scope="module")
def disk_server(tmp_path_factory):
    """A server over a data folder (the disk limit measures its file system)."""
    running = start_server(Client(path=tmp_path_factory.mktemp("quota") / "data"))
    yield running
    running.stop()
    running.client.close()


def test_quotas_refuse_writes_at_the_limit(disk_server):
    client = QdrantClient(url=disk_server.url, timeout=60)
    client.create_collection("q", vectors_config=qm.VectorParams(size=2, distance=qm.Distance.DOT))
    assert requests.get(f"{disk_server.url}/quotas").json()["result"]["config"] == {"enabled": False}
    status = client.http.quotas_api.get_quotas().result
    assert status.config.enabled is False and 0 <= status.usage.disk_usage_percent <= 100
    # no file system is less than 1% full: the limit is reached at once
    assert client.http.quotas_api.update_quotas(quota_config=qm.QuotaConfig(enabled=True, max_disk_usage_percent=1))
    answer = requests.put(f"{disk_server.url}/collections/q/points", json={"points": [{"id": 1, "vector": [1, 2]}]})
    assert answer.status_code == 507
    assert answer.json()["status"]["error"].startswith("Insufficient storage: Disk usage is at")
    assert requests.put(f"{disk_server.url}/collections/q/vectors/b",
                        json={"dense": {"size": 2, "distance": "Dot"}}).status_code == 507
    quota = client.http.service_api.telemetry().result.quota  # the verdict telemetry reports
    assert quota.config.enabled and quota.exceeded.disk_usage is True and quota.exceeded.resident_memory is None
    assert client.delete("q", [1]).status == qm.UpdateStatus.COMPLETED  # deletes free room: never refused
    assert client.get_collection("q").points_count == 0

    async def lift() -> None:  # the async client: same routes
        aclient = AsyncQdrantClient(url=disk_server.url, timeout=60)
        assert (await aclient.http.quotas_api.get_quotas()).result.config.max_disk_usage_percent == 1
        await aclient.http.quotas_api.update_quotas(quota_config=qm.QuotaConfig(enabled=False, max_disk_usage_percent=1))
        await aclient.close()

    asyncio.run(lift())
    assert client.upsert("q", [qm.PointStruct(id=1, vector=[1.0, 2.0])]).status == qm.UpdateStatus.COMPLETED
    bad = requests.put(f"{disk_server.url}/quotas", json={"enabled": True, "max_disk_usage_percent": 0})
    assert bad.status_code == 422 and "max_disk_usage_percent" in bad.json()["status"]["error"]
    client.close()



# ---------------------------------------------------------------- IDF over a corpus filter
def test_idf_over_a_corpus_filter(remote, transport):
    """Sparse IDF and BM25 weighted over the points of a filter equal the embedded Client's."""
    name = f"idf_{transport.replace('-', '_')}"
    if remote.collection_exists(name):
        remote.delete_collection(name)
    remote.create_collection(name, sparse_vectors_config={"s": qm.SparseVectorParams(modifier=qm.Modifier.IDF)})
    remote.create_payload_index(name, "text", qm.TextIndexParams(type=qm.TextIndexType.TEXT, scoring=True))
    points = [qm.PointStruct(id=i, vector={"s": qm.SparseVector(indices=[1, 2 + i % 2], values=[1.0, 1.0])},
                             payload={"g": i % 3, "text": ["red fox", "red dog", "blue fox"][i % 3]}) for i in range(30)]
    remote.upsert(name, points)
    corpus = qm.SearchParams(idf=qm.IdfCorpusParams(corpus=qm.Filter(must=[
        qm.FieldCondition(key="g", match=qm.MatchValue(value=0))])))
    with Client() as local:
        local.create_collection(name, sparse_vectors_config={"s": {"modifier": "idf"}})
        local.create_payload_index(name, "text", {"type": "text", "scoring": True})
        local.upsert(name, points)
        for query, using in ((qm.SparseVector(indices=[1, 2], values=[1.0, 1.0]), "s"),
                             (qm.TextQuery(text="red fox"), "text")):
            got = remote.query_points(name, query=query, using=using, search_params=corpus, limit=30).points
            want = local.query_points(name, query=query, using=using, search_params=corpus, limit=30).points
            glob = local.query_points(name, query=query, using=using, limit=30).points
            assert [(p.id, round(p.score, 4)) for p in got] == [(p.id, round(p.score, 4)) for p in want]
            assert [round(p.score, 4) for p in want] != [round(p.score, 4) for p in glob]
