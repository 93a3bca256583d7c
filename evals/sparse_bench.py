"""Sparse search speed: our sealed `SparseIndex` vs qdrant-edge-py on identical vectors.

    python -m evals.sparse_bench [--points 100000] [--queries 200] [--limit 10] [--profile all]

Profiles (synthetic, seeded, Zipf-distributed term ids so postings lengths are realistic):
- `splade`: vocabulary 30,000, ~120 terms per document, ~25 per query, positive weights;
- `bm25`: vocabulary 50,000, documents of ~80 tokens encoded with BM25 tf values, 2-6 query
  terms weighted by Qdrant's idf (what `modifier: idf` produces).
Both engines search single-threaded, one query at a time, after a warm-up, alternating query by
query so both see the same load on a shared machine; the report gives
queries per second, mean and p99 latency, and the mean top-k overlap with qdrant-edge.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import numpy as np

from indexes.sparse import SparseIndex, idf

PROFILES = {
    # vocabulary, mean document terms, query terms (low, high), zipf exponent
    "splade": (30_000, 120, (15, 35), 1.05),
    "bm25": (50_000, 80, (2, 7), 1.1),
}


def zipf_terms(rng: np.random.Generator, vocab: int, count: int, exponent: float) -> np.ndarray:
    """Term ids drawn with P(rank r) ~ r^-exponent, ranks shuffled into ids (vectorised)."""
    weights = np.arange(1, vocab + 1, dtype=np.float64) ** -exponent
    ranks = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(count))
    permutation = np.random.default_rng(0).permutation(vocab)
    return permutation[np.minimum(ranks, vocab - 1)].astype(np.uint32)


def make_corpus(profile: str, n_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-major CSR (indptr, indices, values) of `n_points` documents, unique sorted terms per row."""
    vocab, mean_terms, _, exponent = PROFILES[profile]
    rng = np.random.default_rng(seed)
    lengths = np.maximum(1, rng.poisson(mean_terms, n_points))
    rows = np.repeat(np.arange(n_points), lengths)
    terms = zipf_terms(rng, vocab, rows.size, exponent)
    order = np.lexsort((terms, rows))
    rows, terms = rows[order], terms[order]
    first = np.concatenate(([True], (rows[1:] != rows[:-1]) | (terms[1:] != terms[:-1])))
    counts = np.diff(np.append(np.flatnonzero(first), rows.size))  # repeats = term frequency
    rows, terms = rows[first], terms[first]
    if profile == "bm25":
        k1, b, avg_len = 1.2, 0.75, float(mean_terms)
        doc_len = lengths[rows]
        values = counts * (k1 + 1) / (counts + k1 * (1 - b + b * doc_len / avg_len))
    else:
        values = rng.gamma(2.0, 0.5, rows.size)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_points))))
    return indptr.astype(np.int64), terms, values.astype(np.float32)


