"""MaxSim speed and recall: our multivector index vs qdrant-edge-py on identical vectors.

    python -m evals.maxsim_bench [--docs 10000] [--dim 128] [--queries 20] [--threads 1]
                                 [--no-edge] [--edge-hnsw] [--n-probe 8] [--n-candidates 256]

Data (seeded, synthetic, ColBERT-like): `--topics` unit topic vectors; each document draws 8
topics and 32-128 tokens, each a topic plus Gaussian noise, normalised (Cosine). A query has
32 tokens: 24 near the topics of one random document and 8 near random topics.

Measured, each next to qdrant-edge-py (a shard with one Cosine MaxSim multivector):
- rerank of 100 and 1,000 random candidates: ours `index.score(query, offsets)`; edge an exact
  query filtered to the candidate ids (HasId), which is how a candidate set is rescored there;
- exhaustive MaxSim top-10 (edge: `exact=True`);
- the approximate first stage: ours `approximate="centroids"` (build time, p50 latency,
  recall@10 vs exhaustive); with `--edge-hnsw`, edge's HNSW after `optimize()` (default
  config; Qdrant's multivector HNSW is a graph over documents with MaxSim as the distance, so
  its build costs ~ n_docs * ef_construct MaxSims: at 10,000 documents it did not finish in
  20 minutes on the shared 2-core machine), recall against the same exhaustive top-10.
Latencies are p50 over queries, engines alternating query by query. The machine is shared,
so wall time swings with other load; process CPU time (all threads, edge's included) is the
steadier comparison and is printed next to it.
`--threads` caps BLAS (threadpoolctl) and edge's search pool alike; the default 1 compares
single cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any, Callable, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from indexes.multivector import MultiVectorConfig, MultiVectorIndex, MultiVectorStore
from indexes.multivector.maxsim import normalize_tokens


def synthetic_collection(n_docs: int, dim: int, n_topics: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(flat tokens (T, dim) float32 unit rows, lengths, topics, topics of each document)."""
    rng = np.random.default_rng(seed)
    topics = normalize_tokens(rng.standard_normal((n_topics, dim)))
    doc_topics = rng.integers(0, n_topics, size=(n_docs, 8))
    lengths = rng.integers(32, 129, size=n_docs)
    owner = np.repeat(np.arange(n_docs), lengths)
    chosen = doc_topics[owner, rng.integers(0, 8, size=owner.size)]
    noise = rng.standard_normal((owner.size, dim), dtype=np.float32) * np.float32(0.8 / np.sqrt(dim))
    return normalize_tokens(topics[chosen] + noise), lengths, topics, doc_topics


