"""Ingestion benchmark: points/s upserting N x D float32 points into Client(path), batches of 256,
next to qdrant-edge-py (Qdrant's engine embedded in Python) on the same data, same process.

    python -m evals.ingest [--n 100000] [--dim 384] [--batch 256] [--json out.json]

Both engines get their inputs prepared before the clock starts (ours: columnar batches with a
numpy matrix; edge: lists of `Point`). Ours fsyncs its WAL before every upsert returns; edge is
flushed once at the end, inside the timing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm


def _data(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim), dtype=np.float32)


def bench_ours(data: np.ndarray, batch: int, folder: Path) -> float:
    from hybrid import Client

    client = Client(path=folder)
    client.create_collection("bench", vectors_config={"size": data.shape[1], "distance": "Cosine"},
                             optimizers_config={"indexing_threshold": 0})
    batches = [{"ids": np.arange(s, min(s + batch, len(data))), "vectors": data[s:s + batch],
                "payloads": [{"i": int(i)} for i in range(s, min(s + batch, len(data)))]}
               for s in range(0, len(data), batch)]
    start = time.perf_counter()
    for b in tqdm(batches, desc="hybrid", leave=False):
        client.upsert("bench", b)
    elapsed = time.perf_counter() - start
    assert client.count("bench").count == len(data)
    client.close()
    return elapsed


def bench_edge(data: np.ndarray, batch: int, folder: Path) -> float | None:
    try:
        import qdrant_edge as qe
    except ImportError:
        return None
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=data.shape[1], distance=qe.Distance.Cosine))
    shard = qe.EdgeShard.create(str(folder), config)
    rows = data.tolist()
    batches = [[qe.Point(i, rows[i], {"i": i}) for i in range(s, min(s + batch, len(data)))]
               for s in range(0, len(data), batch)]
    start = time.perf_counter()
    for b in tqdm(batches, desc="qdrant-edge", leave=False):
        shard.update(qe.UpdateOperation.upsert_points(b))
    shard.flush()
    elapsed = time.perf_counter() - start
    shard.close()
    return elapsed


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    data = _data(args.n, args.dim)
    work = Path(tempfile.mkdtemp(prefix="ingest-"))
    try:
        ours = bench_ours(data, args.batch, work / "ours")
        edge = bench_edge(data, args.batch, work / "edge")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"n": args.n, "dim": args.dim, "batch": args.batch,
              "hybrid_points_per_s": args.n / ours,
              "qdrant_edge_points_per_s": args.n / edge if edge else None,
              "ratio_hybrid_over_edge": (edge / ours) if edge else None}
    print(f"{'engine':<14}{'seconds':>10}{'points/s':>12}")
    print(f"{'hybrid':<14}{ours:>10.2f}{args.n / ours:>12,.0f}")
    if edge:
        print(f"{'qdrant-edge':<14}{edge:>10.2f}{args.n / edge:>12,.0f}")
        print(f"ratio hybrid/qdrant-edge (points/s): {edge / ours:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