def make_queries(profile: str, n_queries: int, index: SparseIndex, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    vocab, _, (low, high), exponent = PROFILES[profile]
    rng = np.random.default_rng(seed)
    queries = []
    for _ in range(n_queries):
        terms = np.unique(zipf_terms(rng, vocab, int(rng.integers(low, high)), exponent))
        if profile == "bm25":
            values = idf(index.document_frequencies(terms), index.n_points)
        else:
            values = rng.gamma(2.0, 0.5, terms.size).astype(np.float32)
        queries.append((terms, values.astype(np.float32)))
    return queries


def time_interleaved(searches: list[Any], queries: list[tuple[Any, ...]]) -> list[tuple[np.ndarray, list[Any]]]:
    """Latency of each `search(*query)` per query, alternating engines query by query so that
    all see the same machine load (the benchmark machine is shared)."""
    for query in queries[:10]:
        for search in searches:
            search(*query)  # warm-up (compilation, caches)
    latencies: list[list[float]] = [[] for _ in searches]
    results: list[list[Any]] = [[] for _ in searches]
    for query in queries:
        for engine, search in enumerate(searches):
            start = time.perf_counter()
            results[engine].append(search(*query))
            latencies[engine].append(time.perf_counter() - start)
    return [(np.array(times), found) for times, found in zip(latencies, results)]


Csr = tuple[np.ndarray, np.ndarray, np.ndarray]  # row-major (indptr, indices, values)


def build_edge(columns: dict[str, Csr], path: str, idf_names: frozenset[str] = frozenset()) -> Any:
    """A sealed qdrant-edge shard holding row `o` of every column as point `o`'s sparse vector of
    that name (`modifier: idf` for the names in `idf_names`), searched by one thread."""
    import qdrant_edge as edge

    params = {name: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf if name in idf_names else None)
              for name in columns}
    shard = edge.EdgeShard.create(path, edge.EdgeConfig(sparse_vectors=params, max_search_threads=1))
    n_points = max(indptr.size - 1 for indptr, _, _ in columns.values())
    batch = 2_000
    for start in range(0, n_points, batch):
        points = []
        for offset in range(start, min(start + batch, n_points)):
            vectors = {}
            for name, (indptr, indices, values) in columns.items():
                row = slice(indptr[offset], indptr[offset + 1])
                vectors[name] = edge.SparseVector(indices[row].tolist(), values[row].tolist())
            points.append(edge.Point(offset, vectors))
        shard.update(edge.UpdateOperation.upsert_points(points))
    shard.optimize()  # seal: build the immutable sparse index
    return shard


def edge_searcher(shard: Any, limit: int, using: str = "s") -> Any:
    import qdrant_edge as edge

    def search(terms: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        query = edge.Query.Nearest(edge.SparseVector(terms.tolist(), values.tolist()), using=using)
        points = shard.query(edge.QueryRequest(limit=limit, query=query))
        return np.array([p.id for p in points]), np.array([p.score for p in points])

    return search


def report(name: str, latencies: np.ndarray) -> str:
    return (f"{name:>12}: {1 / latencies.mean():9.0f} QPS   mean {latencies.mean() * 1e6:8.1f} us   "
            f"p99 {np.percentile(latencies, 99) * 1e6:8.1f} us")


def run(profile: str, n_points: int, n_queries: int, limit: int) -> None:
    start = time.perf_counter()
    indptr, indices, values = make_corpus(profile, n_points)
    print(f"[{profile}] {n_points} points, {indices.size} non-zeros (generated in {time.perf_counter() - start:.1f}s)")
    start = time.perf_counter()
    index = SparseIndex.build(indptr, indices, values, n_points)
    print(f"  ours: build {time.perf_counter() - start:.2f}s")
    queries = make_queries(profile, n_queries, index)
    with tempfile.TemporaryDirectory() as path:
        start = time.perf_counter()
        shard = build_edge({"s": (indptr, indices, values)}, path)
        print(f"  qdrant-edge: build (upsert + optimize) {time.perf_counter() - start:.2f}s")
        (ours, our_results), (theirs, edge_results) = time_interleaved(
            [lambda t, v: index.search(t, v, limit), edge_searcher(shard, limit)], queries
        )
        shard.close()
    overlap = np.mean([np.intersect1d(a.offsets, b[0]).size / max(1, b[0].size) for a, b in zip(our_results, edge_results)])
    score_gap = max(float(np.max(np.abs(a.scores - b[1]), initial=0.0)) for a, b in zip(our_results, edge_results)
                    if a.scores.size == b[1].size)
    print(report("ours", ours))
    print(report("qdrant-edge", theirs))
    print(f"  speed-up x{theirs.mean() / ours.mean():.2f}; top-{limit} overlap {overlap:.4f}; max score gap {score_gap:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    args = parser.parse_args()
    for profile in PROFILES if args.profile == "all" else [args.profile]:
        run(profile, args.points, args.queries, args.limit)


if __name__ == "__main__":
    main()
