"""MaxSim through the engine (`hybrid.Client.query_points`) vs qdrant-edge-py on the same vectors.

    python -m evals.maxsim_bench [--docs 10000] [--dim 128] [--queries 20] [--threads 1]
                                 [--msmarco datasets/msmarco-5k] [--msmarco-docs 5000]
                                 [--cache FILE] [--no-synthetic]
                                 [--no-msmarco] [--no-edge] [--edge-hnsw]

Workloads (each run on both engines):
- synthetic (seeded, ColBERT-like): `--topics` unit topic vectors; each document draws 8 topics
  and 32-128 tokens of dimension `--dim`, each a topic plus Gaussian noise, normalised. A query
  has 32 tokens: 24 near the topics of one random document and 8 near random topics.
- msmarco-5k: all-MiniLM-L6-v2 token vectors (dimension 384, special tokens dropped) of the
  passages (title + text, as evals.runner embeds them) and of the queries, through hybrid.embed
  and its sqlite cache (`--msmarco-docs` takes a prefix of the corpus when embedding is slow).

Each collection has a Cosine MaxSim multivector `mv` and a dense `pooled` vector (the normalised
mean of the tokens) that serves as the first stage. Ours is one sealed segment (`optimize()`,
which builds the MaxSim centroid index); edge keeps its plain segment (exact scans). Measured:
- rerank of 100 and 1,000 candidates: prefetch `pooled` (exact, limit m) + `mv` query, limit
  10; the same prefetch rescored by `pooled` is timed too, so the MaxSim share is the
  difference;
- exhaustive MaxSim top-10 (`exact=True` on both);
- our approximate first stage (default search on the sealed segment): recall@10 against our
  exhaustive top-10, latency, index build time; with `--edge-hnsw` also edge's HNSW after its
  `optimize()` (a graph over documents with MaxSim as the distance: very slow to build).
Latencies are p50 over queries, engines alternating query by query. The machine is shared, so
wall time swings with other load; process CPU time (all threads, edge's search pool included)
is the steadier comparison and is printed next to it. `--threads` caps BLAS (threadpoolctl) and
edge's search pool alike; the default 1 compares single cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from hybrid.embed.cache import default_cache_path
from indexes.multivector.maxsim import normalize_tokens

_BATCH = 500


class Workload(NamedTuple):
    name: str
    flat: np.ndarray  # (T, dim) float32 unit token rows of every document
    lengths: np.ndarray  # tokens per document (document i is point id i)
    queries: list[np.ndarray]  # (q, dim) float32 token rows

    def pooled(self) -> np.ndarray:
        """Normalised mean token of each document: the dense first-stage vectors."""
        sums = np.add.reduceat(self.flat, np.cumsum(self.lengths) - self.lengths, axis=0)
        return normalize_tokens(sums)

    def matrices(self, first: int, last: int) -> list[np.ndarray]:
        ends = np.cumsum(self.lengths)
        return [self.flat[ends[i] - self.lengths[i]: ends[i]] for i in range(first, last)]


# ---------------------------------------------------------------------------- workloads
def synthetic(n_docs: int, dim: int, n_topics: int, n_queries: int, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    topics = normalize_tokens(rng.standard_normal((n_topics, dim)))
    doc_topics = rng.integers(0, n_topics, size=(n_docs, 8))
    lengths = rng.integers(32, 129, size=n_docs)
    owner = np.repeat(np.arange(n_docs), lengths)
    chosen = doc_topics[owner, rng.integers(0, 8, size=owner.size)]
    noise = rng.standard_normal((owner.size, dim), dtype=np.float32) * np.float32(0.8 / np.sqrt(dim))
    flat = normalize_tokens(topics[chosen] + noise)
    queries = []
    for target in rng.integers(0, n_docs, size=n_queries):
        picked = np.concatenate((rng.choice(doc_topics[target], 24), rng.integers(0, n_topics, 8)))
        queries.append(normalize_tokens(topics[picked] + rng.standard_normal((32, dim)) * (0.8 / np.sqrt(dim))))
    return Workload(f"synthetic {n_docs} docs, dim {dim}", flat, lengths, queries)


def msmarco(folder: str, n_docs: int, n_queries: int, cache: Path | None) -> Workload:
    """MiniLM token vectors of the first `n_docs` passages and of the queries (cached)."""
    from evals.beir import load_beir
    from evals.runner import document_texts
    from hybrid.embed import CachedEmbedder, EmbeddingCache, get_token_embedder

    dataset = load_beir(folder)
    texts = document_texts(dataset)[:n_docs]
    embedder = get_token_embedder("minilm")
    if cache is not None:
        embedder = CachedEmbedder(embedder, EmbeddingCache(cache))
    start = time.perf_counter()
    docs = [d for d in embedder.embed_tokens(texts) if d.shape[0]]  # empty passages hold no matrix
    queries = embedder.embed_tokens([q.text for q in dataset.queries.values()][:n_queries])
    print(f"msmarco tokens: {len(docs)} passages, {len(queries)} queries ({time.perf_counter() - start:.1f}s)")
    lengths = np.array([d.shape[0] for d in docs])
    flat = np.ascontiguousarray(np.concatenate(docs), dtype=np.float32)
    return Workload(f"msmarco-5k MiniLM tokens, {len(docs)} docs", flat, lengths, [q for q in queries if q.shape[0]])


# ---------------------------------------------------------------------------- engines
def build_ours(work: Workload) -> tuple[Any, float]:
    """A Client collection with every document in one sealed segment; returns (client, seal seconds)."""
    from hybrid import Client

    client = Client()
    dim = work.flat.shape[1]
    client.create_collection("bench", vectors_config={
        "mv": {"size": dim, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}},
        "pooled": {"size": dim, "distance": "Cosine"}}, optimizers_config={"indexing_threshold": 0})
    pooled = work.pooled()
    for first in range(0, work.lengths.size, _BATCH):
        last = min(first + _BATCH, work.lengths.size)
        client.upsert("bench", {"ids": list(range(first, last)),
                                "vectors": {"mv": work.matrices(first, last), "pooled": pooled[first:last]}})
    start = time.perf_counter()
    client.collection("bench").optimizer.optimize()  # seal: compaction + MaxSim centroid index
    return client, time.perf_counter() - start


def ours_query(client: Any, query: np.ndarray | None, pooled: np.ndarray | None, limit: int, prefetch: int = 0,
               exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """query_points: `mv` (after an exact `pooled` prefetch of `prefetch` when > 0); with no
    `mv` query the prefetch is rescored by `pooled` itself (the baseline of the rerank)."""
    if prefetch:
        request = {"prefetch": {"query": pooled, "using": "pooled", "limit": prefetch, "params": {"exact": True}},
                   "query": pooled if query is None else query, "using": "pooled" if query is None else "mv"}
    else:
        request = {"query": query, "using": "mv", "search_params": {"exact": exact}}
    points = client.query_points("bench", limit=limit, with_payload=False, **request).points
    return np.array([p.id for p in points], dtype=np.int64), np.array([p.score for p in points], dtype=np.float32)


def build_edge(work: Workload, path: str, threads: int) -> Any:
    import qdrant_edge as edge

    dim = work.flat.shape[1]
    vectors = {"mv": edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine,
                                           multivector_config=edge.MultiVectorConfig(edge.MultiVectorComparator.MaxSim)),
               "pooled": edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine)}
    shard = edge.EdgeShard.create(path, edge.EdgeConfig(vectors=vectors, max_search_threads=threads))
    pooled = work.pooled()
    for first in range(0, work.lengths.size, _BATCH):
        last = min(first + _BATCH, work.lengths.size)
        points = [edge.Point(first + k, {"mv": m.tolist(), "pooled": pooled[first + k].tolist()})
                  for k, m in enumerate(work.matrices(first, last))]
        shard.update(edge.UpdateOperation.upsert_points(points))
    return shard


def edge_query(shard: Any, query: np.ndarray | None, pooled: np.ndarray | None, limit: int, prefetch: int = 0,
               exact: bool = True) -> tuple[np.ndarray, np.ndarray]:
    import qdrant_edge as edge

    if prefetch:
        outer = edge.Query.Nearest(pooled.tolist(), using="pooled") if query is None \
            else edge.Query.Nearest(query.tolist(), using="mv")
        request = edge.QueryRequest(limit=limit, query=outer, prefetches=[edge.Prefetch(
            limit=prefetch, query=edge.Query.Nearest(pooled.tolist(), using="pooled"), params=edge.SearchParams(exact=True))])
    else:
        request = edge.QueryRequest(limit=limit, query=edge.Query.Nearest(query.tolist(), using="mv"),
                                    params=edge.SearchParams(exact=exact))
    points = shard.query(request)
    return np.array([p.id for p in points], dtype=np.int64), np.array([p.score for p in points], dtype=np.float32)


# ---------------------------------------------------------------------------- timing
class Timing(NamedTuple):
    wall: np.ndarray  # seconds per query
    cpu: np.ndarray  # process CPU seconds per query (all threads, edge's search pool included)
    results: list[Any]


def timed(searches: list[Callable[[int], Any]], n_queries: int) -> list[Timing]:
    """Per-query wall and CPU time of each search, engines alternating query by query."""
    for search in searches:
        search(0)  # warm-up: compilation, caches
    wall: list[list[float]] = [[] for _ in searches]
    cpu: list[list[float]] = [[] for _ in searches]
    results: list[list[Any]] = [[] for _ in searches]
    for query in range(n_queries):
        for engine, search in enumerate(searches):
            start, start_cpu = time.perf_counter(), time.process_time()
            results[engine].append(search(query))
            cpu[engine].append(time.process_time() - start_cpu)
            wall[engine].append(time.perf_counter() - start)
    return [Timing(np.array(w), np.array(c), r) for w, c, r in zip(wall, cpu, results)]


def line(name: str, ours: Timing, theirs: Timing | None, extra: str = "") -> None:
    """p50 wall / CPU milliseconds of both engines and the edge/ours ratio of each."""
    def ms(t: Timing) -> str:
        return f"{np.median(t.wall) * 1e3:8.2f} / {np.median(t.cpu) * 1e3:8.2f} ms"

    text = f"{name:>26}: ours {ms(ours)}"
    if theirs is not None:
        text += (f" | edge {ms(theirs)} | edge/ours x{np.median(theirs.wall) / np.median(ours.wall):.2f}"
                 f" / x{np.median(theirs.cpu) / np.median(ours.cpu):.2f}")
    print(f"{text}  {extra}", flush=True)


def recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    return float(np.mean([np.intersect1d(f, t).size / max(t.size, 1) for f, t in zip(found, truth)]))


def agreement(ours: Timing, theirs: Timing) -> str:
    """Top-k overlap and the largest score difference between the engines' answers."""
    overlap = recall([r[0] for r in ours.results], [r[0] for r in theirs.results])
    gaps = [np.max(np.abs(a[1] - b[1])) for a, b in zip(ours.results, theirs.results)
            if a[1].size == b[1].size and np.array_equal(a[0], b[0])]
    gap = f", max score gap {max(gaps):.1e}" if gaps else ""
    return f"overlap with edge {overlap:.3f}{gap}"


