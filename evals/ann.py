"""Dense ANN benchmark: recall@k, QPS, latency, build time and memory per engine and ef.

    python -m evals.ann --data DIR [--engines ours,qdrant-edge] [--ef 16,32,64,128,256]
                        [--batch] [--quantization int8 [--on-disk]] [--memory] [--n N]
                        [--json FILE]

DIR is a `gen_vectors.py` output (base.npy, queries.npy, gt_ids.npy; Cosine). With --n the
first N base rows are used and the ground truth is recomputed exactly. Every engine builds
with the same m / ef_construct in one thread; then all engines are loaded back from disk and
answer the queries one at a time in one thread, interleaved query by query (and, with --batch,
batch by batch in calls of --batch-size queries) so that they share the machine's load alike.
recall@k = |found & true| / k, averaged over queries; qps = queries / summed latency; p50/p99
are per-query latencies; `ratio` (`batch_ratio`) = qps (batch_qps) / the reference engine's at
the same ef; the reference is the last engine, qdrant-edge when it runs.

Memory (--memory, `serve_rss_mb`): a fresh Python process imports the engine, builds, queries
and drops a small index of the same kind (so compiled kernels and code pages are paid), notes
its RSS (`baseline_mb`), opens the built index from disk, answers every query at the first ef and
reports its resident memory; `serve_index_mb` = serve_rss_mb - baseline_mb is what the index
itself keeps resident (compare with the float32 size of the vectors). With --on-disk the
original vectors stay in a file (np.memmap for ours, mmap for qdrant-edge).

Engines: `ours` (indexes.dense.HnswIndex directly), `hybrid` (the whole engine through
`hybrid.Client`, forced: indexing threshold off, one explicit optimize into one segment, as
qdrant-edge's explicit `optimize()`), `hybrid-auto` (the engine as a user gets it: default
optimizer settings, the automatic optimizer left to finish by itself) and `qdrant-edge`; each
is a small class with build / release / reopen / search / search_batch / close.
"""

from __future__ import annotations

import argparse
import gc
import json
import importlib
import shutil
import subprocess
import sys
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
    dim: int = 0  # vector size (taken from the data)


@dataclass
class Dataset:
    base: np.ndarray
    queries: np.ndarray
    truth: np.ndarray  # (n_queries, >= limit) exact best ids


class Engine(Protocol):
    name: str
    modules: tuple[str, ...]  # what a serving process imports before it opens the index

    def attach(self, config: BenchConfig, workdir: Path) -> None:
        """Point at an index built in `workdir` (what `build` does first; a serving process
        calls it instead of `build`)."""

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
    modules = ("indexes.dense",)

    def attach(self, config: BenchConfig, workdir: Path) -> None:
        self._config, self._dir = config, workdir

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None:
        from indexes.dense import HnswIndex, HnswParams, ScalarQuantization

        self.attach(config, workdir)
        quantization = ScalarQuantization(config.quantile) if config.quantization else None
        np.save(workdir / "vectors.npy", base)
        vectors = np.load(workdir / "vectors.npy", mmap_mode="r") if config.on_disk else base
        params = HnswParams(m=config.m, ef_construct=config.ef_construct)
        self._index = HnswIndex.build(vectors, "Cosine", params, quantization)
        self._index.save(workdir / "hnsw")

    def release(self) -> None:
        self._index = None

    def reopen(self) -> None:
        from indexes.dense import HnswIndex

        vectors = np.load(self._dir / "vectors.npy", mmap_mode="r" if self._config.on_disk else None)
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
    modules = ("qdrant_edge",)

    def attach(self, config: BenchConfig, workdir: Path) -> None:
        import qdrant_edge as qe

        self._qe, self._config, self._path = qe, config, str(workdir / "shard")
        quantization = None
        if config.quantization:
            quantization = qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=config.quantile,
                                                       always_ram=True)
        self._edge_config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=config.dim, distance=qe.Distance.Cosine,
                                        on_disk=config.on_disk, quantization_config=quantization),
            hnsw_config=qe.HnswIndexConfig(m=config.m, ef_construct=config.ef_construct,
                                           full_scan_threshold=1, max_indexing_threads=1),
            optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, max_segment_size=1 << 40,
                                               indexing_threshold=1),
            max_search_threads=1, wal_enabled=False)
        self._shard = None

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None:
        self.attach(config, workdir)
        qe = self._qe
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
    modules = ("hybrid",)
    #: Labelled "forced": indexing threshold off, then one explicit optimize into one segment.
    optimizers: dict | None = {"indexing_threshold": 0}

    def attach(self, config: BenchConfig, workdir: Path) -> None:
        self._config, self._path = config, workdir / "client"
        self._params: dict = {}
        if config.quantization:
            self._params["quantization"] = {"rescore": True, "oversampling": config.oversampling}
        self._client = None

    def build(self, base: np.ndarray, config: BenchConfig, workdir: Path) -> None:
        from hybrid import Client

        self.attach(config, workdir)
        quantization = None
        if config.quantization:
            quantization = {"scalar": {"type": "int8", "quantile": config.quantile, "always_ram": True}}
        self._client = Client(path=self._path)
        self._client.create_collection(
            "bench", vectors_config={"size": base.shape[1], "distance": "Cosine", "on_disk": config.on_disk},
            hnsw_config={"m": config.m, "ef_construct": config.ef_construct},
            optimizers_config=self.optimizers, quantization_config=quantization)
        for start in range(0, base.shape[0], 10_000):
            rows = base[start:start + 10_000]
            self._client.upsert("bench", {"ids": list(range(start, start + len(rows))), "vectors": rows})
        self.finish_indexing()

    def finish_indexing(self) -> None:
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


