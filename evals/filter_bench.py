"""Filtered dense search: recall@k and QPS of our engine vs qdrant-edge-py at four selectivities.

    python -m evals.filter_bench --data DIR [--n N] [--queries Q] [--ef default,64,128]
                                 [--engines ours,qdrant-edge] [--workdir DIR] [--json FILE]

DIR is a `gen_vectors.py` output (base.npy, queries.npy and the payload columns category.npy
(Zipf codes -> keyword "cat_%03d"), price.npy (float U[0, 1000)), tenant.npy (int U{0..999} ->
keyword "t%03d")). Both engines get the same collection a Qdrant user would create: Cosine,
m / ef_construct as given, payload indexes category: keyword, price: float, tenant: keyword
with is_tenant, every point upserted with its payload, then optimised into one HNSW segment
(Qdrant's default full_scan_threshold of 10,000 KB on both sides). Ours goes through
`hybrid.Client(path=...)`, theirs through `qdrant_edge.EdgeShard`.

Filters (one per query, the same for both engines), about 50 / 10 / 1 / 0.1 % of the points:
  50%:  price in [u, u + 500) with u ~ U[0, 500) per query    (float range)
  10%:  category == "cat_001"                                (keyword match)
  1%:   tenant in ten random tenants per query               (keyword match any)
  0.1%: tenant == one tenant, each once per 1,000 queries      (keyword match, is_tenant)
The measured selectivity (mean allowed share) is printed. Ground truth is exact: numpy
brute force over the allowed rows. After an untimed warm-up (100 queries of each case), queries
run one at a time in one thread with BLAS limited to one thread, the engines alternating query
by query so both see the same machine load.
recall@k = |found & true| / k averaged over queries; qps = queries / summed latency.
For each selectivity the summary reports each engine at its fastest ef reaching
--target-recall (or its best recall when none does) and the ratio ours / edge.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from evals.ann import BenchConfig
from evals.ann import format_table as table
from evals.runner import single_threaded_blas

#: Qdrant's default hnsw full_scan_threshold (KB), used by both engines.
FULL_SCAN_THRESHOLD_KB = 10_000


@dataclass(frozen=True)
class Columns:
    """The payload columns as arrays (category code, price, tenant number) per point."""

    category: np.ndarray
    price: np.ndarray
    tenant: np.ndarray

    def payloads(self, start: int, stop: int) -> list[dict]:
        return [{"category": f"cat_{c:03d}", "price": p, "tenant": f"t{t:03d}"} for c, p, t in zip(
            self.category[start:stop].tolist(), self.price[start:stop].tolist(), self.tenant[start:stop].tolist())]


@dataclass(frozen=True)
class FilterSpec:
    """One filter in neutral form: `field` matches one of `values` (keyword codes), or lies
    in the range [low, high)."""

    field: str  # "category" | "price" | "tenant"
    values: tuple[int, ...] = ()
    low: float = 0.0
    high: float = 0.0

    def keywords(self) -> list[str]:
        spelling = "cat_{:03d}" if self.field == "category" else "t{:03d}"
        return [spelling.format(v) for v in self.values]

    def mask(self, columns: Columns) -> np.ndarray:
        column = getattr(columns, self.field)
        if self.field == "price":
            return (column >= self.low) & (column < self.high)
        return np.isin(column, self.values)

    def ours(self) -> dict:
        if self.field == "price":
            return {"must": [{"key": "price", "range": {"gte": self.low, "lt": self.high}}]}
        words = self.keywords()
        match = {"value": words[0]} if len(words) == 1 else {"any": words}
        return {"must": [{"key": self.field, "match": match}]}

    def edge(self, qe: Any) -> Any:
        if self.field == "price":
            condition = qe.FieldCondition("price", range=qe.RangeFloat(gte=self.low, lt=self.high))
        else:
            words = self.keywords()
            match = qe.MatchValue(words[0]) if len(words) == 1 else qe.MatchAny(words)
            condition = qe.FieldCondition(self.field, match=match)
        return qe.Filter(must=[condition])


def filter_cases(n_queries: int, seed: int = 7) -> dict[str, list[FilterSpec]]:
    """One filter per query for each target selectivity (see the module docstring). Filters
    other than the 10% one differ from query to query, so no engine can serve them from a
    cache of earlier answers."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0.0, 500.0, n_queries).tolist()
    groups = [tuple(sorted(rng.choice(1000, 10, replace=False).tolist())) for _ in range(n_queries)]
    singles = np.resize(rng.permutation(1000), n_queries).tolist()  # each tenant once per 1,000
    return {
        "50%": [FilterSpec("price", low=u, high=u + 500.0) for u in starts],
        "10%": [FilterSpec("category", (1,))] * n_queries,
        "1%": [FilterSpec("tenant", group) for group in groups],
        "0.1%": [FilterSpec("tenant", (tenant,)) for tenant in singles],
    }


