"""The demo's build: what it finds in a data folder, and one embedding cache shared with the evals."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.beir import BeirDataset, load_corpus
from evals.runner import Embedders, index_dataset
from hybrid import Client
from hybrid.demo import build_state, prepare
from hybrid.embed import CachedEmbedder, EmbeddingCache, get_embedder
from indexes.sparse.bm25 import Bm25Encoder

CORPUS = Path(__file__).resolve().parents[3] / "datasets" / "msmarco-5k" / "corpus.jsonl"


@pytest.fixture(scope="module")
def docs():
    return list(load_corpus(CORPUS).values())[:12]


def test_demo_and_evals_share_the_embedding_cache(tmp_path, docs):
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    with Client() as client:
        state = prepare(client, docs, batch=5, cache=cache)
        assert (state.kind, state.present) == ("complete", len(docs))
        assert build_state(client, len(docs), 384).kind == "complete"
        assert build_state(client, len(docs) + 1, 384).kind == "partial"
    entries = len(cache)
    assert entries == 2 * len(docs)  # a dense vector and a token matrix per document
    dataset = BeirDataset("tiny", "test", {d.id: d for d in docs}, {}, {})
    index_dataset(dataset, Embedders(CachedEmbedder(get_embedder("minilm"), cache), Bm25Encoder()), ("dense", "tokens"))
    assert len(cache) == entries  # the evals embedded nothing again
    cache.close()


def test_missing_and_incompatible_collections(docs):
    with Client() as client:
        assert build_state(client, len(docs), 384).kind == "missing"
        client.create_collection("msmarco", vectors_config={"dense": {"size": 384, "distance": "Cosine"}})
        state = build_state(client, len(docs), 384)
        assert state.kind == "incompatible" and "vectors differ" in state.reason


def test_a_damaged_collection_stops_the_demo_unless_rebuilt(tmp_path, docs):
    from hybrid.errors import CollectionDamaged

    with Client(path=tmp_path / "data") as client:
        client.create_collection("msmarco", vectors_config={"dense": {"size": 384, "distance": "Cosine"}})
    config = tmp_path / "data" / "collections" / "msmarco" / "config.json"
    config.write_bytes(config.read_bytes().replace(b"Cosine", b"Cosinx"))  # fails its checksum
    with Client(path=tmp_path / "data") as client:
        with pytest.raises(CollectionDamaged, match="config.json.*--rebuild"):
            prepare(client, docs, batch=6)
        state = prepare(client, docs, rebuild=True, batch=6)
        assert (state.kind, state.present) == ("complete", len(docs))
