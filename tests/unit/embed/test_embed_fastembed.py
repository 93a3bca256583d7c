"""fastembed backend: offline loading fails with a typed error naming the model; no network."""

from __future__ import annotations

import pytest

from hybrid.embed import FastEmbedEmbedder, ModelLoadError, OfflineModelError
from hybrid.errors import HybridError

pytest.importorskip("fastembed")

MODEL = "BAAI/bge-small-en-v1.5"


def test_offline_without_cached_model_raises_offline_error(tmp_path):
    embedder = FastEmbedEmbedder(MODEL, cache_dir=tmp_path, offline=True)  # lazy: no error yet
    with pytest.raises(OfflineModelError) as info:
        embedder.embed_documents(["hello"])
    message = str(info.value)
    assert MODEL in message and "offline" in message
    assert info.value.model_id == MODEL
    assert isinstance(info.value, ModelLoadError) and isinstance(info.value, HybridError)


def test_hf_hub_offline_environment_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineModelError, match="bge-small"):
        FastEmbedEmbedder(MODEL, cache_dir=tmp_path).embed_query("hello")


def test_unknown_model_is_a_load_error_not_a_download(tmp_path):
    with pytest.raises(ModelLoadError, match="does not support"):
        FastEmbedEmbedder("example-org/not-a-model", cache_dir=tmp_path, offline=True).embed_query("x")


def test_dimension_is_known_without_downloading(tmp_path):
    embedder = FastEmbedEmbedder(MODEL, cache_dir=tmp_path, offline=True)
    assert embedder.dim == 384
    assert embedder.model_id == f"fastembed:{MODEL}"
    with pytest.raises(ValueError, match="model_name"):
        FastEmbedEmbedder("")
