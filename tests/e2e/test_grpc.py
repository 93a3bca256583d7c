"""The gRPC API itself: keys (as REST checks them), status codes for bad input (never INTERNAL or
UNKNOWN for a client's mistake), the health check, and the RPCs this server does not have."""

from __future__ import annotations

import grpc
import pytest
from qdrant_client import grpc as g

FULL, READ_ONLY = "grpc-full-key", "grpc-read-only-key"
CLIENT_MISTAKES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS}


@pytest.fixture(scope="module")
def served(module_start):
    """A keyed server with a collection `g` (dense `d` of size 4, six points)."""
    running = module_start(api_key=FULL, read_only_api_key=READ_ONLY)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    full = (("api-key", FULL),)
    g.CollectionsStub(channel).Create(g.CreateCollection(collection_name="g", vectors_config=g.VectorsConfig(
        params_map=g.VectorParamsMap(map={"d": g.VectorParams(size=4, distance=g.Distance.Cosine)}))), metadata=full)
    points = [g.PointStruct(id=g.PointId(num=i), vectors=g.Vectors(vectors=g.NamedVectors(vectors={
        "d": g.Vector(dense=g.DenseVector(data=[1.0, float(i), 0.0, 1.0]))})),
        payload={"tag": g.Value(string_value=f"t{i % 2}")}) for i in range(6)]
    g.PointsStub(channel).Upsert(g.UpsertPoints(collection_name="g", points=points, wait=True), metadata=full)
    yield running, channel
    channel.close()


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as refused:
        call(*args, **kwargs)
    assert refused.value.details(), "a refusal says why"
    return refused.value.code()


def query(name: str = "g", vector=(1.0, 2.0, 0.0, 1.0), using: str = "d", **fields) -> g.QueryPoints:
    return g.QueryPoints(collection_name=name, using=using, limit=3, query=g.Query(nearest=g.VectorInput(
        dense=g.DenseVector(data=list(vector)))), **fields)


def test_keys_as_rest_checks_them(served):
    running, channel = served
    points, root = g.PointsStub(channel), g.QdrantStub(channel)
    assert root.HealthCheck(g.HealthCheckRequest()).version == "1.20.0"  # public, as REST's `/`
    assert code_of(points.Query, query()) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(points.Query, query(), metadata=(("api-key", "wrong"),)) == grpc.StatusCode.UNAUTHENTICATED
    assert len(points.Query(query(), metadata=(("api-key", READ_ONLY),)).result) == 3
    assert len(points.Query(query(), metadata=(("authorization", f"Bearer {READ_ONLY}"),)).result) == 3
    write = g.DeletePoints(collection_name="g", points=g.PointsSelector(points=g.PointsIdsList(ids=[g.PointId(num=0)])))
    assert code_of(points.Delete, write, metadata=(("api-key", READ_ONLY),)) == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(points.Delete, write) == grpc.StatusCode.UNAUTHENTICATED
    count = points.Count(g.CountPoints(collection_name="g", exact=True), metadata=(("api-key", READ_ONLY),))
    assert count.result.count == 6  # the refused deletes changed nothing


def test_qdrant_client_with_keys_over_grpc(served):
    from qdrant_client import QdrantClient, models as qm

    running, _ = served
    options = {"url": running.url, "grpc_port": running.grpc_port, "prefer_grpc": True, "timeout": 30}
    with pytest.warns(UserWarning):  # "Api key is used with an insecure connection"
        reader = QdrantClient(api_key=READ_ONLY, **options)
    assert reader.count("g").count == 6
    assert code_of(reader.upsert, "g", [qm.PointStruct(id=9, vector={"d": [0.0, 1.0, 0.0, 0.0]})]) == \
        grpc.StatusCode.PERMISSION_DENIED
    reader.close()


def keyed(method):
    return lambda request: method(request, metadata=(("api-key", FULL),))