@dataclass
class FilteredDataset:
    base: np.ndarray
    queries: np.ndarray
    columns: Columns
    cases: dict[str, list[FilterSpec]]
    truth: dict[str, np.ndarray]  # case -> (n_queries, limit) exact filtered best ids
    selectivity: dict[str, float]  # case -> mean allowed share


def load_filtered(folder: Path, n: int | None = None, n_queries: int | None = None,
                  limit: int = 10, chunk: int = 64) -> FilteredDataset:
    """gen_vectors output (first n points, first n_queries queries) with exact filtered truth."""
    base = np.load(folder / "base.npy", mmap_mode="r")
    n = base.shape[0] if n is None else min(n, base.shape[0])
    base = np.ascontiguousarray(base[:n])
    queries = np.ascontiguousarray(np.load(folder / "queries.npy")[:n_queries])
    columns = Columns(*(np.load(folder / f"{name}.npy")[:n] for name in ("category", "price", "tenant")))
    cases = filter_cases(len(queries))
    truth = {name: np.full((len(queries), limit), -1, dtype=np.int64) for name in cases}
    shares = {name: np.zeros(len(queries)) for name in cases}
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    for start in range(0, len(queries), chunk):
        rows = queries[start:start + chunk]
        scores = (rows / np.linalg.norm(rows, axis=1, keepdims=True)) @ unit.T
        for j, row_scores in enumerate(scores):
            q = start + j
            for name, specs in cases.items():
                allowed = specs[q].mask(columns)
                shares[name][q] = allowed.mean()
                masked = np.where(allowed, row_scores, -np.inf)
                k = min(limit, int(allowed.sum()))
                best = np.argpartition(-masked, k - 1)[:k] if k else np.zeros(0, np.int64)
                truth[name][q, :k] = best[np.argsort(-masked[best], kind="stable")]
    return FilteredDataset(base, queries, columns, cases, truth,
                           {name: float(share.mean()) for name, share in shares.items()})


def filtered_recall(found: np.ndarray, truth: np.ndarray, limit: int) -> float:
    """|found & truth| / k with k = min(limit, ids the filter allows) (truth is padded with -1);
    a filter that allows nothing is answered perfectly by nothing."""
    valid = truth[truth >= 0]
    if valid.size == 0:
        return 1.0 if found.size == 0 else 0.0
    return np.intersect1d(found, valid).size / min(limit, valid.size)


class FilteredEngine(Protocol):
    name: str

    def build(self, data: FilteredDataset, config: BenchConfig, workdir: Path) -> None: ...

    def open(self, workdir: Path) -> None:
        """Reopen what `build` left in `workdir`."""

    def search(self, query: np.ndarray, spec: FilterSpec, limit: int, ef: int | None) -> np.ndarray: ...

    def close(self) -> None: ...


class OursFiltered:
    """`hybrid.Client(path=...)`: one collection with payload indexes, sealed by the optimizer."""

    name = "ours"

    def build(self, data: FilteredDataset, config: BenchConfig, workdir: Path) -> None:
        from hybrid import Client

        self._client = client = Client(path=workdir / "client")
        client.create_collection(
            "bench", vectors_config={"size": data.base.shape[1], "distance": "Cosine"},
            hnsw_config={"m": config.m, "ef_construct": config.ef_construct,
                         "full_scan_threshold": FULL_SCAN_THRESHOLD_KB},
            optimizers_config={"indexing_threshold": 0})
        client.create_payload_index("bench", "category", {"type": "keyword"})
        client.create_payload_index("bench", "price", {"type": "float"})
        client.create_payload_index("bench", "tenant", {"type": "keyword", "is_tenant": True})
        for start in range(0, data.base.shape[0], 10_000):
            rows = data.base[start:start + 10_000]
            client.upsert("bench", {"ids": list(range(start, start + len(rows))), "vectors": rows,
                                    "payloads": data.columns.payloads(start, start + len(rows))})
        client.collection("bench").optimizer.optimize()

    def open(self, workdir: Path) -> None:
        from hybrid import Client

        self._client = Client(path=workdir / "client")

    def search(self, query: np.ndarray, spec: FilterSpec, limit: int, ef: int | None) -> np.ndarray:
        response = self._client.query_points(
            "bench", query=query, query_filter=spec.ours(), limit=limit, with_payload=False,
            search_params=None if ef is None else {"hnsw_ef": ef})
        return np.array([p.id for p in response.points], dtype=np.int64)

    def close(self) -> None:
        self._client.close()


