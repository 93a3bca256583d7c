"""`hybrid serve` on a data folder with one damaged collection: it is red over REST, naming
the damaged file; the collection beside it serves as before."""

from __future__ import annotations

import httpx

import numpy as np

from hybrid import Client


def _points(n: int) -> list[dict]:
    rng = np.random.default_rng(3)
    return [{"id": i, "vector": {"d": rng.normal(size=8).tolist(), "s": {"indices": [i % 7], "values": [1.0]}},
             "payload": {"i": i}} for i in range(n)]


def test_a_damaged_collection_is_red_and_the_other_serves(tmp_path, start, connect) -> None:
    data = tmp_path / "data"
    client = Client(path=data)
    for name in ("bad", "good"):
        client.create_collection(name, vectors_config={"d": {"size": 8, "distance": "Cosine"}},
                                 sparse_vectors_config={"s": {"modifier": "idf"}},
                                 optimizers_config={"indexing_threshold": 1})
        client.upsert(name, _points(60))
        client.collection(name).optimizer.wait()
    client.close()
    segment = next(p for p in (data / "collections/bad/segments").iterdir() if p.is_dir())
    keys = segment / "keys.npy"
    raw = bytearray(keys.read_bytes())
    raw[-3] ^= 0x10
    keys.write_bytes(bytes(raw))

    served = Client(path=data)
    running = start(served)
    try:
        info = httpx.get(f"{running.url}/collections/bad").json()["result"]
        assert info["status"] == "red" and str(keys) in info["optimizer_status"]["error"]
        count = httpx.post(f"{running.url}/collections/bad/points/count", json={})
        assert count.status_code == 500 and str(keys) in count.json()["status"]["error"]
        remote = connect(running.url)
        assert remote.get_collection("good").status.value == "green"
        assert remote.count("good").count == 60
        assert len(remote.query_points("good", query=[0.1] * 8, using="d", limit=5).points) == 5
    finally:
        served.close()
