"""`hybrid demo`: index a BEIR corpus (the bundled msmarco-5k), answer hybrid queries, serve it.

A build can be interrupted (Ctrl-C, a kill, a full disk). The next start never serves what it
left silently: it checks the collection against the corpus and says what it does:
- *complete*: every document is there with the demo's schema -> used as it is;
- *partial*: the schema is right, documents are missing -> resumed (only missing batches are
  embedded and upserted; upserts are idempotent, so a batch cut in half is simply redone);
- *incompatible*: vectors or the text index differ from the demo's -> rebuilt from scratch;
- *damaged*: its files do not verify (hybrid.storage) -> the demo stops and says how to repair
  (`hybrid check --upgrade` for a folder older than checksums) or rebuild (`--rebuild`).
Embeddings go through the shared embedding cache, so a resumed or rebuilt run embeds nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid.embed.sbert import MINILM_ID as MINILM

COLLECTION = "msmarco"


@dataclass(frozen=True)
class BuildState:
    """What a data folder holds of the demo collection: `kind` is missing, complete, partial or
    incompatible; `reason` says why in words."""

    kind: str
    present: int
    total: int
    reason: str


def _schema(dim: int) -> dict[str, Any]:
    return {"vectors_config": {
        "dense": {"size": dim, "distance": "Cosine"},
        "tokens": {"size": dim, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}}},
        "sparse_vectors_config": {"bm25": {"modifier": "idf"}}}


def build_state(client: Any, total: int, dim: int, collection: str = COLLECTION) -> BuildState:
    """Compare the collection with the demo's schema and a corpus of `total` documents."""
    from hybrid.errors import CollectionDamaged

    if not client.collection_exists(collection):
        return BuildState("missing", 0, total, "no collection yet")
    try:
        info = client.get_collection(collection)
    except CollectionDamaged as exc:
        return BuildState("damaged", 0, total, exc.reason)
    params = info.config.params.vectors
    vectors = {name: (p.size, p.multivector_config is not None) for name, p in params.items()} \
        if isinstance(params, dict) else {"": (params.size, False)}
    if vectors != {"dense": (dim, False), "tokens": (dim, True)} or set(info.config.params.sparse_vectors or {}) != {"bm25"}:
        return BuildState("incompatible", info.points_count, total, f"its vectors differ from the demo's ({vectors})")
    text = (info.payload_schema or {}).get("text")
    if text is None or text.data_type != "text":
        return BuildState("incompatible", info.points_count, total, "it has no full-text index on `text`")
    if info.points_count > total:
        return BuildState("incompatible", info.points_count, total, f"it holds {info.points_count} points, "
                          f"more than the corpus's {total}")
    if info.points_count < total:
        return BuildState("partial", info.points_count, total, "an earlier build was interrupted")
    return BuildState("complete", total, total, "every document is indexed")


def prepare(client: Any, docs: list, rebuild: bool = False, batch: int = 128,
            collection: str = COLLECTION, cache: Any = None) -> BuildState:
    """Make the collection hold every document of `docs` (evals.beir documents), embedding
    through `cache` (an EmbeddingCache) when given; prints what it found and what it does."""
    from evals.runner import TEXT_INDEX  # the evals' BM25 field, so both score text alike
    from hybrid.embed import CachedEmbedder, get_embedder
    from hybrid.errors import CollectionDamaged

    dense, bm25 = get_embedder("minilm"), get_embedder("qdrant/bm25")
    if cache is not None:
        dense = CachedEmbedder(dense, cache)
    state = build_state(client, len(docs), dense.dim, collection)
    if state.kind == "damaged" and not rebuild:
        raise CollectionDamaged(collection, f"{state.reason}; or `hybrid demo --rebuild` indexes it again")
    if state.kind == "complete" and not rebuild:
        print(f"collection {collection!r} is complete ({state.total:,} documents): using it")
        return state
    if state.kind == "partial" and not rebuild:
        print(f"collection {collection!r} holds {state.present:,} of {state.total:,} documents ({state.reason}): "
              "resuming")
    else:
        if state.kind != "missing":
            why = "--rebuild was given" if rebuild else state.reason
            print(f"collection {collection!r} is rebuilt: {why}")
            client.delete_collection(collection)
        client.create_collection(collection, **_schema(dense.dim))
        client.create_payload_index(collection, "text", TEXT_INDEX)
    start = time.perf_counter()
    added = _index(client, collection, docs, dense, bm25, batch)
    print(f"indexed {added:,} documents into {collection!r} in {time.perf_counter() - start:.1f} s")
    return build_state(client, len(docs), dense.dim, collection)


