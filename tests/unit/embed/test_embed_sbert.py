"""The bundled all-MiniLM-L6-v2 through SentenceTransformerEmbedder (loaded once per module)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.embed import (
    MINILM_ID,
    CachedEmbedder,
    DenseEmbedder,
    EmbeddingCache,
    ModelLoadError,
    OfflineModelError,
    SentenceTransformerEmbedder,
    TokenEmbedder,
)
from hybrid.embed.sbert import bundled_minilm_folder

TEXTS = [
    "The cat sat on the mat.",
    "A kitten is sitting on a rug.",
    "Quarterly revenue grew by twelve percent.",
    "",
]


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEmbedder(batch_size=16).load()


def test_bundled_model_identity_and_protocols(minilm):
    assert minilm.model_id == MINILM_ID
    assert minilm.dim == 384
    assert isinstance(minilm, DenseEmbedder) and isinstance(minilm, TokenEmbedder)
    assert bundled_minilm_folder().name == "model"


def test_documents_are_normalised_float32_and_semantic(minilm):
    vectors = minilm.embed_documents(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors[:3] @ vectors[:3].T
    assert similarity[0, 1] > 0.5 > similarity[0, 2]


def test_matches_sentence_transformers_and_batching_does_not_matter(minilm):
    reference = minilm.model.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(minilm.embed_documents(TEXTS), reference, atol=1e-5)
    small_batches = SentenceTransformerEmbedder(batch_size=2)
    np.testing.assert_allclose(small_batches.embed_documents(TEXTS), reference, atol=1e-5)
    np.testing.assert_allclose(minilm.embed_query(TEXTS[0]), reference[0], atol=1e-5)
    assert minilm.embed_query(TEXTS[0]).shape == (384,)


def test_empty_input_and_type_errors(minilm):
    assert minilm.embed_documents([]).shape == (0, 384)
    assert minilm.embed_tokens([]) == []
    with pytest.raises(TypeError, match="texts"):
        minilm.embed_documents("not a list")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        minilm.embed_documents(["ok", 3])
    with pytest.raises(TypeError, match="text"):
        minilm.embed_query(None)
    with pytest.raises(ValueError, match="batch_size"):
        SentenceTransformerEmbedder(batch_size=0)


def test_progress_bar_only_for_large_inputs(minilm, capsys):
    SentenceTransformerEmbedder(progress_threshold=3).embed_documents(TEXTS[:2])
    assert "Batches" not in capsys.readouterr().err
    SentenceTransformerEmbedder(progress_threshold=3).embed_documents(TEXTS)
    assert "Batches" in capsys.readouterr().err


def test_token_embeddings_drop_padding_and_special_tokens(minilm):
    texts = ["hello world", "a much longer sentence that forces padding in the batch", ""]
    matrices = minilm.embed_tokens(texts)
    tokenizer = minilm.model.tokenizer
    assert [m.shape[0] for m in matrices] == [len(tokenizer.tokenize(t)) for t in texts] == [2, 11, 0]
    for matrix in matrices:
        assert matrix.dtype == np.float32 and matrix.shape[1] == 384
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    alone = minilm.embed_tokens(texts[:1])[0]
    np.testing.assert_allclose(alone, matrices[0], atol=1e-4)  # padding never leaks in


def test_token_embeddings_are_the_transformer_outputs_without_cls_and_sep(minilm):
    raw = minilm.model.encode(["hello world"], output_value="token_embeddings")[0].numpy()
    assert raw.shape[0] == 4  # [CLS] hello world [SEP]
    expected = raw[1:3] / np.linalg.norm(raw[1:3], axis=1, keepdims=True)
    np.testing.assert_allclose(minilm.embed_tokens(["hello world"])[0], expected, atol=1e-5)


def test_cache_wrapper_returns_identical_vectors(minilm, tmp_path):
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        cached = CachedEmbedder(minilm, cache)
        first = cached.embed_documents(TEXTS)
        np.testing.assert_array_equal(cached.embed_documents(TEXTS), first)
        np.testing.assert_allclose(first, minilm.embed_documents(TEXTS), atol=1e-6)
        tokens = cached.embed_tokens(["hello world", ""])
        assert [t.shape for t in tokens] == [(2, 384), (0, 384)]
        assert len(cache) == 6


def test_loading_is_lazy_and_failures_are_typed(minilm, tmp_path, monkeypatch):
    missing = SentenceTransformerEmbedder(tmp_path / "no-model-here")  # no error until used
    (tmp_path / "no-model-here").mkdir()
    with pytest.raises(ModelLoadError, match="no-model-here"):
        missing.embed_query("x")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineModelError, match="example-org/not-a-model"):
        SentenceTransformerEmbedder("example-org/not-a-model").embed_documents(["x"])