class EdgeFiltered:
    """qdrant-edge-py: one shard, payload indexes via `create_field_index`, one search thread."""

    name = "qdrant-edge"

    def build(self, data: FilteredDataset, config: BenchConfig, workdir: Path) -> None:
        import qdrant_edge as qe

        self._qe = qe
        self._shard = shard = qe.EdgeShard.create(str(workdir / "shard"), self._config(data.base.shape[1], config))
        for field, params in (("category", qe.KeywordIndexParams()), ("price", qe.FloatIndexParams()),
                              ("tenant", qe.KeywordIndexParams(is_tenant=True))):
            shard.update(qe.UpdateOperation.create_field_index(field, params))
        for start in range(0, data.base.shape[0], 2048):
            rows = data.base[start:start + 2048]
            payloads = data.columns.payloads(start, start + len(rows))
            points = [qe.Point(start + i, row.tolist(), payload) for i, (row, payload) in enumerate(zip(rows, payloads))]
            shard.update(qe.UpdateOperation.upsert_points(points))
        shard.optimize()
        shard.flush()

    def _config(self, dim: int, config: BenchConfig) -> Any:
        qe = self._qe
        return qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
            hnsw_config=qe.HnswIndexConfig(m=config.m, ef_construct=config.ef_construct,
                                           full_scan_threshold=FULL_SCAN_THRESHOLD_KB,
                                           max_indexing_threads=1),
            optimizers=qe.EdgeOptimizersConfig(default_segment_number=1, max_segment_size=1 << 40,
                                               indexing_threshold=1),
            on_disk_payload=False, max_search_threads=1, wal_enabled=False)

    def open(self, workdir: Path) -> None:
        import qdrant_edge as qe

        self._qe = qe
        self._shard = qe.EdgeShard.load(str(workdir / "shard"))

    def search(self, query: np.ndarray, spec: FilterSpec, limit: int, ef: int | None) -> np.ndarray:
        qe = self._qe
        request = qe.QueryRequest(limit=limit, query=qe.Query.Nearest(query.tolist()), filter=spec.edge(qe),
                                  params=None if ef is None else qe.SearchParams(hnsw_ef=ef))
        return np.array([p.id for p in self._shard.query(request)], dtype=np.int64)

    def close(self) -> None:
        self._shard.close()


ENGINES: dict[str, Callable[[], FilteredEngine]] = {"ours": OursFiltered, "qdrant-edge": EdgeFiltered}


def warm_up(engines: list[FilteredEngine], data: FilteredDataset, limit: int, ef: int | None,
            queries: int = 100) -> None:
    """Untimed queries of every case, so that reopened files are paged in and kernels are
    compiled before any timing (a cold first case would favour whichever engine went second).
    The filters are drawn with another seed: no timed filter (but the fixed 10% one) is seen
    here first."""
    n = min(queries, len(data.queries))
    for specs in filter_cases(n, seed=8).values():
        for q in range(n):
            for engine in engines:
                engine.search(data.queries[q], specs[q], limit, ef)


def time_interleaved(engines: list[FilteredEngine], data: FilteredDataset, case: str,
                     limit: int, ef: int | None) -> list[dict]:
    """One result row per engine for one (filter case, ef), engines alternating per query."""
    specs = data.cases[case]
    latencies = np.zeros((len(engines), len(data.queries)))
    found: list[list[np.ndarray]] = [[] for _ in engines]
    for q, query in enumerate(data.queries):
        for e, engine in enumerate(engines):
            start = time.perf_counter()
            found[e].append(engine.search(query, specs[q], limit, ef))
            latencies[e, q] = time.perf_counter() - start
    truth = data.truth[case]
    rows = []
    for e, engine in enumerate(engines):
        hits = [filtered_recall(f, t, limit) for f, t in zip(found[e], truth)]
        rows.append({"selectivity": case, "share": data.selectivity[case], "engine": engine.name,
                     "ef": "default" if ef is None else ef, "recall": float(np.mean(hits)),
                     "qps": len(data.queries) / latencies[e].sum(),
                     "p50_ms": 1e3 * float(np.percentile(latencies[e], 50)),
                     "p99_ms": 1e3 * float(np.percentile(latencies[e], 99))})
    return rows


def summarize(rows: list[dict], target: float) -> list[dict]:
    """Per selectivity and engine: the fastest row reaching `target` recall (else the best
    recall), with `ratio` = ours qps / edge qps on the ours row."""
    best: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["selectivity"], row["engine"])
        rank = (row["recall"] >= target, row["qps"] if row["recall"] >= target else row["recall"])
        current = best.get(key)
        if current is None or rank > (current["recall"] >= target,
                                      current["qps"] if current["recall"] >= target else current["recall"]):
            best[key] = row
    out = [dict(row) for row in best.values()]
    for row in out:
        edge = best.get((row["selectivity"], "qdrant-edge"))
        row["ratio"] = row["qps"] / edge["qps"] if edge and row["engine"] == "ours" else None
    return out


