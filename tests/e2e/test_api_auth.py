"""API keys (full and read-only), and a real server process: keys stay out of its logs, and
SIGTERM shuts it down gracefully with the data flushed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from qdrant_client import models as qm

from hybrid import Client

FULL, READ_ONLY = "full-key-Zq81", "read-key-Xw27"
CREATE = {"vectors": {"size": 2, "distance": "Dot"}}


@pytest.fixture
def keyed(start):
    return start(api_key=FULL, read_only_api_key=READ_ONLY)


def test_keys_grant_access(keyed):
    url = keyed.url
    for public in ("/", "/healthz", "/readyz", "/livez"):  # Qdrant's API-key whitelist
        assert httpx.get(f"{url}{public}").status_code == 200, public
    assert httpx.get(f"{url}/collections").status_code == 401
    assert httpx.get(f"{url}/collections", headers={"api-key": "wrong"}).status_code == 401
    assert httpx.put(f"{url}/collections/a", json=CREATE, headers={"api-key": READ_ONLY}).status_code == 403
    assert httpx.put(f"{url}/collections/a", json=CREATE, headers={"api-key": FULL}).status_code == 200
    assert httpx.put(f"{url}/collections/b", json=CREATE,
                     headers={"Authorization": f"Bearer {FULL}"}).status_code == 200
    assert httpx.get(f"{url}/collections", headers={"Authorization": f"Bearer {READ_ONLY}"}).status_code == 200
    query = httpx.post(f"{url}/collections/a/points/query", json={"query": [1, 0]}, headers={"api-key": READ_ONLY})
    assert query.status_code == 200  # searches are POSTs, and reads
    denied = httpx.post(f"{url}/collections/a/points/delete", json={"points": [1]}, headers={"api-key": READ_ONLY})
    assert denied.status_code == 403 and denied.json()["status"]["error"]
    for probe in ("/healthz", "/livez", "/readyz", "/openapi.json"):
        assert httpx.get(f"{url}{probe}").status_code == 200, probe


def test_qdrant_client_with_keys(keyed, connect, refused):
    import warnings

    with warnings.catch_warnings():  # "Api key is used with an insecure connection"
        warnings.simplefilter("ignore")
        writer, reader = connect(keyed.url, api_key=FULL), connect(keyed.url, api_key=READ_ONLY)
        writer.create_collection("kc", vectors_config=qm.VectorParams(size=2, distance=qm.Distance.DOT))
        writer.upsert("kc", [qm.PointStruct(id=1, vector=[1.0, 0.0])])
        assert reader.count("kc").count == 1
        with refused(403):
            reader.upsert("kc", [qm.PointStruct(id=2, vector=[0.0, 1.0])])


def _wait_ready(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read() if proc.stdout else "server exited")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def test_server_process_keeps_keys_out_of_logs_and_shuts_down_gracefully(tmp_path: Path, free_tcp_port: int):
    url = f"http://127.0.0.1:{free_tcp_port}"
    env = {**os.environ, "HYBRID_API_KEY": FULL, "HYBRID_READ_ONLY_API_KEY": READ_ONLY,
           "HYBRID_WARM_UP": "false",  # no text queries here: skip loading the models
           "HYBRID_GRPC_PORT": "0"}  # REST only: Qdrant's gRPC port 6334 may be taken
    proc = subprocess.Popen([sys.executable, "-m", "api", "--port", str(free_tcp_port), "--data", str(tmp_path / "data"),
                             "--log-level", "trace"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        _wait_ready(url, proc)
        full, read_only = {"api-key": FULL}, {"Authorization": f"Bearer {READ_ONLY}"}
        assert httpx.put(f"{url}/collections/p", json=CREATE, headers=full).status_code == 200
        points = {"points": [{"id": i, "vector": [i, 1.0]} for i in range(5)]}
        assert httpx.put(f"{url}/collections/p/points?wait=true", json=points, headers=full).status_code == 200
        assert httpx.put(f"{url}/collections/p/points", json=points, headers=read_only).status_code == 403
        assert httpx.get(f"{url}/collections", headers={"api-key": "guess-" + FULL}).status_code == 401
        assert httpx.post(f"{url}/collections/p/points/query", content=b"{", headers=full).status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), output  # uvicorn re-raises the signal after shutdown
    assert "data flushed, client closed" in output
    assert "GET /collections" in output  # the access log was on
    for secret in (FULL, READ_ONLY):
        assert secret not in output
    with Client(path=tmp_path / "data") as reopened:  # lock released, writes durable
        assert reopened.count("p").count == 5
