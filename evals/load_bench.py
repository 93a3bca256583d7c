"""Load benchmark of the REST server: dense query_points over loopback, concurrent clients.

    python -m evals.load_bench [--n 100000] [--dim 128] [--queries 2000] [--concurrency 8]
                               [--data DIR] [--threads T] [--json FILE]

Builds (or, with --data, reuses) a persistent collection of N seeded Gaussian vectors (Cosine,
one sealed segment after `optimize()`), then runs the same queries (limit 10, no payload):
- `embedded-1`: `hybrid.Client` in this process, one thread, one query at a time;
- `embedded`: the same Client with `concurrency` threads;
- `server`: `python -m api` in a subprocess on a free 127.0.0.1 port, `concurrency` client
  threads, each with its own keep-alive connection, POST /collections/bench/points/query.
For each: requests/s = queries / wall time, p50/p99 = per-request latency percentiles. The
ratio is server req/s over embedded req/s at the same concurrency. Both modes must return the
same ids. Bounded: `--queries` requests per mode, loopback only. Both sides use one BLAS thread
per call (as `api.app.serve` sets), so neither loses to BLAS oversubscription. The load
generator runs on the same cores as the server, so the server figure is a lower bound.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import msgspec
import numpy as np

COLLECTION = "bench"
PATH = f"/collections/{COLLECTION}/points/query"


@dataclass
class Result:
    mode: str
    clients: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


def build(folder: Path, n: int, dim: int, seed: int) -> None:
    """A persistent collection of n seeded vectors, reused when `folder` already holds it."""
    from hybrid import Client

    marker = folder / "bench.json"
    spec = {"n": n, "dim": dim, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return
    rng = np.random.default_rng(seed)
    with Client(path=folder) as client:
        if client.collection_exists(COLLECTION):
            client.delete_collection(COLLECTION)
        client.create_collection(COLLECTION, vectors_config={"size": dim, "distance": "Cosine"},
                                 optimizers_config={"indexing_threshold": 0})  # seal once, below
        for start in range(0, n, 10_000):
            rows = rng.normal(size=(min(10_000, n - start), dim)).astype(np.float32)
            client.upsert(COLLECTION, {"ids": list(range(start, start + len(rows))), "vectors": rows})
        client.collection(COLLECTION).optimizer.optimize()
    marker.write_text(json.dumps(spec))


def run_concurrently(call: Callable[[int, int], list], n_queries: int, clients: int) -> tuple[float, np.ndarray, list]:
    """call(worker, query index) -> ids, from `clients` threads sharing the queries round-robin.

    Returns (wall seconds, per-request latencies in seconds, ids per query)."""
    latencies = np.zeros(n_queries)
    ids: list = [None] * n_queries
    start_line = threading.Barrier(clients + 1)

    def worker(w: int) -> None:
        start_line.wait()
        for i in range(w, n_queries, clients):
            t = time.perf_counter()
            ids[i] = call(w, i)
            latencies[i] = time.perf_counter() - t

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(clients)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - began, latencies, ids


def summarise(mode: str, clients: int, seconds: float, latencies: np.ndarray) -> Result:
    ms = latencies * 1000
    return Result(mode, clients, latencies.size, round(seconds, 3), round(latencies.size / seconds, 1),
                  round(float(np.percentile(ms, 50)), 2), round(float(np.percentile(ms, 99)), 2))


def bench_embedded(folder: Path, queries: np.ndarray, clients: int) -> tuple[list[Result], list]:
    from hybrid import Client

    with Client(path=folder) as client:
        def call(_: int, i: int) -> list:
            return [p.id for p in client.query_points(COLLECTION, queries[i], limit=10, with_payload=False).points]

        for i in range(min(20, len(queries))):  # warm-up (lazy loads, BLAS threads)
            call(0, i)
        seq = summarise("embedded-1", 1, *run_concurrently(call, len(queries), 1)[:2])
        seconds, latencies, ids = run_concurrently(call, len(queries), clients)
        return [seq, summarise("embedded", clients, seconds, latencies)], ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, port: int, threads: Optional[int]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port), "--data", str(folder),
           "--log-level", "warning"]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not become ready")


def bench_server(folder: Path, queries: np.ndarray, clients: int, threads: Optional[int]) -> tuple[Result, list]:
    port = free_port()
    proc = start_server(folder, port, threads)
    bodies = [msgspec.json.encode({"query": q.tolist(), "limit": 10}) for q in queries]
    headers = {"content-type": "application/json"}
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=120) for _ in range(clients)]
    decoder = msgspec.json.Decoder()

    def call(w: int, i: int) -> list:
        conns[w].request("POST", PATH, bodies[i], headers)
        response = conns[w].getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"query {i}: HTTP {response.status} {body[:200]!r}")
        return [p["id"] for p in decoder.decode(body)["result"]["points"]]

    try:
        for i in range(min(20, len(queries))):
            call(0, i)
        seconds, latencies, ids = run_concurrently(call, len(queries), clients)
    finally:
        for conn in conns:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return summarise("server", clients, seconds, latencies), ids


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.load_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, help="server worker threads (default: the server's)")
    parser.add_argument("--data", type=Path, help="folder to build in / reuse (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    from api.app import limit_blas_threads

    limit_blas_threads(1)
    tmp = None if args.data else tempfile.TemporaryDirectory(prefix="load-bench-")
    folder = args.data or Path(tmp.name)  # type: ignore[union-attr]
    started = time.perf_counter()
    build(folder, args.n, args.dim, args.seed)
    print(f"collection: {args.n} x {args.dim} Cosine in {folder} ({time.perf_counter() - started:.1f} s); "
          f"{args.queries} queries, limit 10, {os.cpu_count()} cores")
    queries = np.random.default_rng(args.seed + 1).normal(size=(args.queries, args.dim)).astype(np.float32)
    embedded, local_ids = bench_embedded(folder, queries, args.concurrency)
    server, remote_ids = bench_server(folder, queries, args.concurrency, args.threads)
    same = sum(a == b for a, b in zip(local_ids, remote_ids))
    results = [*embedded, server]
    print(f"{'mode':<12}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for r in results:
        print(f"{r.mode:<12}{r.clients:>8}{r.rps:>10.1f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}")
    ratio = server.rps / embedded[1].rps
    print(f"server / embedded throughput at {args.concurrency} clients: {ratio:.2f}; "
          f"identical results for {same}/{len(queries)} queries")
    if args.json:
        args.json.write_text(json.dumps({"results": [asdict(r) for r in results], "ratio": ratio,
                                         "identical": same, "config": vars(args) | {"data": str(folder),
                                                                                     "json": str(args.json)}},
                                        indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0 if same == len(queries) else 1


if __name__ == "__main__":
    sys.exit(main())
