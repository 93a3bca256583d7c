"""Server-side inference: `Document`s ({"text", "model", "options"}) -> vectors, as Qdrant does.

`qdrant/bm25` becomes a sparse BM25 vector (documents get term-frequency weights, queries
weight 1 per term); any other model name goes to hybrid.embed (dense, or per-token for
multivectors), through the shared embedding cache when one is given. Embedders are created once
per (model, options) and reused; `warm` loads them ahead of the first request.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

import msgspec

from hybrid.embed.base import ModelLoadError
from hybrid.embed.cache import CachedEmbedder, EmbeddingCache
from hybrid.embed.sbert import MINILM_ID
from hybrid.errors import ModelUnavailable, ValidationError

BM25 = "qdrant/bm25"
#: What `warm` loads by default: the bundled dense/token model and the BM25 encoder.
DEFAULT_MODELS = (MINILM_ID, BM25)


@contextmanager
def _loading(model: str) -> Iterator[None]:
    """A model that cannot be loaded (missing package, offline download) -> ModelUnavailable."""
    try:
        yield
    except ModelLoadError as exc:
        raise ModelUnavailable(str(exc)) from None
    except OSError as exc:
        raise ModelUnavailable(f"model {model!r} cannot be loaded: {exc}") from None


class Inference:
    def __init__(self, cache: Optional[EmbeddingCache] = None) -> None:
        self.cache = cache
        self._embedders: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def _get(self, model: str, options: dict) -> Any:
        key = (model.lower(), msgspec.json.encode(options))
        with self._lock:
            if key not in self._embedders:
                from hybrid.embed.registry import get_embedder

                try:
                    embedder = get_embedder(model, **options)
                except (ValueError, TypeError) as exc:
                    raise ValidationError("model", str(exc)) from None
                if self.cache is not None and model.lower() != BM25:
                    embedder = CachedEmbedder(embedder, self.cache)
                self._embedders[key] = embedder
            return self._embedders[key]

    def warm(self, models: Sequence[str] = DEFAULT_MODELS) -> None:
        """Load `models` now (a first query would otherwise wait seconds for them); raises
        ModelUnavailable naming the model that cannot be loaded."""
        for model in models:
            with _loading(model):
                embedder = self._get(model, {})
                getattr(embedder, "embedder", embedder).embed_query("warm-up")  # the model, not the cache

    def __call__(self, doc: dict, name: str, kind: str, where: str) -> Any:
        model, text = doc.get("model"), doc.get("text")
        if not isinstance(model, str) or not isinstance(text, str):
            raise ValidationError(where, "a document needs a text and a model name")
        options = doc.get("options") or {}
        is_query = where.startswith("query") or ".query" in where or "prefetch" in where
        if model.lower() == BM25:
            if kind != "sparse":
                raise ValidationError(where, f"{BM25} makes sparse vectors, but {name!r} is {kind}")
            enc = self._get(BM25, options)
            idx, val = enc.embed_query(text) if is_query else enc.embed_documents([text])[0]
            return {"indices": idx.tolist(), "values": val.tolist()}
        if kind == "sparse":
            raise ValidationError(where, f"model {model!r} does not make sparse vectors; use {BM25}")
        with _loading(model):
            emb = self._get(model, options)
            if kind == "multivector":
                return emb.embed_tokens([text])[0].tolist()
            vec = emb.embed_query(text) if is_query else emb.embed_documents([text])[0]
            return vec.tolist()
