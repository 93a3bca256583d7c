"""Server-side inference: `Document`s ({"text", "model", "options"}) -> vectors, as Qdrant does.

`qdrant/bm25` becomes a sparse BM25 vector (documents get term-frequency weights, queries
weight 1 per term); any other model name goes to hybrid.embed (dense, or per-token for
multivectors). Embedders are created once per (model, options) and reused.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from hybrid.embed.base import ModelLoadError
from hybrid.errors import ModelUnavailable, ValidationError

BM25 = "qdrant/bm25"


class Inference:
    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def _get(self, model: str, kind: str, options: dict) -> Any:
        key = (model.lower(), kind, msgspec.json.encode(options))
        with self._lock:
            if key not in self._cache:
                from hybrid.embed.registry import get_embedder

                try:
                    self._cache[key] = get_embedder(model, **options)
                except (ValueError, TypeError) as exc:
                    raise ValidationError("model", str(exc)) from None
            return self._cache[key]

    def __call__(self, doc: dict, name: str, kind: str, where: str) -> Any:
        model, text = doc.get("model"), doc.get("text")
        if not isinstance(model, str) or not isinstance(text, str):
            raise ValidationError(where, "a document needs a text and a model name")
        options = doc.get("options") or {}
        is_query = where.startswith("query") or ".query" in where or "prefetch" in where
        if model.lower() == BM25:
            if kind != "sparse":
                raise ValidationError(where, f"{BM25} makes sparse vectors, but {name!r} is {kind}")
            enc = self._get(BM25, kind, options)
            idx, val = enc.embed_query(text) if is_query else enc.embed_documents([text])[0]
            return {"indices": idx.tolist(), "values": val.tolist()}
        if kind == "sparse":
            raise ValidationError(where, f"model {model!r} does not make sparse vectors; use {BM25}")
        try:
            emb = self._get(model, kind, options)
            if kind == "multivector":
                return emb.embed_tokens([text])[0].tolist()
            vec = emb.embed_query(text) if is_query else emb.embed_documents([text])[0]
            return vec.tolist()
        except ModelLoadError as exc:
            raise ModelUnavailable(str(exc)) from None
        except OSError as exc:
            raise ModelUnavailable(f"model {model!r} cannot be loaded: {exc}") from None
