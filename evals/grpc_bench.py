"""gRPC vs REST benchmark of the server, through the real qdrant-client.

    python -m evals.grpc_bench [--n 100000] [--dim 384] [--batch 256] [--queries 2000]
                               [--concurrency 8] [--out out/grpc_bench]

Upload: N seeded Gaussian float32 points (Cosine, no payload, indexing off so only the upload is
timed) with `QdrantClient.upload_points(batch_size=256)` to `python -m api` (in memory, a
subprocess on free 127.0.0.1 ports) over REST and over gRPC (`prefer_grpc=True`), next to the
embedded `hybrid.Client().upsert` of the same batches and qdrant-edge-py (Qdrant's engine
embedded, same process) as the reference. Query: `--concurrency` threads, each with its own
QdrantClient, run `query_points(limit=10)` over a 10,000-point collection, over REST then gRPC;
both must return the same ids. Points/s and requests/s are reported with their ratios, in
`grpc_bench.json` and `grpc_bench.png` under --out. The load generator shares the cores with the
server, so the server figures are lower bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
from tqdm import tqdm

from evals.load_bench import free_port, run_concurrently

QUERY_POINTS = 10_000


def data(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)


def points(rows: np.ndarray, desc: str) -> Iterator[Any]:
    """qdrant-client PointStructs made as they are consumed (N x 384 lists would not fit twice)."""
    from qdrant_client import models as qm

    for i in tqdm(range(len(rows)), desc=desc, unit="pt", unit_scale=True, mininterval=1.0):
        yield qm.PointStruct(id=i, vector=rows[i].tolist())


def serve(port: int, grpc_port: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "HYBRID_WARM_UP": "false", "HYBRID_GRPC_PORT": str(grpc_port)}
    proc = subprocess.Popen([sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not become ready")


def connect(port: int, grpc_port: int, transport: str) -> Any:
    from qdrant_client import QdrantClient

    return QdrantClient(url=f"http://127.0.0.1:{port}", grpc_port=grpc_port, prefer_grpc=transport == "grpc",
                        timeout=300)


def create(client: Any, name: str, dim: int) -> None:
    from qdrant_client import models as qm

    client.create_collection(name, vectors_config=qm.VectorParams(size=dim, distance=qm.Distance.COSINE),
                             optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=0))


def upload_remote(client: Any, name: str, rows: np.ndarray, batch: int, transport: str) -> float:
    create(client, name, rows.shape[1])
    start = time.perf_counter()
    client.upload_points(name, points(rows, f"upload {transport}"), batch_size=batch, parallel=1, wait=True)
    seconds = time.perf_counter() - start
    assert client.count(name).count == len(rows)
    client.delete_collection(name)
    return seconds


def upload_embedded(rows: np.ndarray, batch: int) -> float:
    from hybrid import Client

    with Client() as client:
        client.create_collection("bench", vectors_config={"size": rows.shape[1], "distance": "Cosine"},
                                 optimizers_config={"indexing_threshold": 0})
        start = time.perf_counter()
        for s in tqdm(range(0, len(rows), batch), desc="upload embedded", unit="batch", mininterval=1.0):
            client.upsert("bench", [{"id": i, "vector": rows[i].tolist()} for i in range(s, min(s + batch, len(rows)))])
        seconds = time.perf_counter() - start
        assert client.count("bench").count == len(rows)
    return seconds


def upload_edge(rows: np.ndarray, batch: int) -> Optional[float]:
    try:
        import qdrant_edge as qe
    except ImportError:
        return None
    folder = tempfile.mkdtemp(prefix="grpc-bench-edge-")
    try:
        config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=rows.shape[1], distance=qe.Distance.Cosine))
        shard = qe.EdgeShard.create(folder, config)
        start = time.perf_counter()
        for s in tqdm(range(0, len(rows), batch), desc="upload qdrant-edge", unit="batch", mininterval=1.0):
            shard.update(qe.UpdateOperation.upsert_points(
                [qe.Point(i, rows[i].tolist(), {}) for i in range(s, min(s + batch, len(rows)))]))
        shard.flush()
        seconds = time.perf_counter() - start
        shard.close()
        return seconds
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def query(port: int, grpc_port: int, transport: str, queries: np.ndarray, clients: int) -> tuple[dict, list]:
    connections = [connect(port, grpc_port, transport) for _ in range(clients)]
    bodies = [q.tolist() for q in queries]
    bar = tqdm(total=len(queries), desc=f"query {transport}", unit="q", mininterval=1.0)

    def call(w: int, i: int) -> list:
        found = [p.id for p in connections[w].query_points("query", query=bodies[i], limit=10).points]
        bar.update(1)
        return found

    try:
        for w in range(clients):  # warm-up: connections open, lazy loads done
            call(w, w)
        bar.reset()
        seconds, latencies, ids = run_concurrently(call, len(queries), clients)
    finally:
        bar.close()
        for c in connections:
            c.close()
    ms = latencies * 1000
    return {"transport": transport, "clients": clients, "requests": len(queries), "seconds": round(seconds, 3),
            "rps": round(len(queries) / seconds, 1), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}, ids


def plot(result: dict, path: Path) -> None:
    from evals.plots import _pyplot

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    upload = {k: v for k, v in result["upload_points_per_s"].items() if v}
    left.bar(list(upload), list(upload.values()), color=["#4c72b0", "#dd8452", "#55a868", "#8172b2"][:len(upload)])
    left.set_title(f"upload_points, {result['n']:,} x {result['dim']}, batch {result['batch']}")
    left.set_ylabel("points / s")
    rps = {q["transport"]: q["rps"] for q in result["query"]}
    right.bar(list(rps), list(rps.values()), color=["#4c72b0", "#dd8452"])
    right.set_title(f"query_points, {result['concurrency']} concurrent clients")
    right.set_ylabel("requests / s")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m evals.grpc_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("out/grpc_bench"))
    args = parser.parse_args(argv)

    from qdrant_client import models as qm

    from api.app import limit_blas_threads

    limit_blas_threads(1)
    rows = data(args.n, args.dim)
    queries = data(args.queries, args.dim, seed=1)
    seconds: dict[str, Optional[float]] = {"embedded": upload_embedded(rows, args.batch)}
    port, grpc_port = free_port(), free_port()
    proc = serve(port, grpc_port)
    try:
        for transport in ("rest", "grpc"):
            client = connect(port, grpc_port, transport)
            seconds[transport] = upload_remote(client, f"upload_{transport}", rows, args.batch, transport)
            client.close()
        client = connect(port, grpc_port, "grpc")
        client.create_collection("query", vectors_config=qm.VectorParams(size=args.dim, distance=qm.Distance.COSINE))
        client.upload_points("query", points(rows[:QUERY_POINTS], "query collection"), batch_size=args.batch, wait=True)
        client.close()
        rest, rest_ids = query(port, grpc_port, "rest", queries, args.concurrency)
        grpc_, grpc_ids = query(port, grpc_port, "grpc", queries, args.concurrency)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    seconds["qdrant-edge"] = upload_edge(rows, args.batch)
    same = sum(a == b for a, b in zip(rest_ids, grpc_ids))
    rate = {k: (args.n / v if v else None) for k, v in seconds.items()}
    result = {
        "n": args.n, "dim": args.dim, "batch": args.batch, "concurrency": args.concurrency, "cores": os.cpu_count(),
        "upload_seconds": seconds, "upload_points_per_s": rate,
        "upload_ratios": {"grpc_over_rest": rate["grpc"] / rate["rest"],
                          "grpc_over_embedded": rate["grpc"] / rate["embedded"],
                          "rest_over_embedded": rate["rest"] / rate["embedded"],
                          "embedded_over_qdrant_edge": (rate["embedded"] / rate["qdrant-edge"]
                                                        if rate["qdrant-edge"] else None)},
        "query": [rest, grpc_], "query_ratio_grpc_over_rest": grpc_["rps"] / rest["rps"],
        "identical_query_results": f"{same}/{len(queries)}",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grpc_bench.json").write_text(json.dumps(result, indent=2))
    plot(result, args.out / "grpc_bench.png")
    print(f"{'upload':<14}{'seconds':>10}{'points/s':>12}")
    for name, s in seconds.items():
        if s:
            print(f"{name:<14}{s:>10.2f}{args.n / s:>12,.0f}")
    print("upload ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in result["upload_ratios"].items() if v))
    print(f"{'query':<14}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for q in (rest, grpc_):
        print(f"{q['transport']:<14}{q['clients']:>8}{q['rps']:>10.1f}{q['p50_ms']:>9.2f}{q['p99_ms']:>9.2f}")
    print(f"query ratio grpc/rest: {result['query_ratio_grpc_over_rest']:.2f}; "
          f"identical results {same}/{len(queries)}; written to {args.out}")
    return result


if __name__ == "__main__":
    main()
