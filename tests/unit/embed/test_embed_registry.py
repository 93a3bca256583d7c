"""get_embedder name resolution; nothing is loaded by the registry itself."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hybrid.embed import (
    MINILM_ID,
    FastEmbedEmbedder,
    SentenceTransformerEmbedder,
    available_embedders,
    get_embedder,
    get_token_embedder,
    register_embedder,
)
from hybrid.embed import registry


@pytest.mark.parametrize("name", ["minilm", "MiniLM", "all-MiniLM-L6-v2", MINILM_ID, f" {MINILM_ID.upper()} "])
def test_minilm_aliases(name):
    embedder = get_embedder(name)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.model_id == MINILM_ID
    assert embedder.source.endswith("model")


def test_options_reach_the_constructor():
    assert get_embedder("minilm", batch_size=7).batch_size == 7


def test_fastembed_prefix_and_alias():
    embedder = get_embedder("fastembed:BAAI/bge-small-en-v1.5", offline=True)
    assert isinstance(embedder, FastEmbedEmbedder) and embedder.model_name == "BAAI/bge-small-en-v1.5"
    assert isinstance(get_embedder("bge-small-en-v1.5"), FastEmbedEmbedder)


def test_other_names_are_sentence_transformers_sources(tmp_path):
    embedder = get_embedder(str(tmp_path))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.source == str(tmp_path) and embedder.model_id == str(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("indexes.sparse.bm25") is None, reason="BM25 encoder not present")
def test_bm25_hook_returns_the_sparse_encoder():
    encoder = get_embedder("qdrant/bm25")
    assert type(encoder).__module__ == "indexes.sparse.bm25"
    indices, values = encoder.embed_query("running cats")
    assert len(indices) == len(values) == 2 and np.all(values == 1.0)
    with pytest.raises(ValueError, match="per-token"):
        get_token_embedder("qdrant/bm25")


def test_register_custom_embedder(monkeypatch):
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))
    register_embedder("Custom", lambda scale=1: ("custom", scale))
    assert get_embedder("custom", scale=3) == ("custom", 3)
    assert "custom" in available_embedders() and "qdrant/bm25" in available_embedders()
    with pytest.raises(ValueError, match="already registered"):
        register_embedder("custom", lambda: None)
    register_embedder("custom", lambda: "replaced", replace=True)
    assert get_embedder("custom") == "replaced"


def test_invalid_names():
    with pytest.raises(ValueError, match="name"):
        get_embedder("  ")
    with pytest.raises(TypeError, match="factory"):
        register_embedder("x", "not callable")


def test_token_embedder_from_registry():
    assert callable(get_token_embedder("minilm").embed_tokens)
