"""Keyword search through the Query API vs the native engines, on one 100k-document collection.

    python -m evals.keyword_bench [--docs 100000] [--queries 50] [--reps 4] [--json out.json]

One process, one search thread. Documents are msmarco-5k passages recombined into `--docs`
documents (`evals.text_bench.recombined_corpus`); queries are its queries. One persistent
`hybrid.Client` collection holds, per point `o`:
- payload `text` (document `o`) with a `text` payload index: BM25 via `{"bm25": {...}}`;
- sparse vector `bm25` (`modifier: idf`): the `qdrant/bm25` encoding of the same document;
- sparse vector `splade`: row `o` of `evals.sparse_bench`'s synthetic SPLADE-like corpus
  (learned sparse vectors: ~120 terms per document, 15-35 per query).
It is sealed by the optimizer before timing. The same vectors go to one qdrant-edge shard
(`modifier: Idf` on `bm25`), and the same documents to a bare tantivy index with the same
analyzer. Rows, all timed by alternating the engines query by query:
- BM25: `query_points(query={"bm25": ..})` vs tantivy (query parser + search + pid fast field);
- sparse bm25 / splade: `query_points(query=SparseVector, using=..)` vs edge's sparse search.
Each row reports p50/p99/mean latency, QPS, the mean top-k overlap with the reference and the
speed ratio (reference mean latency / ours: > 1 means we are faster).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from evals.sparse_bench import Csr, build_edge, edge_searcher, make_corpus, make_queries, time_interleaved
from evals.text_bench import DATASET, bare_searcher, build_bare, recombined_corpus
from indexes.text import TextIndexParams

COLLECTION = "keyword"
UPSERT_BATCH = 5_000


def encode_bm25(docs: list[str]) -> Csr:
    """`qdrant/bm25` encodings of `docs` as row-major CSR (the engine's fastembed-compatible encoder)."""
    from hybrid.embed.registry import get_embedder

    rows = get_embedder("qdrant/bm25").embed_documents(docs)
    indptr = np.concatenate(([0], np.cumsum([ids.size for ids, _ in rows]))).astype(np.int64)
    return indptr, np.concatenate([ids for ids, _ in rows]), np.concatenate([vals for _, vals in rows])


def _row(csr: Csr, offset: int) -> dict[str, list]:
    indptr, indices, values = csr
    start, stop = indptr[offset], indptr[offset + 1]
    return {"indices": indices[start:stop].tolist(), "values": values[start:stop].tolist()}


def build_client(path: Path, docs: list[str], columns: dict[str, Csr]) -> Any:
    """Persistent Client with the text field, the sparse columns, every point upserted, sealed."""
    from hybrid import Client

    client = Client(path=path)
    client.create_collection(COLLECTION, sparse_vectors_config={
        name: {"modifier": "idf"} if name == "bm25" else {} for name in columns
    }, optimizers_config={"indexing_threshold": 0})
    client.create_payload_index(COLLECTION, "text", field_schema={"type": "text"})
    for start in range(0, len(docs), UPSERT_BATCH):
        points = [{"id": o, "payload": {"text": docs[o]},
                   "vector": {name: _row(csr, o) for name, csr in columns.items()}}
                  for o in range(start, min(start + UPSERT_BATCH, len(docs)))]
        client.upsert(COLLECTION, points)
    client.collection(COLLECTION).optimizer.optimize()
    return client


def ids_of(response: Any) -> np.ndarray:
    return np.array([p.id for p in response.points], dtype=np.int64)


def summary(name: str, ours: np.ndarray, theirs: np.ndarray, overlap: float) -> dict[str, Any]:
    """Latency statistics (ms) of both sides, QPS, top-k overlap and speed ratio of one row."""
    row: dict[str, Any] = {"row": name, "queries": int(ours.size), "overlap": overlap}
    for side, times in (("ours", ours), ("ref", theirs)):
        p50, p99 = np.percentile(times, [50, 99]) * 1e3
        row[side] = {"p50_ms": float(p50), "p99_ms": float(p99), "mean_ms": float(times.mean() * 1e3),
                     "qps": float(1 / times.mean())}
    row["speedup_mean"] = float(theirs.mean() / ours.mean())
    row["speedup_p50"] = row["ref"]["p50_ms"] / row["ours"]["p50_ms"]
    return row


def mean_overlap(ours: list[np.ndarray], theirs: list[np.ndarray], limit: int) -> float:
    return float(np.mean([np.intersect1d(a[:limit], b[:limit]).size / max(1, min(limit, b.size))
                          for a, b in zip(ours, theirs)]))


def timed_row(name: str, searches: list[Callable[..., np.ndarray]], queries: list[tuple], limit: int) -> dict:
    (ours, found), (theirs, expected) = time_interleaved(searches, queries)
    return summary(name, ours, theirs, mean_overlap(found, expected, limit))


def print_rows(rows: list[dict], reference: dict[str, str]) -> None:
    print(f"\n{'row':14s} {'engine':18s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s} {'QPS':>8s}")
    for row in rows:
        for side, label in (("ours", "Query API"), ("ref", reference[row["row"]])):
            s = row[side]
            print(f"{row['row']:14s} {label:18s} {s['p50_ms']:8.3f} {s['p99_ms']:8.3f} {s['mean_ms']:8.3f} {s['qps']:8.0f}")
        print(f"{'':14s} top-k overlap {row['overlap']:.4f}; speed ratio (ref / ours) "
              f"mean x{row['speedup_mean']:.2f}, p50 x{row['speedup_p50']:.2f}")


def run(n_docs: int, n_queries: int, reps: int, limit: int, seed: int, dataset: Path) -> list[dict]:
    start = time.perf_counter()
    docs, texts = recombined_corpus(n_docs, seed, dataset)
    texts = texts[:n_queries]
    columns = {"bm25": encode_bm25(docs), "splade": make_corpus("splade", n_docs)}
    print(f"{n_docs} docs, {len(texts)} queries x {reps} reps; corpus + encodings {time.perf_counter() - start:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        client = build_client(Path(tmp) / "client", docs, columns)
        print(f"Client: upsert + seal {time.perf_counter() - start:.1f}s")
        start = time.perf_counter()
        bare = build_bare(TextIndexParams(), np.arange(n_docs, dtype=np.int64), docs)
        print(f"bare tantivy: build {time.perf_counter() - start:.1f}s")
        start = time.perf_counter()
        shard = build_edge(columns, str(Path(tmp) / "edge"), frozenset({"bm25"}))
        print(f"qdrant-edge: upsert + optimize {time.perf_counter() - start:.1f}s")
        try:
            rows = _timed_rows(client, bare, shard, texts * reps, limit)
        finally:
            shard.close()
            client.close()
    print_rows(rows, {"bm25 text": "bare tantivy", "sparse bm25": "qdrant-edge", "sparse splade": "qdrant-edge"})
    return rows


def _timed_rows(client: Any, bare: Any, shard: Any, texts: list[str], limit: int) -> list[dict]:
    from hybrid import models as m
    from hybrid.embed.registry import get_embedder

    def query_points(**request: Any) -> np.ndarray:
        return ids_of(client.query_points(COLLECTION, limit=limit, with_payload=False, **request))

    def bm25_text(text: str) -> np.ndarray:
        return query_points(query={"bm25": {"text": text, "field": "text"}})

    def sparse(using: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        def search(terms: np.ndarray, values: np.ndarray) -> np.ndarray:
            vector = m.SparseVector(indices=terms.tolist(), values=values.tolist())
            return query_points(query=vector, using=using)
        return search

    def edge(using: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        search = edge_searcher(shard, limit, using)
        return lambda terms, values: search(terms, values)[0]

    encoder = get_embedder("qdrant/bm25")
    bm25_queries = [encoder.embed_query(text) for text in texts]
    bm25_queries = [q for q in bm25_queries if q[0].size]
    splade_queries = make_queries("splade", len(texts), None)  # type: ignore[arg-type]  # unused for splade
    return [
        timed_row("bm25 text", [bm25_text, bare_searcher(bare, limit)], [(t,) for t in texts], limit),
        timed_row("sparse bm25", [sparse("bm25"), edge("bm25")], bm25_queries, limit),
        timed_row("sparse splade", [sparse("splade"), edge("splade")], splade_queries, limit),
    ]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50, help="msmarco queries used (it has 50)")
    parser.add_argument("--reps", type=int, default=4, help="rounds over the queries")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = run(args.docs, args.queries, args.reps, args.limit, args.seed, args.dataset)
    if args.json is not None:
        args.json.write_text(json.dumps({"docs": args.docs, "limit": args.limit, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
