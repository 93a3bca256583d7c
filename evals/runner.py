"""BEIR evaluation runner: index a dataset into an in-memory collection, run plans, time them.

Collection layout (only the vectors some plan uses are embedded):

- ``dense``: the embedder's document vectors (cosine), default all-MiniLM-L6-v2;
- ``tokens``: the same model's per-token vectors, a MaxSim multivector (ColBERT-style);
- ``sparse``: ``qdrant/bm25`` sparse vectors with the ``idf`` modifier. BM25 length
  normalisation needs the average document length; fastembed assumes 256 tokens, the runner
  uses the corpus mean by default (``sparse_avg_len``), as tantivy does. The hashed term ids
  (up to 2**31) are renumbered 0..V-1 by a :class:`SparseVocabulary` (a one-to-one map, so
  scores are unchanged): the engine keeps collection document frequencies in an array indexed
  by term id, which would need 16 GiB for hashed ids;
- payload ``text`` (title + text) with a tantivy BM25 text index (:data:`TEXT_INDEX`).

Point ids are corpus positions, so a hit's id is an index into ``doc_ids``. Dense and token
embeddings go through an on-disk :class:`~hybrid.embed.EmbeddingCache` keyed by
(model, kind, text), so re-runs embed nothing. Query inputs (:data:`evals.plans.PLACEHOLDERS`)
are computed before timing: a latency is one ``query_batch_points`` call (request validation,
search, fusion; no embedding), after ``warmup`` untimed queries, with BLAS limited to one thread
as the REST server runs each call (on a shared 2-core machine, BLAS threads spinning against
each other made an exact 5,000 x 384 dense search 25x slower: 16 ms instead of 0.65 ms).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from evals.beir import BeirDataset, Run
from evals.plans import TEXT_FIELD, Plan, fill, vector_names

COLLECTION = "beir"
DEFAULT_EMBEDDER = "minilm"
#: The BM25 text field: word tokenizer, lowercase, English Snowball stemmer (no stop words).
TEXT_INDEX = {"type": "text", "tokenizer": "word", "lowercase": True, "stemmer": {"type": "snowball", "language": "english"}}
FASTEMBED_AVG_LEN = 256.0

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]


def no_progress(items: Iterable[Any], label: str, total: int) -> Iterable[Any]:
    return items


def tqdm_progress(items: Iterable[Any], label: str, total: int) -> Iterable[Any]:
    from tqdm import tqdm

    return tqdm(items, desc=label, total=total, unit="batch", leave=False)


@dataclass
class Embedders:
    """Document and query encoders of one evaluation (``dense`` also makes token vectors)."""

    dense: Any  # DenseEmbedder and TokenEmbedder, usually a CachedEmbedder
    sparse: Any  # indexes.sparse.bm25.Bm25Encoder

    def close(self) -> None:
        """Close the embedding cache, if there is one."""
        cache = getattr(self.dense, "cache", None)
        if cache is not None:
            cache.close()


def open_embedders(name: str = DEFAULT_EMBEDDER, cache_path: str | Path | None = None) -> Embedders:
    """The named dense embedder behind the sqlite cache at ``cache_path`` (none when None; the
    shared one is :func:`hybrid.embed.default_cache_path`) and a
    ``qdrant/bm25`` encoder (its ``avg_len`` is set per corpus by :func:`index_dataset`)."""
    from hybrid.embed import CachedEmbedder, EmbeddingCache, get_embedder
    from indexes.sparse.bm25 import Bm25Encoder

    dense = get_embedder(name)
    if cache_path is not None:
        dense = CachedEmbedder(dense, EmbeddingCache(cache_path))
    return Embedders(dense, Bm25Encoder())


def document_text(doc: Any) -> str:
    """What is embedded and indexed of a document: ``title + " " + text`` (the demo embeds the
    same string, so the two share the embedding cache)."""
    return f"{doc.title} {doc.text}".strip()


def document_texts(dataset: BeirDataset) -> list[str]:
    """:func:`document_text` of every document, in corpus order."""
    return [document_text(doc) for doc in dataset.corpus.values()]


class SparseVocabulary:
    """One-to-one renumbering of sparse term ids: id ``vocab[j]`` becomes ``j``."""

    def __init__(self, term_ids: Iterable[np.ndarray]) -> None:
        arrays = [np.asarray(ids, dtype=np.int64) for ids in term_ids]
        self.vocab = np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.vocab.size)

    def encode(self, indices: np.ndarray, values: np.ndarray) -> dict[str, np.ndarray]:
        """``{"indices", "values"}`` with known ids renumbered; unknown ids (no document has
        them, so they score 0) are dropped."""
        indices = np.asarray(indices, dtype=np.int64)
        positions = np.minimum(np.searchsorted(self.vocab, indices), max(self.vocab.size - 1, 0))
        known = self.vocab[positions] == indices if self.vocab.size else np.zeros(indices.size, dtype=bool)
        return {"indices": positions[known].astype(np.uint32), "values": np.asarray(values, dtype=np.float32)[known]}


@dataclass
class IndexedCollection:
    """A collection holding one dataset; point id ``i`` is ``doc_ids[i]``."""

    client: Any
    name: str
    doc_ids: list[str]
    vectors: set[str]
    timings_s: dict[str, float] = field(default_factory=dict)
    sparse_vocabulary: SparseVocabulary | None = None


def _collection_config(vectors: set[str], dim: int) -> dict[str, Any]:
    dense = {"dense": {"size": dim, "distance": "Cosine"}} if "dense" in vectors else {}
    if "tokens" in vectors:
        dense["tokens"] = {"size": dim, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}}
    sparse = {"sparse": {"modifier": "idf"}} if "sparse" in vectors else {}
    return {"vectors_config": dense, "sparse_vectors_config": sparse}


def index_dataset(
    dataset: BeirDataset,
    embedders: Embedders,
    vectors: Iterable[str] = ("dense", "sparse", "tokens"),
    *,
    client: Any = None,
    collection: str = COLLECTION,
    batch_size: int = 256,
    sparse_avg_len: float | None = None,
    progress: Progress = no_progress,
) -> IndexedCollection:
    """Embed and upsert the corpus in batches; returns the collection and per-stage seconds.

    ``sparse_avg_len=None`` sets the BM25 encoder's average length to the corpus mean of its
    token counts (fastembed's fixed 256 suits long documents only).
    """
    from hybrid import Client
    from hybrid.inference import Inference

    wanted = set(vectors)
    unknown = wanted - {"dense", "sparse", "tokens"}
    if unknown:
        raise ValueError(f"vectors: unknown vector names {sorted(unknown)}; expected dense, sparse, tokens")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive integer")
    texts = document_texts(dataset)
    timings: dict[str, float] = {}
    sparse_rows: list[dict[str, np.ndarray]] = []
    vocabulary = None
    if "sparse" in wanted:
        began = time.perf_counter()
        embedders.sparse.avg_len = sparse_avg_len or _mean_token_count(embedders.sparse, texts)
        pairs = embedders.sparse.embed_documents(texts)
        vocabulary = SparseVocabulary(ids for ids, _ in pairs)
        sparse_rows = [vocabulary.encode(ids, values) for ids, values in pairs]
        _tick(timings, "embed_sparse", began)
    client = Client(inference=Inference()) if client is None else client
    dim = embedders.dense.dim if wanted & {"dense", "tokens"} else 0
    client.create_collection(collection, **_collection_config(wanted, dim))
    client.create_payload_index(collection, TEXT_FIELD, TEXT_INDEX)
    starts = range(0, len(texts), batch_size)
    for start in progress(starts, f"indexing {dataset.name}", len(starts)):
        part = texts[start : start + batch_size]
        columns = _embed_batch(embedders, part, wanted, timings)
        if sparse_rows:
            columns["sparse"] = sparse_rows[start : start + batch_size]
        began = time.perf_counter()
        client.upsert(collection, {
            "ids": list(range(start, start + len(part))),
            "vectors": columns,
            "payloads": [{TEXT_FIELD: text} for text in part],
        })
        timings["upsert"] = timings.get("upsert", 0.0) + time.perf_counter() - began
    return IndexedCollection(client, collection, list(dataset.corpus), wanted, timings, vocabulary)


def _mean_token_count(encoder: Any, texts: Sequence[str]) -> float:
    return max(1.0, float(np.mean([len(encoder.tokenize(text)) for text in texts]))) if texts else FASTEMBED_AVG_LEN


def _embed_batch(embedders: Embedders, texts: list[str], wanted: set[str], timings: dict[str, float]) -> dict[str, Any]:
    """Vector columns of one batch; each stage's seconds are added to ``timings``."""
    columns: dict[str, Any] = {}
    began = time.perf_counter()
    if "dense" in wanted:
        columns["dense"] = embedders.dense.embed_documents(texts)
        began = _tick(timings, "embed_dense", began)
    if "tokens" in wanted:
        dense_rows = columns.get("dense")
        tokens = embedders.dense.embed_tokens(texts)
        # A multivector needs >= 1 row: an empty text gets its dense vector as its only token.
        columns["tokens"] = [
            matrix if len(matrix) else _one_row(embedders, texts[i], dense_rows, i) for i, matrix in enumerate(tokens)
        ]
        _tick(timings, "embed_tokens", began)
    return columns


def _one_row(embedders: Embedders, text: str, dense_rows: np.ndarray | None, row: int) -> np.ndarray:
    vector = dense_rows[row] if dense_rows is not None else embedders.dense.embed_documents([text])[0]
    return np.asarray(vector, dtype=np.float32).reshape(1, -1)


def _tick(timings: dict[str, float], stage: str, began: float) -> float:
    now = time.perf_counter()
    timings[stage] = timings.get(stage, 0.0) + now - began
    return now


def query_inputs(
    dataset: BeirDataset,
    query_ids: Sequence[str],
    embedders: Embedders,
    needed: set[str],
    sparse_vocabulary: SparseVocabulary | None = None,
) -> dict[str, dict[str, Any]]:
    """Per query, the value of every needed placeholder (numpy arrays: the client converts them).

    ``$sparse`` ids are renumbered by ``sparse_vocabulary`` (the collection's, see module doc).
    """
    texts = [dataset.queries[qid].text for qid in query_ids]
    inputs: dict[str, dict[str, Any]] = {qid: {"$text": text} for qid, text in zip(query_ids, texts)}
    if "$dense" in needed:
        for qid, text in zip(query_ids, texts):
            inputs[qid]["$dense"] = embedders.dense.embed_query(text)
    if "$tokens" in needed:
        for qid, text, matrix in zip(query_ids, texts, embedders.dense.embed_tokens(texts)):
            inputs[qid]["$tokens"] = matrix if len(matrix) else embedders.dense.embed_query(text).reshape(1, -1)
    if "$sparse" in needed:
        for qid, text in zip(query_ids, texts):
            indices, values = embedders.sparse.embed_query(text)
            inputs[qid]["$sparse"] = (
                {"indices": indices, "values": values}
                if sparse_vocabulary is None
                else sparse_vocabulary.encode(indices, values)
            )
    return inputs


@dataclass
class PlanRun:
    """One plan's ranked lists and per-query latencies (ms), in query order."""

    plan: Plan
    run: Run
    latencies_ms: list[float]


def run_plan(
    indexed: IndexedCollection,
    plan: Plan,
    inputs: dict[str, dict[str, Any]],
    *,
    limit: int = 100,
    warmup: int = 3,
) -> PlanRun:
    """Send ``plan`` once per query (after ``warmup`` untimed queries) and collect the run.

    The request's top-level ``limit`` is set to ``limit`` (the evaluation depth); payloads and
    vectors are not returned.
    """
    if not isinstance(limit, int) or limit < 1:
        raise ValueError("limit must be a positive integer")
    missing = vector_names(plan.request) - indexed.vectors
    if missing:
        raise ValueError(f"plan {plan.name!r}: the collection was indexed without vectors {sorted(missing)}")
    requests = {
        qid: {**fill(plan.request, values), "limit": limit, "with_payload": False, "with_vector": False}
        for qid, values in inputs.items()
    }
    client, name, doc_ids = indexed.client, indexed.name, indexed.doc_ids
    run: Run = {}
    latencies: list[float] = []
    with single_threaded_blas():
        for request in list(requests.values())[:warmup]:
            client.query_batch_points(name, [request])
        for qid, request in requests.items():
            began = time.perf_counter()
            (response,) = client.query_batch_points(name, [request])
            latencies.append((time.perf_counter() - began) * 1000.0)
            run[qid] = {doc_ids[point.id]: float(point.score) for point in response.points}
    return PlanRun(plan, run, latencies)


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """BLAS limited to one thread (threadpoolctl), or nothing when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
