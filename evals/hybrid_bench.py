"""Hybrid query latency: ours vs qdrant-edge-py on the same points, one thread, same run.

    python -m evals.hybrid_bench [--points 100000] [--dim 128] [--queries 200] [--no-hnsw]

The query (Qdrant's Universal Query API, ColBERT-style late interaction):

    prefetch = [dense nearest, limit 100] + [sparse nearest, limit 100]
    fused    = RRF of the two, limit 100
    result   = MaxSim rerank of the fused 100 on a multivector, limit 10

Data (seeded, synthetic): dense vectors around 1,000 cluster centres (Cosine); sparse vectors
with ~40 Zipf-distributed terms from a 30,000-term vocabulary (Dot); multivectors of 8 tokens
of 48 dims near their point's dense centre (Dot, MaxSim). Queries take a centre plus noise.

Both engines seal everything into one segment before timing (ours: `optimizer.optimize()`,
edge: `optimize()`). Ours gets an HNSW graph on the dense vector, added to the optimizer's
`build_indexes` hook unless `--no-hnsw` (the engine does not build dense graphs by itself
yet); sparse and multivector searches are whatever the engine's stores do today. Edge builds its
default HNSW for the dense vector, none for the multivector (its MaxSim graph is far too slow
to build here), and indexes the sparse vector. Engines alternate query by query (the machine
is shared); BLAS and edge's search pool are limited to one thread. Reported: p50/p99 latency
in ms and the mean overlap of the two top-10 lists.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

VOCAB, TERMS, TOKENS, TOKEN_DIM, QUERY_TOKENS = 30_000, 40, 8, 48, 16


def make_data(n: int, dim: int, seed: int = 0) -> dict:
    """Dense (n, dim), sparse CSR (indptr, indices, values), multivector tokens (n, TOKENS, TOKEN_DIM)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim), dtype=np.float32)
    token_centres = rng.standard_normal((1000, TOKEN_DIM), dtype=np.float32)
    cluster = rng.integers(0, 1000, n)
    dense = centres[cluster] + 0.5 * rng.standard_normal((n, dim), dtype=np.float32)
    lengths = np.maximum(1, rng.poisson(TERMS, n))
    rows = np.repeat(np.arange(n), lengths)
    terms = np.minimum(rng.zipf(1.3, rows.size) - 1, VOCAB - 1) % VOCAB
    pairs = np.unique(np.stack([rows, terms], axis=1), axis=0)  # unique sorted terms per row
    indptr = np.concatenate(([0], np.cumsum(np.bincount(pairs[:, 0], minlength=n))))
    values = rng.gamma(2.0, 0.5, pairs.shape[0]).astype(np.float32)
    tokens = token_centres[cluster][:, None, :] + 0.7 * rng.standard_normal((n, TOKENS, TOKEN_DIM), dtype=np.float32)
    return {"dense": dense, "indptr": indptr, "indices": pairs[:, 1].astype(np.int64), "values": values,
            "tokens": tokens, "centres": centres, "token_centres": token_centres}


