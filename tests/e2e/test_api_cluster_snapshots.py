"""The cluster, shard-key, telemetry, issues, shard-snapshot and full-snapshot operations through
the real qdrant-client 1.20, sync and async: a single node answers as a Qdrant without
distributed mode does, and every snapshot kind round-trips (including recovery from an http URL
over loopback, checksum-verified).

Operations that Qdrant also serves over gRPC (cluster info, cluster setup, shard keys, full
snapshots) run on every transport; the others (telemetry, issues, shard snapshots, recovery)
exist only over REST, where qdrant-client sends them whatever the transport, so they run once."""

from __future__ import annotations

import asyncio
import io
import tarfile

import httpx
import pytest
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from tests.e2e.conftest import dataset

NAME = "cs_main"


@pytest.fixture(scope="module")
def filled(server, remote):
    if not remote.collection_exists(NAME):
        remote.create_collection(NAME, vectors_config={"d": qm.VectorParams(size=8, distance=qm.Distance.COSINE)},
                                 sparse_vectors_config={"s": qm.SparseVectorParams(modifier=qm.Modifier.IDF)})
        remote.upsert(NAME, [qm.PointStruct(**p) for p in dataset(40)])
        remote.update_collection_aliases([qm.CreateAliasOperation(
            create_alias=qm.CreateAlias(collection_name=NAME, alias_name="cs_alias"))])
    return server, remote


def test_cluster_routes_answer_as_a_single_node(filled, refused):
    _, remote = filled

    def standalone(call) -> None:  # REST 405, gRPC UNIMPLEMENTED, as Qdrant's server answers
        with refused(405, "standalone mode"):
            call()

    assert remote.cluster_status().status == "disabled"
    info = remote.collection_cluster_info(NAME)
    assert info.shard_count == 1 and [s.shard_id for s in info.local_shards] == [0]
    assert info.local_shards[0].points_count == 40 and info.remote_shards == [] and info.shard_transfers == []
    assert not remote.list_shard_keys(NAME).shard_keys  # None over REST; gRPC's repeated field has no null
    standalone(lambda: remote.create_shard_key(NAME, "k"))
    standalone(lambda: remote.delete_shard_key(NAME, "k"))
    standalone(lambda: remote.cluster_collection_update(NAME, qm.MoveShardOperation(
        move_shard=qm.MoveShard(shard_id=0, from_peer_id=1, to_peer_id=2))))
    standalone(remote.recover_current_peer)
    standalone(lambda: remote.remove_peer(7))
    with refused(404):
        remote.collection_cluster_info("cs_nope")
    with refused(404):
        remote.list_shard_keys("cs_nope")


@pytest.mark.transports("rest")
def test_telemetry_and_issues(filled):
    _, remote = filled
    telemetry = remote.http.service_api.telemetry(details_level=1).result
    assert telemetry.collections.number_of_collections >= 1 and telemetry.app.name == "hybrid"
    assert 40 in [c.vectors for c in telemetry.collections.collections]  # Qdrant's aggregated form: no names
    assert remote.http.beta_api.get_issues()["result"] == {"issues": []}
    assert remote.http.beta_api.clear_issues().result is True


@pytest.mark.transports("rest")
def test_shard_snapshots_round_trip(filled, plain):
    server, remote = filled
    before = plain(remote.scroll(NAME, limit=100, with_vectors=True)[0])
    snap = remote.create_shard_snapshot(NAME, 0)
    assert [s.name for s in remote.list_shard_snapshots(NAME, 0)] == [snap.name]
    assert snap.name not in [s.name for s in remote.list_snapshots(NAME)]  # kept apart from collection snapshots
    url = f"{server.url}/collections/{NAME}/shards/0/snapshots/{snap.name}"
    assert len(httpx.get(url).content) == snap.size
    remote.delete(NAME, points_selector=qm.PointIdsList(points=[1, 2, 3]))
    assert remote.recover_shard_snapshot(NAME, 0, url, checksum=snap.checksum)  # over http, loopback
    assert plain(remote.scroll(NAME, limit=100, with_vectors=True)[0]) == before
    streamed = httpx.get(f"{server.url}/collections/{NAME}/shards/0/snapshot")
    assert streamed.status_code == 200 and tarfile.open(fileobj=io.BytesIO(streamed.content)).getnames()
    assert [s.name for s in remote.list_shard_snapshots(NAME, 0)] == [snap.name]  # a streamed one is not kept
    upload = httpx.post(f"{server.url}/collections/{NAME}/shards/0/snapshots/upload",
                        files={"snapshot": ("s.snapshot", streamed.content)})
    assert upload.status_code == 200 and plain(remote.scroll(NAME, limit=100, with_vectors=True)[0]) == before
    for call in (lambda: remote.create_shard_snapshot(NAME, 1), lambda: remote.list_shard_snapshots(NAME, 3)):
        with pytest.raises(UnexpectedResponse) as err:
            call()
        assert err.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as bad:
        remote.recover_shard_snapshot(NAME, 0, url, checksum="0" * 64)
    assert bad.value.status_code == 400 and "checksum" in bad.value.content.decode()
    assert remote.delete_shard_snapshot(NAME, 0, snap.name)
    assert remote.list_shard_snapshots(NAME, 0) == []