def _index(client: Any, collection: str, docs: list, dense: Any, bm25: Any, batch: int) -> int:
    """Embed and upsert every batch with a missing point (point i is document i); returns the
    number of documents upserted."""
    from tqdm import tqdm

    from evals.runner import document_text

    starts = [s for s in range(0, len(docs), batch)
              if len(client.retrieve(collection, list(range(s, min(s + batch, len(docs)))), with_payload=False))
              < min(batch, len(docs) - s)]
    added = 0
    for start in tqdm(starts, desc=f"indexing {collection}", unit="batch"):
        part = docs[start:start + batch]
        texts = [document_text(d) for d in part]
        vectors, tokens, sparse = dense.embed_documents(texts), dense.embed_tokens(texts), bm25.embed_documents(texts)
        client.upsert(collection, [
            {"id": start + i, "vector": {"dense": vectors[i], "tokens": tokens[i] if len(tokens[i]) else vectors[i:i + 1],
                                         "bm25": {"indices": s[0], "values": s[1]}},
             "payload": {"doc_id": d.id, "title": d.title, "text": d.text}}
            for i, (d, s) in enumerate(zip(part, sparse))])
        added += len(part)
    return added


def hybrid_query(client: Any, text: str, limit: int = 3, collection: str = COLLECTION) -> list:
    """RRF of dense, BM25-sparse and BM25-text retrieval, reranked by MaxSim over token vectors;
    queries are embedded server-side from `Document`s."""
    return client.query_points(collection, prefetch=[{"prefetch": [
        {"query": {"text": text, "model": MINILM}, "using": "dense", "limit": 50},
        {"query": {"text": text, "model": "qdrant/bm25"}, "using": "bm25", "limit": 50},
        {"query": {"bm25": {"text": text, "field": "text"}}, "limit": 50},
    ], "query": {"fusion": "rrf"}, "limit": 50}], query={"text": text, "model": MINILM}, using="tokens",
        limit=limit).points


CURL = """curl -s localhost:{port}/collections/{c}/points/query -H 'content-type: application/json' -d '{{
  "prefetch": [
    {{"query": {{"text": "{q}", "model": "qdrant/bm25"}}, "using": "bm25", "limit": 50}},
    {{"query": {{"bm25": {{"text": "{q}", "field": "text"}}}}, "limit": 50}}
  ],
  "query": {{"rrf": {{"k": 60}}}}, "limit": 5, "with_payload": ["doc_id", "text"]
}}'"""


def run(data: Path, dataset: Path, serve: bool, port: int, rebuild: bool = False, batch: int = 128,
        queries: int = 3) -> BuildState:
    """The whole demo: prepare the collection, print `queries` hybrid answers, then serve."""
    from evals.beir import load_corpus, load_queries
    from hybrid import Client
    from hybrid.embed import open_default_cache
    from hybrid.inference import Inference

    docs = list(load_corpus(dataset / "corpus.jsonl").values())  # a missing dataset fails before any write
    query_texts = [q.text for q in load_queries(dataset / "queries.jsonl").values()][:queries]
    cache = open_default_cache()
    print(cache.describe() if cache is not None else "embedding cache: off (HYBRID_CACHE_DIR=off)")
    client = Client(path=data, inference=Inference(cache))
    try:
        state = prepare(client, docs, rebuild, batch, cache=cache)
        info = client.get_collection(COLLECTION)
        print(f"collection {COLLECTION!r}: {info.points_count} points, {info.segments_count} segments")
        for text in query_texts:
            start = time.perf_counter()
            hits = hybrid_query(client, text)
            print(f"\nQ: {text}   ({(time.perf_counter() - start) * 1000:.1f} ms: RRF(dense, bm25 sparse, "
                  "bm25 text) -> MaxSim rerank)")
            for h in hits:
                print(f"  {h.score:8.4f}  [{h.payload['doc_id']}] {h.payload['text'][:100]}")
    finally:
        client.close()
        if cache is not None:
            print(cache.describe())
            cache.close()
    if serve:
        from api.app import serve as serve_api

        print(f"\nServing {data} on http://127.0.0.1:{port} (Ctrl-C stops). Try:\n")
        print(CURL.format(port=port, c=COLLECTION, q="what is the capital of france"))
        serve_api(host="127.0.0.1", port=port, data=data)
    return state
