"""Collection snapshots through the server: create, list, download, delete, recover, upload.

Run against an in-memory server and a persistent one: a recovered collection must answer
exactly as the collection did when the snapshot was taken."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from hybrid import Client

QUERY = [0.2, 0.1, -0.3, 0.5, 0.0, 0.4, -0.1, 0.3]


def state(client, name: str, plain) -> tuple:
    """Everything a snapshot must restore: points, a query's answer, config, payload indexes."""
    points, _ = client.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    hits = client.query_points(name, query=QUERY, using="d", limit=10, with_payload=True)
    info = client.get_collection(name)
    return plain(points), plain(hits), plain(info.config), sorted(info.payload_schema)


@pytest.fixture(params=["memory", "disk"])
def snap_server(request, start, connect, build_twins, tmp_path):
    engine = Client() if request.param == "memory" else Client(path=tmp_path / "data")
    running = start(engine)
    remote = connect(running.url)
    local = build_twins(remote, "snap")
    remote.create_payload_index("snap", "tag", qm.PayloadSchemaType.KEYWORD)
    remote.delete("snap", points_selector=qm.PointIdsList(points=[0, 1, 2]))
    yield running, remote
    local.close()
    running.stop()
    engine.close()


def test_snapshot_create_list_download_recover_delete(snap_server, plain):
    running, remote = snap_server
    before = state(remote, "snap", plain)
    snap = remote.create_snapshot("snap")
    assert [s.name for s in remote.list_snapshots("snap")] == [snap.name] and snap.size > 0
    download = httpx.get(f"{running.url}/collections/snap/snapshots/{snap.name}")
    assert download.status_code == 200 and len(download.content) == snap.size
    remote.upsert("snap", [qm.PointStruct(id=1000, vector={"d": [1.0] * 8}, payload={"tag": "new"})])
    remote.delete_payload_index("snap", "tag")
    location = f"file://{running.client.snapshots_path / 'snap' / snap.name}"
    assert remote.recover_snapshot("snap", location, checksum=snap.checksum)
    assert state(remote, "snap", plain) == before
    assert remote.recover_snapshot("snap_copy", location)  # a new collection from the same file
    assert state(remote, "snap_copy", plain) == before
    assert remote.delete_snapshot("snap", snap.name)
    assert remote.list_snapshots("snap") == []


def test_snapshot_upload_restores_exactly(snap_server, plain):
    running, remote = snap_server
    before = state(remote, "snap", plain)
    snap = remote.create_snapshot("snap")
    data = httpx.get(f"{running.url}/collections/snap/snapshots/{snap.name}").content
    remote.delete_collection("snap")
    up = httpx.post(f"{running.url}/collections/snap/snapshots/upload?wait=true",
                    files={"snapshot": ("s.snapshot", data, "application/octet-stream")}, timeout=60)
    assert up.status_code == 200 and up.json()["result"] is True
    assert state(remote, "snap", plain) == before


def test_bad_snapshots_are_rejected_and_change_nothing(snap_server, plain):
    running, remote = snap_server
    before = state(remote, "snap", plain)
    snap = remote.create_snapshot("snap")
    location = f"file://{running.client.snapshots_path / 'snap' / snap.name}"
    cases = [("file:///etc/passwd", 400), (location + ".nope", 404)]
    for bad, status in cases:
        with pytest.raises(UnexpectedResponse) as err:
            remote.recover_snapshot("snap", bad)
        assert err.value.status_code == status, bad
    with pytest.raises(UnexpectedResponse) as err:
        remote.recover_snapshot("snap", location, checksum="0" * 64)
    assert err.value.status_code == 400
    garbage = httpx.post(f"{running.url}/collections/snap/snapshots/upload",
                         files={"snapshot": ("g.snapshot", b"not a tar file", "application/octet-stream")})
    assert garbage.status_code == 400 and "snapshot" in garbage.json()["status"]["error"]
    missing = httpx.get(f"{running.url}/collections/snap/snapshots/..%2F..%2Fetc%2Fpasswd")
    assert missing.status_code == 404
    assert state(remote, "snap", plain) == before


def test_snapshot_paths_cannot_leave_the_snapshots_folder(server):
    """Issue 19: GET/DELETE /collections/%2e%2e/snapshots/x.snapshot reached DATA/x.snapshot."""
    outside = server.client.snapshots_path.parent / "x.snapshot"
    outside.write_bytes(b"not yours")
    for method in ("GET", "DELETE"):
        answer = httpx.request(method, f"{server.url}/collections/%2e%2e/snapshots/x.snapshot")
        assert answer.status_code == 404, (method, answer.text)
    assert outside.read_bytes() == b"not yours"
