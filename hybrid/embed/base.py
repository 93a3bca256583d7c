"""Embedder protocols, the model-load error, and input/output normalisation shared by backends.

Every dense embedder returns L2-normalised float32 rows, ``v / max(||v||_2, eps)``, so cosine
similarity is a dot product (the engine stores Cosine vectors normalised too).
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from hybrid.errors import HybridError

_EPS = 1e-12


class ModelLoadError(HybridError):
    """An embedding model could not be loaded (missing files, offline, unknown to the backend)."""

    status_code = 500

    def __init__(self, model_id: str, reason: str) -> None:
        super().__init__(f"embedding model {model_id!r} could not be loaded: {reason}")
        self.model_id = model_id
        self.reason = reason


class OfflineModelError(ModelLoadError):
    """The model is not available locally and downloads are disabled (offline)."""


@runtime_checkable
class DenseEmbedder(Protocol):
    """Texts -> one normalised float32 vector each."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised (models with a query prompt apply it here)."""


@runtime_checkable
class TokenEmbedder(Protocol):
    """Texts -> one (n_tokens, dim) matrix each, for ColBERT-style late interaction."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, (n_tokens, dim) float32 with L2-normalised rows (n_tokens may be 0)."""


def check_texts(texts: Sequence[str], field: str = "texts") -> list[str]:
    """A list of strings, or TypeError naming the field (a bare str is rejected: it is iterable)."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{field} must be a sequence of strings, got {type(texts).__name__}")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{field}[{index}] must be a string, got {type(text).__name__}")
    return list(texts)


def check_text(text: str, field: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{field} must be a string, got {type(text).__name__}")
    return text


def check_batch_size(batch_size: int) -> int:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (zero rows stay zero), as contiguous float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.ascontiguousarray(matrix / np.maximum(norms, _EPS), dtype=np.float32)