_COLUMNS = [("selectivity", "{}", 11), ("share", "{:.4f}", 7), ("engine", "{}", 11), ("ef", "{}", 7),
            ("recall", "{:.4f}", 7), ("qps", "{:.0f}", 7), ("p50_ms", "{:.3f}", 7), ("p99_ms", "{:.3f}", 7),
            ("ratio", "{:.2f}", 6)]


def format_table(rows: list[dict], header: bool = True) -> str:
    return table(rows, header, _COLUMNS)


def worst_case(summary: list[dict]) -> dict[str, float]:
    """Each engine's lowest summary qps across selectivities (the 'slow cliff' check)."""
    worst: dict[str, float] = {}
    for row in summary:
        worst[row["engine"]] = min(worst.get(row["engine"], np.inf), row["qps"])
    return worst


def prepare(names: list[str], data: FilteredDataset, config: BenchConfig, workdir: Path) -> list[FilteredEngine]:
    """Each engine built in workdir/<name>-<shape>, or reopened when a finished build is there."""
    engines: list[FilteredEngine] = []
    for name in names:
        engine = ENGINES[name]()
        folder = workdir / f"{name}-n{data.base.shape[0]}-m{config.m}-efc{config.ef_construct}"
        start = time.perf_counter()
        if (folder / "built").exists():
            engine.open(folder)
            print(f"{name}: reopened {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            engine.build(data, config, folder)
            (folder / "built").touch()
            print(f"{name}: built in {time.perf_counter() - start:.1f}s", flush=True)
        engines.append(engine)
    return engines


def run(data: FilteredDataset, names: list[str], config: BenchConfig, efs: list[int | None],
        target: float, workdir: Path | None = None, cases: list[str] | None = None) -> dict:
    """Build (or reopen) every engine, then time each (selectivity, ef), engines interleaved.
    Without `workdir` the builds go to a temporary folder, removed afterwards. `cases`: the
    selectivities to time (default: all four)."""
    folder = workdir or Path(tempfile.mkdtemp(prefix="filter-bench-"))
    engines: list[FilteredEngine] = []
    try:
        engines = prepare(names, data, config, folder)
        rows: list[dict] = []
        with single_threaded_blas():
            warm_up(engines, data, config.limit, efs[0])
            for case in cases or list(data.cases):
                for ef in efs:
                    found = time_interleaved(engines, data, case, config.limit, ef)
                    print(format_table(found, header=not rows), flush=True)
                    rows += found
    finally:
        for engine in engines:
            engine.close()
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    summary = summarize(rows, target)
    print(f"\nsummary: fastest ef with recall >= {target} per engine (ratio = ours qps / edge qps)")
    print(format_table(summary))
    worst = worst_case(summary)
    if "ours" in worst and "qdrant-edge" in worst:
        print(f"worst qps across selectivities: ours {worst['ours']:.0f}, qdrant-edge "
              f"{worst['qdrant-edge']:.0f}, ratio {worst['ours'] / worst['qdrant-edge']:.2f}")
    return {"rows": rows, "summary": summary, "worst_qps": worst}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="gen_vectors.py output folder")
    parser.add_argument("--engines", default="ours,qdrant-edge")
    parser.add_argument("--ef", default="default", help="hnsw_ef values; 'default' = the engine's own")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construct", type=int, default=100)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--n", type=int, default=None, help="use the first N base vectors")
    parser.add_argument("--queries", type=int, default=None, help="use the first N queries")
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--json", type=Path, default=None, help="write rows and summary here")
    parser.add_argument("--cases", default=None, help="selectivities to time, e.g. '0.1%%,1%%' (default: all)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the built engines here and reuse them on the next run")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {sorted(ENGINES)}")
    efs = [None if x.strip() == "default" else int(x) for x in args.ef.split(",")]
    cases = None if args.cases is None else [case.strip() for case in args.cases.split(",") if case.strip()]
    if cases and set(cases) - set(filter_cases(1)):
        parser.error(f"unknown cases {sorted(set(cases) - set(filter_cases(1)))}; choose from {list(filter_cases(1))}")
    config = BenchConfig(m=args.m, ef_construct=args.ef_construct, limit=args.limit)
    start = time.perf_counter()
    data = load_filtered(args.data, args.n, args.queries, args.limit)
    shares = ", ".join(f"{name}: {share:.4%}" for name, share in data.selectivity.items())
    print(f"{data.base.shape[0]} x {data.base.shape[1]} base, {len(data.queries)} queries, filtered "
          f"truth in {time.perf_counter() - start:.1f}s; measured selectivity {shares}", flush=True)
    result = run(data, names, config, efs, args.target_recall, args.workdir, cases)
    result.update(config=asdict(config), n=int(data.base.shape[0]), selectivity=data.selectivity)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