class HybridAutoEngine(HybridEngine):
    """The engine as a user gets it: default optimizer settings, points upserted through the
    public API, and the automatic optimizer left to finish (status green) by itself."""

    name = "hybrid-auto"
    optimizers = None

    def finish_indexing(self) -> None:
        deadline = time.monotonic() + 3600
        while self._client.get_collection("bench").status != "green":
            if time.monotonic() > deadline:
                raise RuntimeError("the optimizer did not finish within an hour")
            time.sleep(0.2)


ENGINES: dict[str, type] = {"ours": OursEngine, "qdrant-edge": QdrantEdgeEngine, "hybrid": HybridEngine,
                            "hybrid-auto": HybridAutoEngine}


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


def serving_memory(name: str, config: BenchConfig, workdir: Path, data_dir: Path,
                   n_queries: int | None, ef: int) -> dict:
    """Resident memory of a fresh process that opens the built index and answers the queries."""
    spec = json.dumps({"engine": name, "config": asdict(config), "workdir": str(workdir),
                       "data": str(data_dir), "queries": n_queries, "ef": ef})
    done = subprocess.run([sys.executable, "-c", "import sys; from evals.ann import _serve; _serve(sys.argv[1])",
                           spec], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _serve(spec_json: str) -> None:
    """Child side of `serving_memory`: prints {baseline_mb, serve_rss_mb} as the last line."""
    spec = json.loads(spec_json)
    engine = ENGINES[spec["engine"]]()
    for module in engine.modules:
        importlib.import_module(module)
    config = BenchConfig(**spec["config"])
    _prime(engine, config)
    gc.collect()
    baseline = _rss_mb()
    engine.attach(config, Path(spec["workdir"]))
    engine.reopen()
    for query in np.load(Path(spec["data"]) / "queries.npy")[:spec["queries"]]:
        engine.search(query, config.limit, spec["ef"])
    print(json.dumps({"baseline_mb": baseline, "serve_rss_mb": _rss_mb()}))
    engine.close()


def _prime(engine: Engine, config: BenchConfig, n: int = 8_000) -> None:
    """Build, query and drop a small index of the same kind, so that the runtime's one-time
    costs (compiled kernels, code pages, thread pools) count in the baseline, not the index
    (n * dim float32 passes the engines' default full-scan threshold, so a graph is built)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, config.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory(prefix="ann-prime-") as tmp:
        engine.build(vectors, config, Path(tmp))
        engine.release()
        engine.reopen()
        for query in vectors[:20]:
            engine.search(query, config.limit, 64)
        engine.close()


def _sweep(engines: list[Engine], data: Dataset, config: BenchConfig, ef: int,
           batch_size: int | None) -> list[dict]:
    """One row per engine at one ef; engines alternate query by query (and batch by batch)."""
    n = len(data.queries)
    latencies = np.empty((len(engines), n))
    found: list[list[np.ndarray]] = [[] for _ in engines]
    for engine in engines:
        engine.search(data.queries[0], config.limit, ef)  # warm-up
    for i, query in enumerate(data.queries):
        for e, engine in enumerate(engines):
            start = time.perf_counter()
            found[e].append(engine.search(query, config.limit, ef))
            latencies[e, i] = time.perf_counter() - start
    rows = [{"engine": engine.name, "ef": ef, "recall": recall_at(found[e], data.truth, config.limit),
             "qps": n / latencies[e].sum(),
             "p50_ms": 1e3 * float(np.percentile(latencies[e], 50)),
             "p99_ms": 1e3 * float(np.percentile(latencies[e], 99))} for e, engine in enumerate(engines)]
    if batch_size:
        spent = np.zeros(len(engines))
        batched: list[list[np.ndarray]] = [[] for _ in engines]
        for s in range(0, n, batch_size):
            for e, engine in enumerate(engines):
                start = time.perf_counter()
                batched[e] += engine.search_batch(data.queries[s:s + batch_size], config.limit, ef)
                spent[e] += time.perf_counter() - start
        for e, row in enumerate(rows):
            row["batch_qps"] = n / spent[e]
            row["batch_recall"] = recall_at(batched[e], data.truth, config.limit)
    return rows


def run(engines: list[Engine], data: Dataset, config: BenchConfig, efs: list[int],
        batch_size: int | None, data_dir: Path | None = None) -> list[dict]:
    """Build each engine, measure a serving process's memory, then sweep ef side by side."""
    workdirs = [Path(tempfile.mkdtemp(prefix=f"ann-{engine.name}-")) for engine in engines]
    try:
        built = []
        for engine, workdir in zip(engines, workdirs):
            wall, cpu = time.perf_counter(), time.process_time()
            engine.build(data.base, config, workdir)
            built.append({"build_s": time.perf_counter() - wall, "build_cpu_s": time.process_time() - cpu})
            engine.release()
            if data_dir is not None:
                built[-1].update(serving_memory(engine.name, config, workdir, data_dir, len(data.queries), efs[0]))
                built[-1]["serve_index_mb"] = built[-1]["serve_rss_mb"] - built[-1]["baseline_mb"]
            gc.collect()
        for engine in engines:
            engine.reopen()
        rows = []
        for ef in efs:
            swept = _sweep(engines, data, config, ef, batch_size)
            reference = swept[-1]
            for row, extra, engine in zip(swept, built, engines):
                row.update(extra)
                row["ratio"] = row["qps"] / reference["qps"]
                if batch_size:
                    row["batch_ratio"] = row["batch_qps"] / reference["batch_qps"]
                reported = engine.index_bytes()
                row["index_mb"] = None if reported is None else reported / 2**20
            print(format_table(swept, header=not rows), flush=True)
            rows += swept
        return rows
    finally:
        for engine, workdir in zip(engines, workdirs):
            engine.close()
            shutil.rmtree(workdir, ignore_errors=True)


#: (column, format, width) of the printed table.
_COLUMNS = [("engine", "{}", 11), ("ef", "{}", 5), ("recall", "{:.4f}", 7), ("qps", "{:.0f}", 7),
            ("p50_ms", "{:.3f}", 7), ("p99_ms", "{:.3f}", 7), ("batch_qps", "{:.0f}", 9),
            ("ratio", "{:.2f}", 5), ("batch_ratio", "{:.2f}", 11),
            ("build_s", "{:.1f}", 7), ("build_cpu_s", "{:.1f}", 11), ("baseline_mb", "{:.0f}", 11),
            ("serve_rss_mb", "{:.0f}", 12), ("serve_index_mb", "{:.0f}", 14), ("index_mb", "{:.0f}", 8)]


def format_table(rows: list[dict], header: bool = True, columns: list[tuple[str, str, int]] = _COLUMNS) -> str:
    """Fixed-width text table of result rows (missing values shown as '-')."""
    lines = ["  ".join(name.rjust(width) for name, _, width in columns)] if header else []
    for row in rows:
        cells = ("-" if row.get(name) is None else fmt.format(row[name]) for name, fmt, _ in columns)
        lines.append("  ".join(cell.rjust(width) for cell, (_, _, width) in zip(cells, columns)))
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
    parser.add_argument("--memory", action="store_true",
                        help="measure a serving process's resident memory")
    parser.add_argument("--json", type=Path, default=None, help="write the result rows here")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {sorted(ENGINES)}")
    data = load_dataset(args.data, args.n, args.queries, args.limit)
    config = BenchConfig(m=args.m, ef_construct=args.ef_construct, limit=args.limit,
                         quantization=args.quantization, quantile=args.quantile,
                         oversampling=args.oversampling, on_disk=args.on_disk, dim=int(data.base.shape[1]))
    efs = [int(x) for x in args.ef.split(",")]
    print(f"{data.base.shape[0]} x {data.base.shape[1]} base, {len(data.queries)} queries, "
          f"f32 size {data.base.nbytes / 2**20:.0f} MB, config {asdict(config)}", flush=True)
    names.sort(key=lambda name: name == "qdrant-edge")
    memory_dir = args.data if args.memory else None
    rows = run([ENGINES[name]() for name in names], data, config, efs,
               args.batch_size if args.batch else None, memory_dir)
    summary = {"config": asdict(config), "n": int(data.base.shape[0]), "dim": int(data.base.shape[1]),
               "float32_mb": data.base.nbytes / 2**20, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return rows


if __name__ == "__main__":
    main()
