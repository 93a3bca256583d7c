"""Cluster benchmark: ingest and query throughput, p50/p99 latency, per-shard memory and the
bytes a query moves, for 1 / 3 / 6 shards x replication 1 / 2 on a local 3-node Ray cluster,
next to one node (the embedded engine, `hybrid.Client`, on the same data, same process).

    python -m evals.cluster_bench [--n 20000] [--dim 64] [--queries 200] [--threads 4] [--json FILE]

Every configuration gets the same points (random normal, Cosine, a keyword payload) upserted
in batches of 500 through the coordinator, then the same queries: plain dense top-10 and a
hybrid prefetch (dense + filtered dense) fused with RRF, once the collection is green (no
optimization pending or running, so no index build competes with the queries). Sequential queries give p50/p99
(`ms`); `qps` is measured with --threads concurrent callers. `ratio` = qps / one node's qps.
`rss_mb` is the mean resident memory of a replica's process after ingest (`base_mb`: a replica
of an empty collection); `in_kb`/`out_kb` are the pickled bytes a query receives from / sends to
the shards (leaf results and fetched records / the shipped plan), measured at the coordinator.
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

CONFIGS = [(1, 1), (3, 1), (6, 1), (1, 2), (3, 2), (6, 2)]
TAGS = ["a", "b", "c", "d"]


def _points(base: np.ndarray) -> list[dict]:
    return [{"id": i, "vector": base[i].tolist(), "payload": {"tag": TAGS[i % 4]}} for i in range(len(base))]


def _requests(queries: np.ndarray) -> list[dict]:
    out = []
    for i, q in enumerate(queries.tolist()):
        if i % 2 == 0:
            out.append({"query": q, "limit": 10})
        else:
            flt = {"must": [{"key": "tag", "match": {"value": TAGS[i % 4]}}]}
            out.append({"prefetch": [{"query": q, "limit": 40}, {"query": q, "limit": 40, "filter": flt}],
                        "query": {"fusion": "rrf"}, "limit": 10})
    return out


def _measure(target: Any, name: str, points: list[dict], requests: list[dict], threads: int,
             create: dict) -> dict:
    target.create_collection(name, vectors_config={"size": len(points[0]["vector"]), "distance": "Cosine"}, **create)
    target.create_payload_index(name, "tag", "keyword")
    t0 = time.perf_counter()
    for start in range(0, len(points), 500):
        target.upsert(name, points[start: start + 500])
    ingest = time.perf_counter() - t0
    deadline = time.monotonic() + 600  # queries run once the optimizers are idle (green), on one node and shards alike
    while target.get_collection(name).status != "green" and time.monotonic() < deadline:
        time.sleep(0.5)
    for req in requests[:10]:  # warm-up: kernels compiled, caches filled
        target.query_points(name, **req)
    lat = []
    for req in requests:
        t = time.perf_counter()
        target.query_points(name, **req)
        lat.append(time.perf_counter() - t)
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda r: target.query_points(name, **r), requests))
    qps = len(requests) / (time.perf_counter() - t)
    ms = np.array(lat) * 1000
    return {"ingest_pts_s": round(len(points) / ingest), "qps": round(qps, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


class _Counting:
    """Wraps a ClusterClient's `get` and `on_shards` to count the pickled bytes of a query."""

    def __init__(self, client: Any) -> None:
        self.inbound = 0
        self.lock = threading.Lock()
        get = client.get

        def counted(ref: Any, timeout: float = 120.0) -> Any:
            value = get(ref, timeout)
            with self.lock:
                self.inbound += len(pickle.dumps(value))
            return value

        client.get = counted


def _bytes_per_query(client: Any, name: str, requests: list[dict]) -> tuple[float, float]:
    from hybrid.cluster.reads import PlanningViews
    from hybrid.query.plan import plan
    from hybrid.query.request import QueryRequest

    counter = _Counting(client)
    layout = client.layout(name)
    view = PlanningViews().view(layout)
    out = 0
    for req in requests[:50]:
        client.query_points(name, **req)
        body = {k: v for k, v in req.items()}
        out += len(pickle.dumps((plan(QueryRequest(**body, with_payload=True), view), None))) * len(layout.shards)
    n = min(50, len(requests))
    del client.get
    return counter.inbound / n / 1024, out / n / 1024


def _replica_rss(client: Any, name: str) -> float:
    import psutil

    layout = client.layout(name)
    refs = [client.handle(layout, s.shard_id, r.replica_id).__ray_call__.remote(
        lambda self: psutil.Process().memory_info().rss) for s in layout.shards for r in s.replicas]
    return float(np.mean(client.get(refs))) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.cluster_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import ray
    from ray.cluster_utils import Cluster

    from hybrid import Client
    from hybrid.cluster.coordinator import ClusterClient

    rng = np.random.default_rng(0)
    points = _points(rng.normal(size=(args.n, args.dim)).astype(np.float32))
    requests = _requests(rng.normal(size=(args.queries, args.dim)).astype(np.float32))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        single = Client(path=f"{tmp}/single")
        one = _measure(single, "bench", points, requests, args.threads, {})
        single.close()
        rows.append({"config": "one node", **one, "ratio": 1.0})
        print(rows[-1], flush=True)
        store = 100 * 2**20
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"hybrid_slot_0": 1},
                                                                "object_store_memory": store, "include_dashboard": False})
        for i in (1, 2):
            cluster.add_node(num_cpus=1, resources={f"hybrid_slot_{i}": 1}, object_store_memory=store)
        ray.init(address=cluster.address, namespace="hybrid", include_dashboard=False, log_to_driver=False)
        try:
            client = ClusterClient(data_root=f"{tmp}/cluster", health_interval=0)
            client.create_collection("empty", vectors_config={"size": args.dim, "distance": "Cosine"})
            base = _replica_rss(client, "empty")
            client.delete_collection("empty")
            for shards, replication in CONFIGS:
                name = f"s{shards}r{replication}"
                result = _measure(client, name, points, requests, args.threads,
                                  {"shard_number": shards, "replication_factor": replication,
                                   "write_consistency_factor": replication})
                in_kb, out_kb = _bytes_per_query(client, name, requests)
                rows.append({"config": f"{shards} shards x {replication}", **result,
                             "ratio": round(result["qps"] / one["qps"], 2), "rss_mb": round(_replica_rss(client, name), 1),
                             "base_mb": round(base, 1), "in_kb": round(in_kb, 1), "out_kb": round(out_kb, 1)})
                print(rows[-1], flush=True)
                client.delete_collection(name)
            client.close()
        finally:
            ray.shutdown()
            cluster.shutdown()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
