"""Text embedders: dense (sentence-transformers, fastembed), per-token, cached, by name.

``get_embedder("minilm")`` returns the offline all-MiniLM-L6-v2 embedder; models load on first
use, never at import.
"""

from hybrid.embed.base import DenseEmbedder, ModelLoadError, OfflineModelError, TokenEmbedder
from hybrid.embed.cache import CachedEmbedder, EmbeddingCache, default_cache_path, open_default_cache
from hybrid.embed.fastembed_backend import FastEmbedEmbedder
from hybrid.embed.registry import available_embedders, get_embedder, get_token_embedder, register_embedder
from hybrid.embed.sbert import MINILM_ID, SentenceTransformerEmbedder

__all__ = [
    "MINILM_ID",
    "CachedEmbedder",
    "DenseEmbedder",
    "EmbeddingCache",
    "FastEmbedEmbedder",
    "ModelLoadError",
    "OfflineModelError",
    "SentenceTransformerEmbedder",
    "TokenEmbedder",
    "available_embedders",
    "default_cache_path",
    "get_embedder",
    "get_token_embedder",
    "open_default_cache",
    "register_embedder",
]
