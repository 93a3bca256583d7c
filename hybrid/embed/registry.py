"""Embedders by name: ``get_embedder("minilm")``, ``get_embedder("qdrant/bm25")``, ...

Resolution of ``name`` (registered names are case-insensitive):

1. a registered name or alias (see :func:`available_embedders`);
2. ``"fastembed:<model>"``: a :class:`FastEmbedEmbedder` for that fastembed model;
3. anything else: a local sentence-transformers folder or hub name.

Nothing is loaded here: embedders load their model on first use.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from hybrid.embed.base import ModelLoadError
from hybrid.embed.fastembed_backend import FastEmbedEmbedder
from hybrid.embed.sbert import MINILM_ID, SentenceTransformerEmbedder

EmbedderFactory = Callable[..., Any]
FASTEMBED_PREFIX = "fastembed:"
BM25_NAME = "qdrant/bm25"


def register_embedder(name: str, factory: EmbedderFactory, *, replace: bool = False) -> None:
    """Make ``get_embedder(name, **options)`` return ``factory(**options)``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    if not callable(factory):
        raise TypeError("factory must be callable")
    key = name.strip().lower()
    if key in _factories and not replace:
        raise ValueError(f"name {name!r} is already registered (pass replace=True to override)")
    _factories[key] = factory


def available_embedders() -> list[str]:
    """Registered names, sorted."""
    return sorted(_factories)


def get_embedder(name: str = "minilm", **options: Any) -> Any:
    """An embedder for ``name`` (see module docstring); ``options`` go to its constructor."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string naming an embedder")
    key = name.strip().lower()
    if key in _factories:
        return _factories[key](**options)
    if key.startswith(FASTEMBED_PREFIX):
        return FastEmbedEmbedder(name.strip()[len(FASTEMBED_PREFIX) :], **options)
    return SentenceTransformerEmbedder(name, **options)


def get_token_embedder(name: str = "minilm", **options: Any) -> Any:
    """Like :func:`get_embedder`, but the result must offer ``embed_tokens`` (ColBERT-style)."""
    embedder = get_embedder(name, **options)
    if not callable(getattr(embedder, "embed_tokens", None)):
        raise ValueError(f"embedder {name!r} has no per-token embeddings")
    return embedder


def _bm25(**options: Any) -> Any:
    """The engine's fastembed-compatible BM25 sparse encoder (imported only when asked for)."""
    try:
        module = importlib.import_module("indexes.sparse.bm25")
    except ImportError as error:
        raise ModelLoadError(BM25_NAME, f"indexes.sparse.bm25 is not available ({error})") from error
    return module.Bm25Encoder(**options)


def _minilm(**options: Any) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(None, **options)


def _bge_small(**options: Any) -> FastEmbedEmbedder:
    return FastEmbedEmbedder("BAAI/bge-small-en-v1.5", **options)


# Built-in names (lowercase keys); register_embedder adds more.
_factories: dict[str, EmbedderFactory] = {
    "minilm": _minilm,
    "all-minilm-l6-v2": _minilm,
    MINILM_ID.lower(): _minilm,
    "bge-small-en-v1.5": _bge_small,
    BM25_NAME: _bm25,
}