# ---------------------------------------------------------------------------- run
def run_workload(work: Workload, args: argparse.Namespace) -> None:
    n_queries = min(args.queries, len(work.queries))
    queries = work.queries[:n_queries]
    pooled = [normalize_tokens(q.mean(axis=0, keepdims=True))[0] for q in queries]
    print(f"\n== {work.name}: {work.flat.shape[0]} tokens, {n_queries} queries of "
          f"{int(np.median([q.shape[0] for q in queries]))} tokens (median)", flush=True)
    start = time.perf_counter()
    client, seal = build_ours(work)
    print(f"ours: upsert + seal {time.perf_counter() - start:.1f}s (seal with MaxSim index {seal:.1f}s)")
    tmp = tempfile.TemporaryDirectory()
    shard = None
    if not args.no_edge:
        start = time.perf_counter()
        shard = build_edge(work, tmp.name, args.threads)
        print(f"qdrant-edge: upsert {time.perf_counter() - start:.1f}s")
    print(f"{'':>26}   p50 wall / CPU", flush=True)

    def pair(ours: Callable[[int], Any], edge: Callable[[int], Any]) -> tuple[Timing, Timing | None]:
        timings = timed([ours] if shard is None else [ours, edge], n_queries)
        return timings[0], (timings[1] if shard is not None else None)

    for m in (100, 1000):
        ours, theirs = pair(lambda i, m=m: ours_query(client, None, pooled[i], 10, m),
                            lambda i, m=m: edge_query(shard, None, pooled[i], 10, m))
        line(f"prefetch {m} + dense rescore", ours, theirs, agreement(ours, theirs) if theirs is not None else "")
        ours, theirs = pair(lambda i, m=m: ours_query(client, queries[i], pooled[i], 10, m),
                            lambda i, m=m: edge_query(shard, queries[i], pooled[i], 10, m))
        line(f"prefetch {m} + MaxSim rerank", ours, theirs, agreement(ours, theirs) if theirs is not None else "")

    ours, theirs = pair(lambda i: ours_query(client, queries[i], None, 10, exact=True),
                        lambda i: edge_query(shard, queries[i], None, 10))
    truth = [r[0] for r in ours.results]
    line("exhaustive MaxSim top-10", ours, theirs, agreement(ours, theirs) if theirs is not None else "")

    index = client.collection("bench").segments[0].vectors["mv"].index
    edge_build = None
    if shard is not None and args.edge_hnsw:
        start = time.perf_counter()
        shard.optimize()
        edge_build = time.perf_counter() - start
    ours, theirs = pair(lambda i: ours_query(client, queries[i], None, 10),
                        lambda i: edge_query(shard, queries[i], None, 10, exact=edge_build is None))
    extra = f"recall@10 ours {recall([r[0] for r in ours.results], truth):.3f}"
    extra += f" ({'centroids' if index is not None and index.centroids is not None else 'no index'}, seal {seal:.1f}s)"
    if theirs is not None:
        extra += (f", edge HNSW {recall([r[0] for r in theirs.results], truth):.3f} (build {edge_build:.1f}s)"
                  if edge_build is not None else "; edge: exhaustive (no HNSW built)")
    line("approximate top-10", ours, theirs, extra)
    if shard is not None:
        shard.close()
    client.close()
    tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--topics", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--msmarco", default=str(Path("datasets") / "msmarco-5k"))
    parser.add_argument("--msmarco-docs", type=int, default=5_000)
    parser.add_argument("--cache", type=Path, default=default_cache_path(), help="embedding cache (default: %(default)s)")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--no-msmarco", action="store_true")
    parser.add_argument("--no-edge", action="store_true", help="skip qdrant-edge-py entirely")
    parser.add_argument("--edge-hnsw", action="store_true",
                        help="also build edge's HNSW (a graph over documents with MaxSim as distance: very slow)")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=args.threads):
        if not args.no_synthetic:
            run_workload(synthetic(args.docs, args.dim, args.topics, args.queries), args)
        if not args.no_msmarco:
            run_workload(msmarco(args.msmarco, args.msmarco_docs, args.queries, args.cache), args)


if __name__ == "__main__":
    main()
