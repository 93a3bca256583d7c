"""The REST server in cluster mode, driven by qdrant-client: collections with Qdrant's sharding
parameters, the Distributed calls (cluster status, collection cluster info, shard keys), and
points written and queried through them."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from qdrant_client import QdrantClient
from qdrant_client import models as qm


@pytest.fixture(scope="module")
def remote(coordinator):
    from api.app import create_app
    from api.settings import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(coordinator, Settings(port=port, grpc_port=0), owned=False)  # REST only: 6334 may be taken
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    client = QdrantClient(url=f"http://127.0.0.1:{port}", timeout=60)
    yield client
    client.close()
    server.should_exit = True
    thread.join(30)


def test_sharded_collection_over_rest(remote):
    remote.create_collection("r", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             shard_number=3, replication_factor=2)
    info = remote.collection_cluster_info("r")
    assert info.shard_count == 3 and len(info.remote_shards) == 6 and not info.local_shards
    assert {s.state for s in info.remote_shards} == {qm.ReplicaState.ACTIVE}
    assert len({(s.shard_id, s.peer_id) for s in info.remote_shards}) == 6  # replicas of a shard on distinct peers
    remote.upsert("r", [qm.PointStruct(id=i, vector=[1.0, float(i), 0.0, 0.0], payload={"i": i}) for i in range(30)])
    described = remote.get_collection("r")
    assert described.points_count == 30 and described.config.params.shard_number == 3
    assert described.config.params.replication_factor == 2
    hits = remote.query_points("r", [0.0, 1.0, 0.0, 0.0], limit=3).points
    assert [p.id for p in hits] == [29, 28, 27] and hits[0].payload == {"i": 29}
    assert remote.count("r").count == 30
    status = remote.cluster_status()
    assert status.status == "enabled" and len(status.peers) == 4  # three nodes and the coordinator
    remote.delete_collection("r")


def test_shard_keys_over_rest(remote):
    remote.create_collection("rk", vectors_config=qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             sharding_method=qm.ShardingMethod.CUSTOM)
    assert remote.create_shard_key("rk", "eu", shards_number=2)
    assert remote.create_shard_key("rk", "us")
    remote.upsert("rk", [qm.PointStruct(id=i, vector=[1.0, float(i), 0.0, 0.0]) for i in range(6)], shard_key_selector="eu")
    remote.upsert("rk", [qm.PointStruct(id=10, vector=[1.0, 0.0, 0.0, 0.0])], shard_key_selector="us")
    info = remote.collection_cluster_info("rk")
    assert info.shard_count == 3 and {s.shard_key for s in info.remote_shards} == {"eu", "us"}
    assert remote.count("rk").count == 7
    assert remote.delete_shard_key("rk", "us")
    assert remote.count("rk").count == 6
    remote.delete_collection("rk")