@pytest.mark.transports("rest")
def test_recover_from_url_into_a_new_collection(filled, plain):
    server, remote = filled
    snap = remote.create_snapshot(NAME)
    url = f"{server.url}/collections/{NAME}/snapshots/{snap.name}"
    assert remote.recover_snapshot("cs_from_url", url, checksum=snap.checksum)
    assert remote.count("cs_from_url").count == remote.count(NAME).count
    for bad, status in ((f"{server.url}/collections/{NAME}/snapshots/missing.snapshot", 400),
                        ("http://127.0.0.1:9/x.snapshot", 400)):  # 404 at the source; nothing listening
        with pytest.raises(UnexpectedResponse) as err:
            remote.recover_snapshot("cs_from_url2", bad)
        assert err.value.status_code == status and "location" in err.value.content.decode()
    assert not remote.collection_exists("cs_from_url2")
    remote.delete_snapshot(NAME, snap.name)
    remote.delete_collection("cs_from_url")


def test_full_snapshots_hold_every_collection_and_alias(filled, refused):
    server, remote = filled
    full = remote.create_full_snapshot()
    assert full.name.startswith("full-snapshot-") and full.name in [s.name for s in remote.list_full_snapshots()]
    content = httpx.get(f"{server.url}/snapshots/{full.name}").content
    with tarfile.open(fileobj=io.BytesIO(content)) as tar:
        names = tar.getnames()
        aliases = tar.extractfile("aliases.json").read()
    collections = [c.name for c in remote.get_collections().collections]
    assert sorted(names) == sorted(["aliases.json"] + [f"collections/{c}.snapshot" for c in collections])
    assert b'"cs_alias":"cs_main"' in aliases
    assert httpx.get(f"{server.url}/snapshots/..%2Fx.snapshot").status_code == 404
    assert remote.delete_full_snapshot(full.name)
    assert full.name not in [s.name for s in remote.list_full_snapshots()]
    with refused(404):
        remote.delete_full_snapshot(full.name)


def test_full_snapshot_restores_into_an_embedded_client(filled, tmp_path, plain):
    server, remote = filled
    from hybrid import Client

    full = remote.create_full_snapshot()
    archive = tmp_path / full.name
    archive.write_bytes(httpx.get(f"{server.url}/snapshots/{full.name}").content)
    with Client() as local:
        restored = local.recover_full_snapshot(archive, checksum=full.checksum)
        assert NAME in restored and local.resolve_alias("cs_alias") == NAME
        assert plain(local.scroll(NAME, limit=100)[0]) == plain(remote.scroll(NAME, limit=100)[0])
    remote.delete_full_snapshot(full.name)


@pytest.mark.transports("rest")
def test_async_client(filled):
    server, _ = filled

    async def run() -> None:
        client = AsyncQdrantClient(url=server.url, timeout=60)
        try:
            assert (await client.cluster_status()).status == "disabled"
            assert (await client.collection_cluster_info(NAME)).shard_count == 1
            assert (await client.list_shard_keys(NAME)).shard_keys is None
            with pytest.raises(UnexpectedResponse):
                await client.create_shard_key(NAME, "k")
            snap = await client.create_shard_snapshot(NAME, 0)
            assert snap.name in [s.name for s in await client.list_shard_snapshots(NAME, 0)]
            assert await client.delete_shard_snapshot(NAME, 0, snap.name)
            full = await client.create_full_snapshot()
            assert full.name in [s.name for s in await client.list_full_snapshots()]
            assert await client.delete_full_snapshot(full.name)
            assert (await client.http.service_api.telemetry()).result.collections.number_of_collections >= 1
        finally:
            await client.close()

    asyncio.run(run())
