"""Optional fastembed (ONNX) dense embedder.

fastembed downloads its models from the Hugging Face hub (or a mirror) into ``cache_dir`` on first
use. Offline (``offline=True``, or ``HF_HUB_OFFLINE`` set when ``offline`` is left ``None``) it
only reads that cache, and a missing model raises :class:`OfflineModelError` naming the model
instead of retrying the network for a minute.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hybrid.embed.base import (
    ModelLoadError,
    OfflineModelError,
    check_batch_size,
    check_text,
    check_texts,
    l2_normalize,
)
from hybrid.embed.sbert import hub_offline


def _text_embedding_class(model_name: str) -> Any:
    try:
        from fastembed import TextEmbedding
    except ImportError:
        raise ModelLoadError(model_name, "fastembed is not installed (pip install fastembed)") from None
    return TextEmbedding


class FastEmbedEmbedder:
    """Dense embeddings from ``fastembed.TextEmbedding`` (e.g. ``BAAI/bge-small-en-v1.5``).

    cache_dir: where fastembed keeps models (its default: a temp folder or
    ``FASTEMBED_CACHE_PATH``). offline: never download (None = follow ``HF_HUB_OFFLINE``).
    threads: ONNX runtime threads (None = runtime default).
    """

    def __init__(
        self,
        model_name: str = "BAAI/bge-small-en-v1.5",
        *,
        cache_dir: str | Path | None = None,
        offline: bool | None = None,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        if not isinstance(model_name, str) or not model_name:
            raise ValueError("model_name must be a non-empty string")
        self.model_name = model_name
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.offline = offline
        self.batch_size = check_batch_size(batch_size)
        self.threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    def __repr__(self) -> str:
        return f"FastEmbedEmbedder(model_name={self.model_name!r})"

    @property
    def model_id(self) -> str:
        return f"fastembed:{self.model_name}"

    @property
    def model(self) -> Any:
        """The loaded ``TextEmbedding`` (loads, or fails with a typed error, on first access)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        TextEmbedding = _text_embedding_class(self.model_name)
        offline = hub_offline() if self.offline is None else self.offline
        try:
            return TextEmbedding(
                self.model_name, cache_dir=self.cache_dir, threads=self.threads, local_files_only=offline
            )
        except ValueError as error:
            if "not supported" in str(error):
                raise ModelLoadError(self.model_name, "fastembed does not support this model") from error
            if offline:
                raise OfflineModelError(
                    self.model_name,
                    f"fastembed could not load it offline: it is not in the cache {self.cache_dir or '(default)'}; "
                    "download it once with network access or point cache_dir at a copy",
                ) from error
            raise ModelLoadError(self.model_name, f"fastembed could not download it: {error}") from error

    @cached_property
    def dim(self) -> int:
        """From fastembed's model table, so it is known without downloading the model."""
        if self._model is not None:
            return int(self._model.embedding_size)
        try:
            return int(_text_embedding_class(self.model_name).get_embedding_size(self.model_name))
        except ValueError as error:
            raise ModelLoadError(self.model_name, "fastembed does not support this model") from error

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised rows."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalize(np.stack(list(self.model.embed(texts, batch_size=self.batch_size))))

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised (fastembed adds the model's query prefix, if any)."""
        text = check_text(text)
        return l2_normalize(np.stack(list(self.model.query_embed([text]))))[0]
