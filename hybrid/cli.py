"""Command line: `hybrid demo` (index the bundled dataset, answer hybrid queries)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

DATASET = Path(__file__).resolve().parent.parent / "datasets" / "msmarco-5k"
COLLECTION = "msmarco"


def index_dataset(client, dataset: Path, collection: str = COLLECTION, batch: int = 256) -> int:
    """Embed a BEIR corpus (dense MiniLM + qdrant/bm25 sparse) and upsert it; returns the count."""
    from tqdm import tqdm

    from evals.beir import load_corpus
    from hybrid.embed.registry import get_embedder

    docs = list(load_corpus(dataset / "corpus.jsonl").values())
    dense, bm25 = get_embedder("minilm"), get_embedder("qdrant/bm25")
    client.create_collection(collection, vectors_config={"dense": {"size": dense.dim, "distance": "Cosine"}},
                             sparse_vectors_config={"bm25": {"modifier": "idf"}})
    for start in tqdm(range(0, len(docs), batch), desc=f"indexing {dataset.name}", unit="batch"):
        part = docs[start:start + batch]
        texts = [f"{d.title} {d.text}".strip() for d in part]
        vectors = dense.embed_documents(texts)
        sparse = bm25.embed_documents(texts)
        client.upsert(collection, [
            {"id": start + i, "vector": {"dense": vectors[i].tolist(),
                                         "bm25": {"indices": s[0].tolist(), "values": s[1].tolist()}},
             "payload": {"doc_id": d.id, "title": d.title, "text": d.text}}
            for i, (d, s) in enumerate(zip(part, sparse))])
    return len(docs)


def hybrid_query(client, text: str, limit: int = 3, collection: str = COLLECTION):
    """RRF of a dense and a BM25 prefetch, documents embedded server-side."""
    return client.query_points(collection, prefetch=[
        {"query": {"text": text, "model": "sentence-transformers/all-MiniLM-L6-v2"}, "using": "dense", "limit": 20},
        {"query": {"text": text, "model": "qdrant/bm25"}, "using": "bm25", "limit": 20},
    ], query={"fusion": "rrf"}, limit=limit).points


def demo(data: Path, dataset: Path) -> None:
    from evals.beir import load_queries
    from hybrid import Client
    from hybrid.inference import Inference

    client = Client(path=data, inference=Inference())
    if not client.collection_exists(COLLECTION):
        start = time.perf_counter()
        n = index_dataset(client, dataset)
        print(f"indexed {n} documents into {data} in {time.perf_counter() - start:.1f} s")
    info = client.get_collection(COLLECTION)
    print(f"collection {COLLECTION!r}: {info.points_count} points, {info.segments_count} segments")
    for query in list(load_queries(dataset / "queries.jsonl").values())[:3]:
        start = time.perf_counter()
        hits = hybrid_query(client, query.text)
        print(f"\nQ: {query.text}   ({(time.perf_counter() - start) * 1000:.1f} ms, RRF of dense + BM25)")
        for h in hits:
            print(f"  {h.score:.4f}  [{h.payload['doc_id']}] {h.payload['text'][:100]}")
    client.close()


def main(argv: Optional[list[str]] = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="hybrid")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="index the bundled msmarco-5k and answer hybrid queries")
    d.add_argument("--data", type=Path, default=Path("data"))
    d.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.data, args.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
