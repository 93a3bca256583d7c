"""On-disk embedding cache (one sqlite file) and an embedder wrapper that uses it.

Entries are keyed by ``sha1(model_id, kind, text)`` where kind is ``"document"``, ``"query"`` or
``"tokens"`` (document and query vectors differ for models with prompts). Values are raw float32
matrices with their shape; texts themselves are not stored. Re-running an evaluation therefore
embeds only texts it has never seen for that model.

One cache serves the demo, the evaluations and the server (:func:`default_cache_path`):
``$HYBRID_CACHE_DIR/embeddings.sqlite``, by default ``~/.cache/hybrid/embeddings.sqlite``
(``$XDG_CACHE_HOME/hybrid`` when that is set). ``HYBRID_CACHE_DIR=off`` turns it off. Token
vectors dominate its size: about 640 MB for the 5,000 msmarco-5k passages.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hybrid.embed.base import check_text, check_texts

KINDS = ("document", "query", "tokens")
_CHUNK = 500  # keys per SELECT ... IN (...), below sqlite's bound-parameter limit
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key BLOB PRIMARY KEY,
    model_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rows INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    data BLOB NOT NULL
) WITHOUT ROWID
"""


def cache_key(model_id: str, kind: str, text: str) -> bytes:
    """sha1 over length-prefixed fields, so no choice of strings can collide by concatenation."""
    digest = hashlib.sha1()
    for part in (model_id, kind, text):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.digest()


def default_cache_path() -> Path | None:
    """The shared cache file (see the module docstring); None when ``HYBRID_CACHE_DIR=off``."""
    folder = os.environ.get("HYBRID_CACHE_DIR")
    if folder is None:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybrid"
    elif folder.strip().lower() == "off":
        return None
    return Path(folder).expanduser() / "embeddings.sqlite"


def open_default_cache() -> "EmbeddingCache | None":
    """The shared cache, opened (None when turned off)."""
    path = default_cache_path()
    return None if path is None else EmbeddingCache(path)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


class EmbeddingCache:
    """A sqlite file of embeddings; safe to share between threads of one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a cache: no fsync per commit (a query path writes here)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def describe(self) -> str:
        """Where the cache is and how big, e.g. for a start-up line."""
        size = sum(f.stat().st_size for f in self.path.parent.glob(self.path.name + "*") if f.is_file())
        return f"embedding cache {self.path} ({size / 1e6:,.0f} MB, {len(self):,} entries)"

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def get_many(self, model_id: str, kind: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Cached matrix of each text (None where missing), in input order."""
        _check_kind(kind)
        keys = [cache_key(model_id, kind, text) for text in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, rows, dim, data FROM embeddings WHERE key IN ({marks})", chunk)
                for key, n_rows, dim, data in rows:
                    found[key] = np.frombuffer(data, dtype=np.float32).reshape(n_rows, dim)
        return [found.get(key) for key in keys]

    def put_many(self, model_id: str, kind: str, texts: Sequence[str], matrices: Sequence[np.ndarray]) -> None:
        """Store one 2-D float32 matrix per text (a dense vector is stored as one row)."""
        _check_kind(kind)
        if len(texts) != len(matrices):
            raise ValueError(f"texts and matrices differ in length: {len(texts)} != {len(matrices)}")
        records = []
        for text, matrix in zip(texts, matrices):
            array = np.ascontiguousarray(np.atleast_2d(matrix), dtype=np.float32)
            if array.ndim != 2:
                raise ValueError("matrices must be 1-D vectors or 2-D (rows, dim) arrays")
            key = cache_key(model_id, kind, text)
            records.append((key, model_id, kind, array.shape[0], array.shape[1], array.tobytes()))
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", records)
            self._db.commit()


class CachedEmbedder:
    """Wraps an embedder: answers from the cache, embeds (once per distinct text) what is missing."""

    def __init__(self, embedder: Any, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.embedder!r}, cache={str(self.cache.path)!r})"

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def _lookup(self, kind: str, texts: list[str], compute: Any) -> list[np.ndarray]:
        cached = self.cache.get_many(self.model_id, kind, texts)
        missing = list(dict.fromkeys(text for text, hit in zip(texts, cached) if hit is None))
        if missing:
            fresh = compute(missing)
            self.cache.put_many(self.model_id, kind, missing, fresh)
            computed = dict(zip(missing, fresh))
            cached = [computed[text] if hit is None else hit for text, hit in zip(texts, cached)]
        return cached

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._lookup("document", texts, lambda batch: list(self.embedder.embed_documents(batch)))
        return np.vstack(rows).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        text = check_text(text)
        (row,) = self._lookup("query", [text], lambda batch: [self.embedder.embed_query(batch[0])])
        return np.array(row, dtype=np.float32).reshape(-1)

    def embed_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        if not hasattr(self.embedder, "embed_tokens"):
            raise TypeError(f"{self.embedder!r} has no token embeddings")
        texts = check_texts(texts)
        return [np.array(m) for m in self._lookup("tokens", texts, self.embedder.embed_tokens)]
