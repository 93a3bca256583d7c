"""`hybrid serve` as a user starts it: it opens the data folder and loads the text models before
it listens, saying so, so the first server-side text query fits in qdrant-client's default timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from qdrant_client import QdrantClient, models

from hybrid import Client

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.slow
def test_serve_warms_models_before_listening(tmp_path, pick_ports):
    data = tmp_path / "data"
    with Client(path=data) as client:
        client.create_collection("docs", vectors_config={"size": 384, "distance": "Cosine"})
    port, grpc_port = pick_ports(2)
    log = tmp_path / "server.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "hybrid", "serve", "--data", str(data), "--port", str(port),
                                 "--grpc-port", str(grpc_port)],
                                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 180
        while "Uvicorn running" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert "1 collection(s) open" in text and "text models ready" in text, text
        assert text.index("text models ready") < text.index("Uvicorn running"), text

        # qdrant-client's default timeout; documents are embedded by the server, as Qdrant Cloud does
        remote = QdrantClient(url=f"http://127.0.0.1:{port}", cloud_inference=True)
        remote.upsert("docs", [models.PointStruct(id=1, vector=models.Document(text="a red apple", model=MINILM))])
        hits = remote.query_points("docs", query=models.Document(text="fruit", model=MINILM), limit=1).points
        assert [h.id for h in hits] == [1]
        remote.close()
        over_grpc = QdrantClient(url=f"http://127.0.0.1:{port}", grpc_port=grpc_port, prefer_grpc=True,
                                 cloud_inference=True)
        hits = over_grpc.query_points("docs", query=models.Document(text="fruit", model=MINILM), limit=1).points
        assert [h.id for h in hits] == [1]
        over_grpc.close()
    finally:
        proc.terminate()
        proc.wait(60)