def make_queries(data: dict, count: int, seed: int = 1) -> list[tuple[list, tuple[list, list], list]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        c = int(rng.integers(0, 1000))
        dense = data["centres"][c] + 0.5 * rng.standard_normal(data["centres"].shape[1], dtype=np.float32)
        terms = np.unique(np.minimum(rng.zipf(1.3, 12) - 1, VOCAB - 1))
        tokens = data["token_centres"][c] + 0.7 * rng.standard_normal((QUERY_TOKENS, TOKEN_DIM), dtype=np.float32)
        out.append((dense.tolist(), (terms.tolist(), rng.gamma(2.0, 0.5, terms.size).tolist()), tokens.tolist()))
    return out


def build_ours(data: dict, hnsw: bool, batch: int = 2_000) -> Any:
    from hybrid import Client

    n, dim = data["dense"].shape
    client = Client()
    client.create_collection("bench", vectors_config={
        "d": {"size": dim, "distance": "Cosine"},
        "m": {"size": TOKEN_DIM, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
        sparse_vectors_config={"s": {}}, optimizers_config={"indexing_threshold": 0})
    indptr, indices, values = data["indptr"], data["indices"], data["values"]
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        sparse = [{"indices": indices[indptr[i]:indptr[i + 1]], "values": values[indptr[i]:indptr[i + 1]]}
                  for i in range(start, stop)]
        client.upsert("bench", {"ids": np.arange(start, stop), "vectors": {
            "d": data["dense"][start:stop], "s": sparse, "m": list(data["tokens"][start:stop])}})
    optimizer = client.collection("bench").optimizer
    if hnsw:
        optimizer.build_indexes = _with_hnsw(optimizer.build_indexes)
    optimizer.optimize()
    return client


def _with_hnsw(engine_builder: Any) -> Callable:
    """The engine's own index builder (sparse postings, ...) plus an HNSW graph on "d"."""
    from indexes.dense.hnsw import HnswIndex, HnswParams

    def build(segment: Any, extend: Any = None) -> None:
        if engine_builder is not None:
            engine_builder(segment, extend)
        store = segment.vectors["d"]
        store.index = HnswIndex.build(store.data[: segment.size], "Cosine", HnswParams(m=16, ef_construct=100))

    return build


def ours_searcher(client: Any) -> Callable:
    def search(dense: list, sparse: tuple, tokens: list) -> list:
        fused = {"prefetch": [{"query": dense, "using": "d", "limit": 100},
                              {"query": {"indices": sparse[0], "values": sparse[1]}, "using": "s", "limit": 100}],
                 "query": {"fusion": "rrf"}, "limit": 100}
        points = client.query_points("bench", prefetch=fused, query=tokens, using="m", limit=10, with_payload=False).points
        return [p.id for p in points]

    return search


def build_edge(data: dict, path: str, batch: int = 2_000) -> Any:
    import qdrant_edge as qe

    n, dim = data["dense"].shape
    no_graph = qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000)
    config = qe.EdgeConfig(vectors={
        "d": qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
        "m": qe.EdgeVectorParams(size=TOKEN_DIM, distance=qe.Distance.Dot, hnsw_config=no_graph,
                                 multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim))},
        sparse_vectors={"s": qe.EdgeSparseVectorParams()}, max_search_threads=1)
    shard = qe.EdgeShard.create(path, config)
    indptr, indices, values = data["indptr"], data["indices"], data["values"]
    for start in range(0, n, batch):
        points = []
        for i in range(start, min(start + batch, n)):
            row = slice(indptr[i], indptr[i + 1])
            points.append(qe.Point(i, {"d": data["dense"][i].tolist(), "m": data["tokens"][i].tolist(),
                                       "s": qe.SparseVector(indices[row].tolist(), values[row].tolist())}))
        shard.update(qe.UpdateOperation.upsert_points(points))
    shard.optimize()
    return shard


def edge_searcher(shard: Any) -> Callable:
    import qdrant_edge as qe

    def search(dense: list, sparse: tuple, tokens: list) -> list:
        fused = qe.Prefetch(limit=100, query=qe.Fusion.Rrf(k=2), prefetches=[
            qe.Prefetch(limit=100, query=qe.Query.Nearest(dense, using="d")),
            qe.Prefetch(limit=100, query=qe.Query.Nearest(qe.SparseVector(*sparse), using="s"))])
        request = qe.QueryRequest(limit=10, query=qe.Query.Nearest(tokens, using="m"), prefetches=[fused])
        return [p.id for p in shard.query(request)]

    return search


def time_interleaved(searches: list[Callable], queries: list) -> tuple[list[np.ndarray], list[list]]:
    """Per-query latency of each engine, alternating engines query by query, after a warm-up."""
    for query in queries[:10]:
        for search in searches:
            search(*query)
    times: list[list[float]] = [[] for _ in searches]
    found: list[list] = [[] for _ in searches]
    for query in queries:
        for engine, search in enumerate(searches):
            start = time.perf_counter()
            found[engine].append(search(*query))
            times[engine].append(time.perf_counter() - start)
    return [np.array(t) for t in times], found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-hnsw", action="store_true", help="ours: exact dense search (no graph)")
    parser.add_argument("--no-edge", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    data = make_data(args.points, args.dim)
    queries = make_queries(data, args.queries)
    print(f"{args.points} points, dim {args.dim}, {data['indices'].size} sparse non-zeros, "
          f"{TOKENS}x{TOKEN_DIM} tokens per point (generated in {time.perf_counter() - start:.1f}s)")
    with threadpool_limits(1), tempfile.TemporaryDirectory() as path:
        start = time.perf_counter()
        client = build_ours(data, hnsw=not args.no_hnsw)
        print(f"ours: upsert + seal{' + HNSW' if not args.no_hnsw else ''} {time.perf_counter() - start:.1f}s")
        searches, names = [ours_searcher(client)], ["ours"]
        if not args.no_edge:
            start = time.perf_counter()
            shard = build_edge(data, path)
            print(f"qdrant-edge: upsert + optimize {time.perf_counter() - start:.1f}s")
            searches.append(edge_searcher(shard))
            names.append("qdrant-edge")
        times, found = time_interleaved(searches, queries)
        for name, t in zip(names, times):
            print(f"{name:>12}: p50 {np.percentile(t, 50) * 1e3:7.2f} ms   p99 {np.percentile(t, 99) * 1e3:7.2f} ms"
                  f"   ({len(t)} queries, one thread)")
        if len(found) == 2:
            overlap = np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(*found)])
            sizes = np.mean([len(a) for a in found[0]]), np.mean([len(b) for b in found[1]])
            print(f"top-10 overlap ours vs qdrant-edge: {overlap:.3f} (mean hits {sizes[0]:.1f} vs {sizes[1]:.1f})")
            shard.close()
        client.close()


if __name__ == "__main__":
    main()
