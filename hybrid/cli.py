"""Command line: `hybrid demo` (index the bundled dataset, answer hybrid queries, serve it) and
`hybrid serve` (the Qdrant-compatible REST server on a data folder)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

DATASET = Path(__file__).resolve().parent.parent / "datasets" / "msmarco-5k"
COLLECTION = "msmarco"


def index_dataset(client, dataset: Path, collection: str = COLLECTION, batch: int = 128) -> int:
    """Embed a BEIR corpus and upsert it: MiniLM dense vectors, MiniLM token vectors (MaxSim),
    qdrant/bm25 sparse vectors, and a tantivy BM25 text index on the `text` payload field."""
    from tqdm import tqdm

    from evals.beir import load_corpus
    from hybrid.embed.registry import get_embedder

    docs = list(load_corpus(dataset / "corpus.jsonl").values())
    dense, bm25 = get_embedder("minilm"), get_embedder("qdrant/bm25")
    client.create_collection(collection, vectors_config={
        "dense": {"size": dense.dim, "distance": "Cosine"},
        "tokens": {"size": dense.dim, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}}},
        sparse_vectors_config={"bm25": {"modifier": "idf"}})
    client.create_payload_index(collection, "text", {"type": "text", "tokenizer": "word", "lowercase": True,
                                                     "stemmer": {"type": "snowball", "language": "english"}})
    for start in tqdm(range(0, len(docs), batch), desc=f"indexing {dataset.name}", unit="batch"):
        part = docs[start:start + batch]
        texts = [f"{d.title} {d.text}".strip() for d in part]
        vectors, tokens, sparse = dense.embed_documents(texts), dense.embed_tokens(texts), bm25.embed_documents(texts)
        client.upsert(collection, [
            {"id": start + i, "vector": {"dense": vectors[i], "tokens": tokens[i] if len(tokens[i]) else vectors[i:i + 1],
                                         "bm25": {"indices": s[0], "values": s[1]}},
             "payload": {"doc_id": d.id, "title": d.title, "text": d.text}}
            for i, (d, s) in enumerate(zip(part, sparse))])
    return len(docs)


def hybrid_query(client, text: str, limit: int = 3, collection: str = COLLECTION):
    """RRF of dense, BM25-sparse and BM25-text retrieval, reranked by MaxSim over token vectors;
    queries are embedded server-side from `Document`s."""
    minilm = "sentence-transformers/all-MiniLM-L6-v2"
    return client.query_points(collection, prefetch=[{"prefetch": [
        {"query": {"text": text, "model": minilm}, "using": "dense", "limit": 50},
        {"query": {"text": text, "model": "qdrant/bm25"}, "using": "bm25", "limit": 50},
        {"query": {"bm25": {"text": text, "field": "text"}}, "limit": 50},
    ], "query": {"fusion": "rrf"}, "limit": 50}], query={"text": text, "model": minilm}, using="tokens",
        limit=limit).points


CURL = """curl -s localhost:{port}/collections/{c}/points/query -H 'content-type: application/json' -d '{{
  "prefetch": [
    {{"query": {{"text": "{q}", "model": "qdrant/bm25"}}, "using": "bm25", "limit": 50}},
    {{"query": {{"bm25": {{"text": "{q}", "field": "text"}}}}, "limit": 50}}
  ],
  "query": {{"rrf": {{"k": 60}}}}, "limit": 5, "with_payload": ["doc_id", "text"]
}}'"""


def demo(data: Path, dataset: Path, serve: bool, port: int) -> None:
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
        print(f"\nQ: {query.text}   ({(time.perf_counter() - start) * 1000:.1f} ms: RRF(dense, bm25 sparse, "
              "bm25 text) -> MaxSim rerank)")
        for h in hits:
            print(f"  {h.score:8.4f}  [{h.payload['doc_id']}] {h.payload['text'][:100]}")
    client.close()
    if serve:
        print(f"\nServing {data} on http://127.0.0.1:{port} (Ctrl-C stops). Try:\n")
        print(CURL.format(port=port, c=COLLECTION, q="what is the capital of france"))
        run_server(data, "127.0.0.1", port, None, None)


def run_server(data: Optional[Path], host: str, port: int, api_key: Optional[str], read_only_api_key: Optional[str]) -> None:
    from api.app import serve

    serve(host=host, port=port, data=data, api_key=api_key, read_only_api_key=read_only_api_key)


def main(argv: Optional[list[str]] = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="hybrid")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="index the bundled msmarco-5k and answer hybrid queries")
    d.add_argument("--data", type=Path, default=Path("data"))
    d.add_argument("--dataset", type=Path, default=DATASET)
    d.add_argument("--no-serve", action="store_true", help="stop after the sample queries")
    d.add_argument("--port", type=int, default=6333)
    s = sub.add_parser("serve", help="serve a data folder over Qdrant's REST API")
    s.add_argument("--data", type=Path, default=None, help="data folder (default: in memory)")
    s.add_argument("--host", default=None, help="default 127.0.0.1 (HYBRID_HOST)")
    s.add_argument("--port", type=int, default=None, help="default 6333 (HYBRID_PORT)")
    s.add_argument("--api-key", default=None, help="full-access key (or HYBRID_API_KEY)")
    s.add_argument("--read-only-api-key", default=None, help="read-only key (or HYBRID_READ_ONLY_API_KEY)")
    c = sub.add_parser("check", help="verify a data folder offline (checksums and references); exit 1 on damage")
    c.add_argument("--data", type=Path, required=True, help="the data folder to verify")
    c.add_argument("--upgrade", action="store_true", help="first add checksums to a folder written before they existed")
    e = sub.add_parser("eval", help="offline evaluation (python -m evals ...): e.g. hybrid eval beir --dataset DIR",
                       add_help=False)
    e.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "eval":
        from evals.__main__ import main as eval_main

        return eval_main(args.rest)
    if args.command == "check":
        from hybrid.storage.check import run

        return run(args.data, args.upgrade)
    if args.command == "demo":
        demo(args.data, args.dataset, not args.no_serve, args.port)
    elif args.command == "serve":
        run_server(args.data, args.host, args.port, args.api_key, args.read_only_api_key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
