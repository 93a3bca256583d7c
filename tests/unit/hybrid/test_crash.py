"""SIGKILL a writer at random moments: acknowledged batches survive whole, nothing is half-written."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hybrid import Client

BATCH = 40
CHILD = r"""
import sys
import numpy as np
from hybrid import Client
path, first = sys.argv[1], int(sys.argv[2])
client = Client(path=path)
if not client.collection_exists("c"):
    client.create_collection("c", vectors_config={"size": 16, "distance": "Dot"},
                             sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config={"indexing_threshold": 8})
print("ready", flush=True)
b = first
while True:
    rng = np.random.default_rng(b)
    ids = list(range(b * %(batch)d, (b + 1) * %(batch)d))
    client.upsert("c", {"ids": ids, "vectors": {"": rng.normal(size=(len(ids), 16)).tolist(),
                        "s": [{"indices": [i %% 5], "values": [1.0]} for i in ids]},
                        "payloads": [{"batch": b} for _ in ids]})
    if b %% 3 == 0:
        client.delete("c", [ids[0]])  # deletions are acknowledged writes too
    print(b, flush=True)
    b += 1
""" % {"batch": BATCH}


def _run_and_kill(path: Path, first: int, rnd: random.Random) -> list[int]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(first)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    time.sleep(rnd.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    return [int(line) for line in out.split()]


def test_sigkill_never_loses_acknowledged_batches(tmp_path: Path) -> None:
    rnd = random.Random(1234)
    acked: set[int] = set()
    next_batch = 0
    kills = 0
    while kills < 20:
        done = _run_and_kill(tmp_path, next_batch, rnd)
        kills += 1
        acked.update(done)
        client = Client(path=tmp_path)  # opens without repair
        try:
            if not client.collection_exists("c"):
                assert not acked
                continue
            page, _ = client.scroll("c", limit=10**6, with_payload=True)
            present: dict[int, set[int]] = {}
            for rec in page:
                present.setdefault(rec.payload["batch"], set()).add(rec.id)
                assert rec.id // BATCH == rec.payload["batch"]
            for b in acked:
                expected = set(range(b * BATCH, (b + 1) * BATCH)) - ({b * BATCH} if b % 3 == 0 else set())
                assert present.get(b) == expected, f"acknowledged batch {b} is incomplete"
            for b, got in present.items():  # an unacknowledged batch is whole or absent
                assert len(got) >= BATCH - 1, f"batch {b} is half-written: {len(got)} points"
            hits = client.query_points("c", query=np.ones(16).tolist(), limit=5).points
            assert len(hits) == min(5, len(page))
            next_batch = max(present, default=-1) + 1
        finally:
            client.close()
    assert len(acked) > 20  # the writer made real progress between kills