def synthetic_queries(topics: np.ndarray, doc_topics: np.ndarray, n_queries: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    queries = []
    for target in rng.integers(0, doc_topics.shape[0], size=n_queries):
        chosen = np.concatenate((rng.choice(doc_topics[target], 24), rng.integers(0, topics.shape[0], 8)))
        noise = rng.standard_normal((32, topics.shape[1])) * (0.8 / np.sqrt(topics.shape[1]))
        queries.append(normalize_tokens(topics[chosen] + noise))
    return queries


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


def build_edge(flat: np.ndarray, lengths: np.ndarray, path: str, threads: int) -> Any:
    import qdrant_edge as edge

    params = edge.EdgeVectorParams(size=flat.shape[1], distance=edge.Distance.Cosine,
                                   multivector_config=edge.MultiVectorConfig(edge.MultiVectorComparator.MaxSim))
    shard = edge.EdgeShard.create(path, edge.EdgeConfig(vectors={"mv": params}, max_search_threads=threads))
    ends = np.cumsum(lengths)
    for first in range(0, lengths.size, 500):
        last = min(first + 500, lengths.size)
        points = [edge.Point(i, {"mv": flat[ends[i] - lengths[i] : ends[i]].tolist()}) for i in range(first, last)]
        shard.update(edge.UpdateOperation.upsert_points(points))
    return shard


def edge_query(shard: Any, query: np.ndarray, limit: int, ids: np.ndarray | None = None,
               exact: bool = True) -> tuple[np.ndarray, np.ndarray]:
    import qdrant_edge as edge

    filter_ = None if ids is None else edge.Filter(must=[edge.HasIdCondition(set(ids.tolist()))])
    points = shard.query(edge.QueryRequest(limit=limit, query=edge.Query.Nearest(query.tolist(), using="mv"),
                                           filter=filter_, params=edge.SearchParams(exact=exact)))
    return np.array([p.id for p in points], dtype=np.int64), np.array([p.score for p in points], dtype=np.float32)


def line(name: str, ours: Timing, theirs: Timing | None, extra: str = "") -> None:
    """p50 wall / CPU milliseconds of both engines and the edge/ours ratio of each."""
    def ms(t: Timing) -> str:
        return f"{np.median(t.wall) * 1e3:8.2f} / {np.median(t.cpu) * 1e3:8.2f} ms"

    text = f"{name:>22}: ours {ms(ours)}"
    if theirs is not None:
        text += (f" | edge {ms(theirs)} | edge/ours x{np.median(theirs.wall) / np.median(ours.wall):.2f}"
                 f" / x{np.median(theirs.cpu) / np.median(ours.cpu):.2f}")
    print(f"{text}  {extra}")


def recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    return float(np.mean([np.intersect1d(f, t).size / t.size for f, t in zip(found, truth)]))


def run(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    flat, lengths, topics, doc_topics = synthetic_collection(args.docs, args.dim, args.topics)
    queries = synthetic_queries(topics, doc_topics, args.queries)
    store = MultiVectorStore(args.dim, name="mv")
    store.extend(np.arange(args.docs), flat, lengths)
    exact = MultiVectorIndex(store, "Cosine")
    print(f"{args.docs} documents, {flat.shape[0]} tokens of dim {args.dim}, {args.queries} queries of 32 tokens "
          f"(data {time.perf_counter() - start:.1f}s, threads {args.threads})")
    rng = np.random.default_rng(2)
    candidates = {m: [rng.choice(args.docs, m, replace=False) for _ in queries] for m in (100, 1000)}
    tmp = tempfile.TemporaryDirectory()
    shard = None
    if not args.no_edge:
        start = time.perf_counter()
        shard = build_edge(flat, lengths, tmp.name, args.threads)
        print(f"qdrant-edge upsert {time.perf_counter() - start:.1f}s")

    print(f"{'':>22}   p50 wall / CPU")
    for m, sets in candidates.items():
        searches = [lambda i, s=sets: exact.score(queries[i], s[i])]
        if shard is not None:
            searches.append(lambda i, s=sets, m=m: edge_query(shard, queries[i], m, s[i]))
        timings = timed(searches, args.queries)
        gap = ""
        if shard is not None:
            ids, scores = timings[1].results[0]
            gap = f"max score gap {np.max(np.abs(exact.score(queries[0], ids) - scores)):.1e}"
        line(f"rerank {m} candidates", timings[0], timings[1] if shard is not None else None, gap)

    searches = [lambda i: exact.search(queries[i], 10, exact=True).offsets]
    if shard is not None:
        searches.append(lambda i: edge_query(shard, queries[i], 10)[0])
    timings = timed(searches, args.queries)
    truth = timings[0].results
    agree = f"edge top-10 overlap {recall(timings[1].results, truth):.3f}" if shard is not None else ""
    line("exhaustive top-10", timings[0], timings[1] if shard is not None else None, agree)

    config = MultiVectorConfig(approximate="centroids", n_probe=args.n_probe, n_candidates=args.n_candidates,
                               quantization=args.quantization)
    start = time.perf_counter()
    approx = MultiVectorIndex.build(store, "Cosine", config)
    ours_build = time.perf_counter() - start
    searches = [lambda i: approx.search(queries[i], 10).offsets]
    edge_build = None
    if shard is not None and args.edge_hnsw:
        start = time.perf_counter()
        shard.optimize()
        edge_build = time.perf_counter() - start
        searches.append(lambda i: edge_query(shard, queries[i], 10, exact=False)[0])
    timings = timed(searches, args.queries)
    extra = f"recall@10 ours {recall(timings[0].results, truth):.3f} (build {ours_build:.1f}s)"
    if edge_build is not None:
        extra += f", edge HNSW {recall(timings[1].results, truth):.3f} (build {edge_build:.1f}s)"
    line("approximate top-10", timings[0], timings[1] if edge_build is not None else None, extra)
    if shard is not None:
        shard.close()
    tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--topics", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-probe", type=int, default=MultiVectorConfig.n_probe)
    parser.add_argument("--n-candidates", type=int, default=MultiVectorConfig.n_candidates)
    parser.add_argument("--quantization", choices=["int8"], default=None)
    parser.add_argument("--no-edge", action="store_true", help="skip qdrant-edge-py entirely")
    parser.add_argument("--edge-hnsw", action="store_true",
                        help="also build edge's HNSW (a graph over documents with MaxSim as distance: very slow)")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=args.threads):
        run(args)


if __name__ == "__main__":
    main()
