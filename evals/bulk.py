"""Bulk-load benchmark, the whole job: upsert N points through the public API, wait until the
optimizer is done (green: everything sealed is indexed and merged), then recall@10 and QPS at
the smallest ef reaching the target recall, and the peak RSS; next to qdrant-edge-py on the same
data (its ingest, then `EdgeShard.optimize()`, which returns when nothing is left to do).

    python -m evals.bulk --data DIR [--n N] [--batch 1000] [--engines ours,qdrant-edge] [--json out.json]

DIR is `gen_vectors.py` output (base.npy, queries.npy, gt_ids.npy). Both engines run with their
default configuration (Cosine, HNSW m=16 / ef_construct=100, default optimizer thresholds),
each in its own child process one after the other, so the peak RSS is per engine. Queries run
one at a time from one thread (QPS = queries / wall seconds).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EFS = (16, 32, 64, 128, 256, 512)


def _dataset(folder: Path, n: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = np.load(folder / "base.npy", mmap_mode="r")
    queries = np.load(folder / "queries.npy").astype(np.float32)
    if n is None or n >= base.shape[0]:
        return np.ascontiguousarray(base, dtype=np.float32), queries, np.load(folder / "gt_ids.npy")[:, :10]
    base = np.ascontiguousarray(base[:n], dtype=np.float32)
    truth = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :10]
    return base, queries, truth


def _sweep(search, queries: np.ndarray, truth: np.ndarray, target: float) -> dict:
    """recall@10 and QPS per ef until the target recall is reached."""
    for q in queries[:20]:
        search(q, EFS[0])  # warm-up
    rows = []
    for ef in EFS:
        start = time.perf_counter()
        found = [search(q, ef) for q in queries]
        seconds = time.perf_counter() - start
        recall = float(np.mean([np.intersect1d(f, t).size / 10 for f, t in zip(found, truth)]))
        rows.append({"ef": ef, "recall": round(recall, 4), "qps": round(len(queries) / seconds, 1)})
        if recall >= target:
            break
    return {"sweep": rows, "at_target": rows[-1]}


def run_ours(base: np.ndarray, queries: np.ndarray, truth: np.ndarray, batch: int, folder: Path,
             target: float) -> dict:
    from hybrid import Client

    client = Client(path=folder)
    client.create_collection("bench", vectors_config={"size": base.shape[1], "distance": "Cosine"})
    start = time.perf_counter()
    for s in range(0, base.shape[0], batch):
        client.upsert("bench", {"ids": list(range(s, min(s + batch, base.shape[0]))), "vectors": base[s:s + batch]})
    ingest = time.perf_counter() - start
    while (info := client.get_collection("bench")).status != "green":
        if info.status == "red":
            raise RuntimeError(f"optimizer failed: {info.optimizer_status}")
        time.sleep(0.05)
    green = time.perf_counter() - start
    coll = client.collection("bench")
    layout = {"segments": info.segments_count, "indexed_vectors": info.indexed_vectors_count,
              "points": info.points_count, "segment_sizes": [s.live_count for s in coll.segments]}

    def search(q: np.ndarray, ef: int) -> np.ndarray:
        points = client.query_points("bench", query=q, limit=10, with_payload=False,
                                     search_params={"hnsw_ef": ef}).points
        return np.array([p.id for p in points])

    out = {"ingest_s": round(ingest, 2), "time_to_green_s": round(green, 2), "layout": layout,
           **_sweep(search, queries, truth, target)}
    client.close()
    return out


def run_edge(base: np.ndarray, queries: np.ndarray, truth: np.ndarray, batch: int, folder: Path,
             target: float) -> dict:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(str(folder), qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=base.shape[1], distance=qe.Distance.Cosine)))
    start = time.perf_counter()
    for s in range(0, base.shape[0], batch):
        rows = base[s:s + batch].tolist()
        shard.update(qe.UpdateOperation.upsert_points([qe.Point(s + i, row) for i, row in enumerate(rows)]))
    ingest = time.perf_counter() - start
    shard.optimize()
    green = time.perf_counter() - start
    info = shard.info()
    layout = {"segments": info.segments_count, "indexed_vectors": info.indexed_vectors_count,
              "points": info.points_count}

    def search(q: np.ndarray, ef: int) -> np.ndarray:
        hits = shard.query(qe.QueryRequest(limit=10, query=qe.Query.Nearest(q.tolist()),
                                           params=qe.SearchParams(hnsw_ef=ef)))
        return np.array([p.id for p in hits])

    out = {"ingest_s": round(ingest, 2), "time_to_green_s": round(green, 2), "layout": layout,
           **_sweep(search, queries, truth, target)}
    shard.close()
    return out


RUNNERS = {"ours": run_ours, "qdrant-edge": run_edge}


def _child(engine: str, args: argparse.Namespace) -> None:
    base, queries, truth = _dataset(args.data, args.n)
    work = Path(tempfile.mkdtemp(prefix=f"bulk-{engine}-"))
    try:
        result = RUNNERS[engine](base, queries, truth, args.batch, work / "data", args.target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="gen_vectors.py output folder")
    parser.add_argument("--n", type=int, help="use the first N base vectors (exact truth recomputed)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--target", type=float, default=0.95, help="recall@10 to reach")
    parser.add_argument("--engines", default="ours,qdrant-edge")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args)
        return {}
    results = {}
    for engine in args.engines.split(","):
        cmd = [sys.executable, "-m", "evals.bulk", "--child", engine, "--data", str(args.data),
               "--batch", str(args.batch), "--target", str(args.target)] + (["--n", str(args.n)] if args.n else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{engine} failed:\n{done.stderr[-3000:]}")
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{'engine':<13}{'ingest s':>9}{'green s':>9}{'ef':>5}{'recall':>8}{'QPS':>8}{'RSS MB':>8}  layout")
    for engine, r in results.items():
        at = r["at_target"]
        print(f"{engine:<13}{r['ingest_s']:>9}{r['time_to_green_s']:>9}{at['ef']:>5}{at['recall']:>8}"
              f"{at['qps']:>8}{r['peak_rss_mb']:>8}  {r['layout']}")
    if {"ours", "qdrant-edge"} <= set(results):
        ours, edge = results["ours"], results["qdrant-edge"]
        results["ratios"] = {"time_to_green_ours_over_edge": round(ours["time_to_green_s"] / edge["time_to_green_s"], 2),
                             "qps_ours_over_edge": round(ours["at_target"]["qps"] / edge["at_target"]["qps"], 2)}
        print(results["ratios"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
