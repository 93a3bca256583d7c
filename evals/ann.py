"""Dense ANN benchmark: recall@k, QPS, latency, build time and memory per engine and ef.

    python -m evals.ann --data DIR [--engines ours,qdrant-edge] [--ef 16,32,64,128,256]
                        [--batch] [--quantization int8 [--on-disk]] [--n N] [--json FILE]

DIR is a `gen_vectors.py` output (base.npy, queries.npy, gt_ids.npy; Cosine). With --n the
first N base rows are used and the ground truth is recomputed exactly. Every engine builds
with the same m / ef_construct in one thread, then answers the queries one at a time in one
thread (and, with --batch, in calls of --batch-size queries). recall@k = |found & true| / k,
averaged over queries; qps = queries / summed latency, cpu_qps = queries / process CPU time
(all threads; steadier than wall time on a shared machine); p50/p99 are per-query latencies.

Memory: after the build the engine is reopened from disk (as a restarted server would), so
`index_rss_mb` is the resident memory the loaded index adds to the process (RSS delta from
just before the reload to after the last query; the allocator may reuse freed memory, so
small indexes can read low), `rss_mb` the process total, `index_mb` the bytes the engine
reports for its graph and codes. With --on-disk
the original vectors stay in a file (np.memmap for ours, mmap for qdrant-edge).

Engines: `ours` (indexes.dense.HnswIndex directly), `hybrid` (the whole engine through
`hybrid.Client`) and `qdrant-edge`; each is a small class with build / release / reopen /
search / search_batch / close.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import psutil


@dataclass(frozen=True)
class BenchConfig:
    """What every engine is asked to build and how it is queried."""

    m: int = 16
    ef_construct: int = 100
    limit: int = 10
    quantization: str | None = None  # None or "int8"
    quantile: float | None = None  # None: full min..max range (Qdrant's default)
    oversampling: float = 1.0
    on_disk: bool = False


@dataclass
class Dataset:
    base: np.ndarray
    queries: np.ndarray
    truth: np.ndarray  # (n_queries, >= limit) exact best ids


class Engine(Protocol):
    name: str

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None: ...

    def release(self) -> None:
        """Drop everything held in memory; the built index stays on disk."""

    def reopen(self) -> None:
        """Load the index back from disk."""

    def index_bytes(self) -> int | None:
        """Bytes the engine reports for its index (graph, codes), if it can tell."""

    def search(self, query: np.ndarray, limit: int, ef: int) -> np.ndarray: ...

    def search_batch(self, queries: np.ndarray, limit: int, ef: int) -> list[np.ndarray]: ...

    def close(self) -> None: ...


class OursEngine:
    """`indexes.dense.HnswIndex` directly (no engine overhead)."""

    name = "ours"

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None:
        from indexes.dense import HnswIndex, HnswParams, ScalarQuantization

        self._config, self._dir = config, workdir
        quantization = ScalarQuantization(config.quantile) if config.quantization else None
        vectors = base
        if config.on_disk:
            np.save(workdir / "vectors.npy", base)
            vectors = np.load(workdir / "vectors.npy", mmap_mode="r")
        params = HnswParams(m=config.m, ef_construct=config.ef_construct)
        self._index = HnswIndex.build(vectors, "Cosine", params, quantization)
        self._index.save(workdir / "hnsw")
        self._vectors = None if config.on_disk else base

    def release(self) -> None:
        self._index = None

    def reopen(self) -> None:
        from indexes.dense import HnswIndex

        vectors = self._vectors
        if vectors is None:
            vectors = np.load(self._dir / "vectors.npy", mmap_mode="r")
        self._index = HnswIndex.load(self._dir / "hnsw", vectors)

    def index_bytes(self) -> int | None:
        return self._index.nbytes

    def search(self, query: np.ndarray, limit: int, ef: int) -> np.ndarray:
        return self._index.search(query, limit, ef=ef, oversampling=self._config.oversampling).offsets

    def search_batch(self, queries: np.ndarray, limit: int, ef: int) -> list[np.ndarray]:
        hits = self._index.search_batch(queries, limit, ef=ef, oversampling=self._config.oversampling)
        return [h.offsets for h in hits]

    def close(self) -> None:
        self._index = None


class QdrantEdgeEngine:
    """qdrant-edge-py: one segment, one indexing thread, one search thread."""

    name = "qdrant-edge"

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None:
        import qdrant_edge as qe

        self._qe, self._config, self._path = qe, config, str(workdir / "shard")
        quantization = None
        if config.quantization:
            quantization = qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=config.quantile,
                                                       always_ram=True)
        self._edge_config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=base.shape[1], distance=qe.Distance.Cosine,
                                        on_disk=config.on_disk, quantization_config=quantization),
            hnsw_config=qe.HnswIndexConfig(m=config.m, ef_construct=config.ef_construct,
                                           full_scan_threshold=1, max_indexing_threads=1),
            optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, max_segment_size=1 << 40,
                                               indexing_threshold=1),
            max_search_threads=1, wal_enabled=False)
        self._shard = qe.EdgeShard.create(self._path, self._edge_config)
        for start in range(0, base.shape[0], 2048):
            points = [qe.Point(start + i, row.tolist()) for i, row in enumerate(base[start:start + 2048])]
            self._shard.update(qe.UpdateOperation.upsert_points(points))
        self._shard.optimize()
        self._shard.flush()

    def release(self) -> None:
        self._shard.close()
        self._shard = None

    def reopen(self) -> None:
        self._shard = self._qe.EdgeShard.load(self._path, self._edge_config)

    def index_bytes(self) -> int | None:
        return None

    def _request(self, query: np.ndarray, limit: int, ef: int):
        qe = self._qe
        quantization = None
        if self._config.quantization:
            quantization = qe.QuantizationSearchParams(rescore=True, oversampling=self._config.oversampling)
        return qe.QueryRequest(limit=limit, query=qe.Query.Nearest(query.tolist()),
                               params=qe.SearchParams(hnsw_ef=ef, quantization=quantization))

    def search(self, query: np.ndarray, limit: int, ef: int) -> np.ndarray:
        return np.array([p.id for p in self._shard.query(self._request(query, limit, ef))])

    def search_batch(self, queries: np.ndarray, limit: int, ef: int) -> list[np.ndarray]:
        batch = self._qe.QueryBatchRequest([self._request(q, limit, ef) for q in queries])
        return [np.array([p.id for p in hits]) for hits in self._shard.query_batch(batch)]

    def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
        self._shard = None


class HybridEngine:
    """The whole engine, embedded and persistent (`hybrid.Client`), as an application uses it:
    one collection, every point upserted, then optimised into one sealed segment."""

    name = "hybrid"

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None:
        from hybrid import Client

        self._config, self._path = config, workdir / "client"
        self._params: dict = {}
        quantization = None
        if config.quantization:
            quantization = {"scalar": {"type": "int8", "quantile": config.quantile, "always_ram": True}}
            self._params["quantization"] = {"rescore": True, "oversampling": config.oversampling}
        self._client = Client(path=self._path)
        self._client.create_collection(
            "bench", vectors_config={"size": base.shape[1], "distance": "Cosine", "on_disk": config.on_disk},
            hnsw_config={"m": config.m, "ef_construct": config.ef_construct},
            optimizers_config={"indexing_threshold": 0}, quantization_config=quantization)
        for start in range(0, base.shape[0], 10_000):
            rows = base[start:start + 10_000]
            self._client.upsert("bench", {"ids": list(range(start, start + len(rows))), "vectors": rows})
        self._client.collection("bench").optimizer.optimize()

    def release(self) -> None:
        self._client.close()
        self._client = None

    def reopen(self) -> None:
        from hybrid import Client

        self._client = Client(path=self._path)

    def index_bytes(self) -> int | None:
        return None

    def search(self, query: np.ndarray, limit: int, ef: int) -> np.ndarray:
        response = self._client.query_points("bench", query=query, limit=limit, with_payload=False,
                                             search_params={"hnsw_ef": ef, **self._params})
        return np.array([p.id for p in response.points])

    def search_batch(self, queries: np.ndarray, limit: int, ef: int) -> list[np.ndarray]:
        requests = [{"query": q, "limit": limit, "with_payload": False,
                     "params": {"hnsw_ef": ef, **self._params}} for q in queries]
        return [np.array([p.id for p in r.points]) for r in self._client.query_batch_points("bench", requests)]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None


ENGINES: dict[str, type] = {"ours": OursEngine, "qdrant-edge": QdrantEdgeEngine, "hybrid": HybridEngine}


def load_dataset(folder: Path, n: int | None = None, n_queries: int | None = None,
                 limit: int = 10) -> Dataset:
    """gen_vectors output; a base prefix of n rows gets exact ground truth recomputed."""
    base = np.load(folder / "base.npy", mmap_mode="r")
    queries = np.load(folder / "queries.npy")[:n_queries]
    if n is None or n >= base.shape[0]:
        return Dataset(np.ascontiguousarray(base), queries, np.load(folder / "gt_ids.npy")[:len(queries)])
    base = np.ascontiguousarray(base[:n])
    scores = queries @ base.T
    truth = np.argsort(-scores, axis=1, kind="stable")[:, :limit]
    return Dataset(base, queries, truth)


def recall_at(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] & truth[:k]| / k."""
    return float(np.mean([np.intersect1d(f[:k], t[:k]).size / k for f, t in zip(found, truth)]))


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def run_engine(engine: Engine, data: Dataset, config: BenchConfig, efs: list[int],
               batch_size: int | None) -> list[dict]:
    """Build, reopen, then sweep ef; one result row per ef."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ann-{engine.name}-"))
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        engine.build(data.base, config, workdir)
        build_s, build_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        engine.release()
        gc.collect()
        rss_before = _rss_mb()
        engine.reopen()
        engine.search(data.queries[0], config.limit, efs[0])  # warm-up
        rows = []
        for ef in efs:
            latencies = np.empty(len(data.queries))
            found = []
            cpu = time.process_time()
            for i, query in enumerate(data.queries):
                start = time.perf_counter()
                found.append(engine.search(query, config.limit, ef))
                latencies[i] = time.perf_counter() - start
            cpu = time.process_time() - cpu
            row = {"engine": engine.name, "ef": ef, "recall": recall_at(found, data.truth, config.limit),
                   "qps": len(latencies) / latencies.sum(), "cpu_qps": len(latencies) / max(cpu, 1e-9),
                   "p50_ms": 1e3 * float(np.percentile(latencies, 50)),
                   "p99_ms": 1e3 * float(np.percentile(latencies, 99)),
                   "build_s": build_s, "build_cpu_s": build_cpu_s}
            if batch_size:
                start = time.perf_counter()
                batched = []
                for s in range(0, len(data.queries), batch_size):
                    batched += engine.search_batch(data.queries[s:s + batch_size], config.limit, ef)
                row["batch_qps"] = len(data.queries) / (time.perf_counter() - start)
                row["batch_recall"] = recall_at(batched, data.truth, config.limit)
            row["rss_mb"] = _rss_mb()
            row["index_rss_mb"] = row["rss_mb"] - rss_before
            reported = engine.index_bytes()
            row["index_mb"] = None if reported is None else reported / 2**20
            rows.append(row)
            print(format_table([row], header=not rows[:-1]), flush=True)
        return rows
    finally:
        engine.close()
        shutil.rmtree(workdir, ignore_errors=True)


#: (column, format, width) of the printed table.
_COLUMNS = [("engine", "{}", 11), ("ef", "{}", 5), ("recall", "{:.4f}", 7), ("qps", "{:.0f}", 7),
            ("cpu_qps", "{:.0f}", 7),
            ("p50_ms", "{:.3f}", 7), ("p99_ms", "{:.3f}", 7), ("batch_qps", "{:.0f}", 9),
            ("build_s", "{:.1f}", 7), ("build_cpu_s", "{:.1f}", 11), ("rss_mb", "{:.0f}", 6),
            ("index_rss_mb", "{:.0f}", 12), ("index_mb", "{:.0f}", 8)]


def format_table(rows: list[dict], header: bool = True) -> str:
    """Fixed-width text table of result rows (missing values shown as '-')."""
    lines = ["  ".join(name.rjust(width) for name, _, width in _COLUMNS)] if header else []
    for row in rows:
        cells = ("-" if row.get(name) is None else fmt.format(row[name]) for name, fmt, _ in _COLUMNS)
        lines.append("  ".join(cell.rjust(width) for cell, (_, _, width) in zip(cells, _COLUMNS)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="gen_vectors.py output folder")
    parser.add_argument("--engines", default="ours,qdrant-edge")
    parser.add_argument("--ef", default="16,32,64,128,256")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construct", type=int, default=100)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--n", type=int, default=None, help="use the first N base vectors")
    parser.add_argument("--queries", type=int, default=None, help="use the first N queries")
    parser.add_argument("--batch", action="store_true", help="also time batched queries")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--quantization", choices=["int8"], default=None)
    parser.add_argument("--quantile", type=float, default=None)
    parser.add_argument("--oversampling", type=float, default=1.0)
    parser.add_argument("--on-disk", action="store_true", help="original vectors stay on disk")
    parser.add_argument("--json", type=Path, default=None, help="write the result rows here")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {sorted(ENGINES)}")
    config = BenchConfig(m=args.m, ef_construct=args.ef_construct, limit=args.limit,
                         quantization=args.quantization, quantile=args.quantile,
                         oversampling=args.oversampling, on_disk=args.on_disk)
    data = load_dataset(args.data, args.n, args.queries, args.limit)
    efs = [int(x) for x in args.ef.split(",")]
    print(f"{data.base.shape[0]} x {data.base.shape[1]} base, {len(data.queries)} queries, "
          f"f32 size {data.base.nbytes / 2**20:.0f} MB, config {asdict(config)}", flush=True)
    rows = []
    for name in names:
        rows += run_engine(ENGINES[name](), data, config, efs, args.batch_size if args.batch else None)
    summary = {"config": asdict(config), "n": int(data.base.shape[0]), "dim": int(data.base.shape[1]),
               "float32_mb": data.base.nbytes / 2**20, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return rows


if __name__ == "__main__":
    main()