BAD = {
    "wrong dimensions": lambda p: keyed(p.Query)(query(vector=(1.0, 2.0))),
    "unknown collection": lambda p: keyed(p.Query)(query(name="nope")),
    "unknown vector name": lambda p: keyed(p.Query)(query(using="nope")),
    "bad filter (no condition)": lambda p: keyed(p.Query)(query(filter=g.Filter(must=[g.Condition(
        field=g.FieldCondition(key="tag"))]))),
    "bad filter (malformed has_id)": lambda p: keyed(p.Count)(g.CountPoints(collection_name="g", filter=g.Filter(
        must=[g.Condition(has_id=g.HasIdCondition(has_id=[g.PointId(uuid="not-a-uuid")]))]))),
    "empty query": lambda p: keyed(p.Query)(g.QueryPoints(collection_name="g", query=g.Query())),
    "point without id": lambda p: keyed(p.Upsert)(g.UpsertPoints(collection_name="g", points=[g.PointStruct()])),
    "vector of wrong size": lambda p: keyed(p.Upsert)(g.UpsertPoints(collection_name="g", points=[g.PointStruct(
        id=g.PointId(num=7), vectors=g.Vectors(vector=g.Vector(dense=g.DenseVector(data=[1.0]))))])),
    "malformed uuid": lambda p: keyed(p.Get)(g.GetPoints(collection_name="g", ids=[g.PointId(uuid="not-a-uuid")])),
    "unknown payload index type": lambda p: keyed(p.CreateFieldIndex)(g.CreateFieldIndexCollection(
        collection_name="g", field_name="x", field_index_params=g.PayloadIndexParams())),
    "group by nothing": lambda p: keyed(p.QueryGroups)(g.QueryPointGroups(
        collection_name="g", group_by="", using="d",
        query=g.Query(nearest=g.VectorInput(dense=g.DenseVector(data=[1.0, 0.0, 0.0, 0.0]))))),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_client_mistakes_are_never_internal(served, case):
    running, channel = served
    code = code_of(BAD[case], g.PointsStub(channel))
    assert code in CLIENT_MISTAKES, (case, code)
    assert g.PointsStub(channel).Count(g.CountPoints(collection_name="g", exact=True),
                                       metadata=(("api-key", FULL),)).result.count == 6  # nothing half-applied


def test_existing_collection_and_a_vector_name_without_config(served):
    _, channel = served
    collections = g.CollectionsStub(channel)
    existing = g.CreateCollection(collection_name="g", vectors_config=g.VectorsConfig(
        params=g.VectorParams(size=2, distance=g.Distance.Dot)))
    assert code_of(collections.Create, existing, metadata=(("api-key", FULL),)) == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as missing:
        g.PointsStub(channel).CreateVectorName(g.CreateVectorNameRequest(collection_name="g", vector_name="v"),
                                               metadata=(("api-key", FULL),))
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "vector_name_config" in missing.value.details()


def test_legacy_search_recommend_discover_answer_as_rest(served):
    """The RPCs qdrant-client no longer calls, against REST's legacy routes on the same points."""
    import httpx

    running, channel = served
    points, full = g.PointsStub(channel), (("api-key", FULL),)

    def rest(path: str, body: dict) -> list:
        answer = httpx.post(f"{running.url}/collections/g/points/{path}", json=body, headers={"api-key": FULL})
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def ids(hits) -> list:
        return [h.id.num for h in hits]

    vector = [1.0, 2.5, 0.0, 1.0]
    search = g.SearchPoints(collection_name="g", vector=vector, vector_name="d", limit=3)
    want = [h["id"] for h in rest("search", {"vector": {"name": "d", "vector": vector}, "limit": 3})]
    assert ids(points.Search(search, metadata=full).result) == want
    batch = points.SearchBatch(g.SearchBatchPoints(collection_name="g", search_points=[search, search]), metadata=full)
    assert [ids(b.result) for b in batch.result] == [want, want]
    grouped = points.SearchGroups(g.SearchPointGroups(collection_name="g", vector=vector, vector_name="d", limit=2,
                                                      group_by="tag", group_size=2), metadata=full)
    assert len(grouped.result.groups) == 2

    recommend = g.RecommendPoints(collection_name="g", positive=[g.PointId(num=1)], negative=[g.PointId(num=5)],
                                  using="d", limit=3)
    want = [h["id"] for h in rest("recommend", {"positive": [1], "negative": [5], "using": "d", "limit": 3})]
    assert ids(points.Recommend(recommend, metadata=full).result) == want
    assert [ids(b.result) for b in points.RecommendBatch(g.RecommendBatchPoints(
        collection_name="g", recommend_points=[recommend]), metadata=full).result] == [want]
    assert len(points.RecommendGroups(g.RecommendPointGroups(
        collection_name="g", positive=[g.PointId(num=1)], using="d", limit=2, group_by="tag", group_size=1),
        metadata=full).result.groups) == 2

    example = g.VectorExample(id=g.PointId(num=2))
    pair = g.ContextExamplePair(positive=g.VectorExample(id=g.PointId(num=3)),
                                negative=g.VectorExample(id=g.PointId(num=0)))
    discover = g.DiscoverPoints(collection_name="g", target=g.TargetVector(single=example), context=[pair], using="d",
                                limit=3)
    want = [h["id"] for h in rest("discover", {"target": 2, "context": [{"positive": 3, "negative": 0}],
                                               "using": "d", "limit": 3})]
    assert ids(points.Discover(discover, metadata=full).result) == want
    assert [ids(b.result) for b in points.DiscoverBatch(g.DiscoverBatchPoints(
        collection_name="g", discover_points=[discover]), metadata=full).result] == [want]


def test_cluster_and_full_snapshot_rpcs_keep_the_rest_routes_access_and_codes(served):
    """The RPCs issue 19's routes brought: the route's key level, its status codes, its answer."""
    _, channel = served
    collections, snapshots = g.CollectionsStub(channel), g.SnapshotsStub(channel)
    full, read_only = (("api-key", FULL),), (("api-key", READ_ONLY),)
    info = collections.CollectionClusterInfo(g.CollectionClusterInfoRequest(collection_name="g"), metadata=read_only)
    assert (info.shard_count, [s.points_count for s in info.local_shards]) == (1, [6])
    assert code_of(snapshots.CreateFull, g.CreateFullSnapshotRequest(), metadata=read_only) == \
        grpc.StatusCode.PERMISSION_DENIED
    assert snapshots.ListFull(g.ListFullSnapshotsRequest(), metadata=read_only).snapshot_descriptions == []
    no_operation = g.UpdateCollectionClusterSetupRequest(collection_name="g")
    assert code_of(collections.UpdateCollectionClusterSetup, no_operation, metadata=full) == \
        grpc.StatusCode.INVALID_ARGUMENT
    drop = g.UpdateCollectionClusterSetupRequest(collection_name="g", drop_replica=g.Replica(shard_id=0, peer_id=1))
    with pytest.raises(grpc.RpcError) as standalone:
        collections.UpdateCollectionClusterSetup(drop, metadata=full)
    assert standalone.value.code() == grpc.StatusCode.UNIMPLEMENTED  # Qdrant's StandaloneMode over tonic
    assert standalone.value.details() == "Qdrant is running in standalone mode"
    assert code_of(collections.CollectionClusterInfo, g.CollectionClusterInfoRequest(collection_name="nope"),
                   metadata=full) == grpc.StatusCode.NOT_FOUND


def test_hostile_names_and_snapshot_paths_over_grpc(served):
    """test_api_hostile's name and path cases that gRPC can carry (its JSON-body cases are REST's own)."""
    _, channel = served
    collections, snapshots, full = g.CollectionsStub(channel), g.SnapshotsStub(channel), (("api-key", FULL),)
    config = g.VectorsConfig(params=g.VectorParams(size=2, distance=g.Distance.Dot))
    for name in ("x" * 256, "...", ".lock", "..", "a\nb", "a\x00b", "a:b", "a/b"):
        create = g.CreateCollection(collection_name=name, vectors_config=config)
        assert code_of(collections.Create, create, metadata=full) == grpc.StatusCode.INVALID_ARGUMENT, name
    for alias in ("../../etc", "a\x00b", "q" * 300):
        change = g.ChangeAliases(actions=[g.AliasOperations(create_alias=g.CreateAlias(
            collection_name="g", alias_name=alias))])
        assert code_of(collections.UpdateAliases, change, metadata=full) == grpc.StatusCode.INVALID_ARGUMENT, alias
    assert [c.name for c in collections.List(g.ListCollectionsRequest(), metadata=full).collections] == ["g"]
    assert collections.ListAliases(g.ListAliasesRequest(), metadata=full).aliases == []
    for snapshot in ("../x.snapshot", "../../g/x.snapshot", ".."):
        assert code_of(snapshots.DeleteFull, g.DeleteFullSnapshotRequest(snapshot_name=snapshot),
                       metadata=full) in CLIENT_MISTAKES, snapshot
        assert code_of(snapshots.Delete, g.DeleteSnapshotRequest(collection_name="g", snapshot_name=snapshot),
                       metadata=full) in CLIENT_MISTAKES, snapshot
