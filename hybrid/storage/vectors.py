"""Per-segment vector storage, one store per vector name, addressed by offset.

- `DenseStore`: an (capacity, dim) array plus a `present` mask (a point may lack a vector).
- `SparseStore` / `MultiStore`: ragged rows kept as flat arrays with per-offset [start, end);
  a rewrite appends and repoints, the garbage goes away when the segment is sealed (compacted).
Stores grow by doubling; sealing copies live rows into a tight store (optionally memmap'ed).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

from hybrid.config import DenseSpec, SparseSpec
from hybrid.storage.files import atomic_save_npy
from indexes import plain
from indexes.base import Hits, concatenated_ranges

DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


def _grow(array: np.ndarray, capacity: int, fill: Any = 0) -> np.ndarray:
    if array.shape[0] >= capacity:
        return array
    new_cap = max(capacity, 2 * array.shape[0], 16)
    out = np.full((new_cap, *array.shape[1:]), fill, dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


def _load(path: Path, mmap: bool) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


class DenseStore:
    kind = "dense"

    def __init__(self, spec: DenseSpec, data: Optional[np.ndarray] = None, present: Optional[np.ndarray] = None) -> None:
        self.spec = spec
        self.data = data if data is not None else np.zeros((0, spec.size), dtype=DTYPES[spec.datatype])
        self.present = present if present is not None else np.zeros(0, dtype=bool)
        self.index: Any = None  # a VectorIndex over `data` once sealed (HNSW)

    def reserve(self, capacity: int) -> None:
        self.data = _grow(self.data, capacity)
        self.present = _grow(self.present, capacity, False)

    def write(self, offsets: np.ndarray, vectors: np.ndarray) -> None:
        if self.spec.distance == "Cosine":
            vectors = plain.normalize_rows(vectors)
        if self.spec.datatype == "uint8":  # saturate, then truncate, as Qdrant converts to bytes
            vectors = np.clip(vectors, 0, 255)
        self.data[offsets] = vectors
        self.present[offsets] = True

    def erase(self, offsets: np.ndarray) -> None:
        self.present[offsets] = False

    def get(self, offset: int) -> list[float]:
        return np.asarray(self.data[offset], dtype=np.float32).tolist()

    def prepare_query(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32)
        return plain.normalize_rows(query) if self.spec.distance == "Cosine" else query

    def score(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        return plain.dense_scores(self.data[offsets], query, self.spec.distance)

    @classmethod
    def merged(cls, spec: DenseSpec, parts: list[tuple["DenseStore", np.ndarray]]) -> "DenseStore":
        """One tight store of the given live offsets of several stores, in order."""
        dtype = DTYPES[spec.datatype]
        data = np.concatenate([np.asarray(st.data[live], dtype=dtype) for st, live in parts]) if parts \
            else np.zeros((0, spec.size), dtype)
        present = np.concatenate([st.present[live] for st, live in parts]) if parts else np.zeros(0, bool)
        return cls(spec, np.ascontiguousarray(data), present)

    def save(self, directory: Path, stem: str) -> None:
        atomic_save_npy(directory / f"{stem}.data.npy", np.ascontiguousarray(self.data))
        atomic_save_npy(directory / f"{stem}.present.npy", self.present)

    @classmethod
    def load(cls, spec: DenseSpec, directory: Path, stem: str, mmap: bool = True) -> "DenseStore":
        """`mmap`: serve on_disk vectors from a memmap of the file (False: read into RAM)."""
        data = _load(directory / f"{stem}.data.npy", mmap=mmap and spec.on_disk)
        return cls(spec, data, _load(directory / f"{stem}.present.npy", mmap=False))

    def move_to_disk(self, directory: Path, stem: str) -> None:
        """on_disk: after the sealed files are written, serve vectors from a memmap of them
        (the graph and the int8 codes stay in RAM), so resident memory drops."""
        if not self.spec.on_disk or isinstance(self.data, np.memmap):
            return
        self.data = _load(directory / f"{stem}.data.npy", mmap=True)
        if self.index is not None:
            from hybrid.indexing import load_index

            self.index = load_index(self, directory / f"{stem}.index")


class _RaggedStore:
    """Rows of variable length in flat arrays; `starts`/`ends` per offset (ends == starts: absent)."""

    def __init__(self, flat: tuple[np.ndarray, ...], starts: Optional[np.ndarray] = None,
                 ends: Optional[np.ndarray] = None) -> None:
        self.flat = list(flat)
        self.used = flat[0].shape[0]
        self.starts = starts if starts is not None else np.zeros(0, dtype=np.int64)
        self.ends = ends if ends is not None else np.zeros(0, dtype=np.int64)
        self.version = 0
        self._cache: Any = None
        self._cache_version = -1

    @property
    def present(self) -> np.ndarray:
        return self.ends > self.starts

    def reserve(self, capacity: int) -> None:
        self.starts = _grow(self.starts, capacity)
        self.ends = _grow(self.ends, capacity)

    def _append_rows(self, offsets: np.ndarray, lengths: np.ndarray, parts: tuple[np.ndarray, ...]) -> None:
        total = int(lengths.sum())
        for i, part in enumerate(parts):
            self.flat[i] = _grow(self.flat[i], self.used + total)
            self.flat[i][self.used: self.used + total] = part
        bounds = self.used + np.concatenate(([0], np.cumsum(lengths)))
        self.starts[offsets] = bounds[:-1]
        self.ends[offsets] = bounds[1:]
        self.used += total
        self.version += 1

    def erase(self, offsets: np.ndarray) -> None:
        self.ends[offsets] = self.starts[offsets]
        self.version += 1

    def _compacted_flat(self, live: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        s, e = self.starts[live], self.ends[live]
        rows = concatenated_ranges(s, e)
        lengths = e - s
        bounds = np.concatenate(([0], np.cumsum(lengths)))
        return [np.ascontiguousarray(f[rows]) for f in self.flat], bounds[:-1].copy(), bounds[1:].copy()

    @classmethod
    def merged(cls, spec: Any, parts: list[tuple["_RaggedStore", np.ndarray]]) -> "_RaggedStore":
        """One tight store of the given live offsets of several stores, in order."""
        flats, starts, ends, shift = [], [], [], 0
        for store, live in parts:
            flat, s, e = store._compacted_flat(live)
            flats.append(flat)
            starts.append(s + shift)
            ends.append(e + shift)
            shift += flat[0].shape[0]
        if not parts:
            return cls(spec)
        joined = tuple(np.concatenate(cols) for cols in zip(*flats))
        return cls(spec, joined, np.concatenate(starts), np.concatenate(ends))

    def save(self, directory: Path, stem: str) -> None:
        live = np.arange(self.starts.shape[0])
        flat, starts, ends = self._compacted_flat(live)
        for i, part in enumerate(flat):
            atomic_save_npy(directory / f"{stem}.flat{i}.npy", part)
        atomic_save_npy(directory / f"{stem}.starts.npy", starts)
        atomic_save_npy(directory / f"{stem}.ends.npy", ends)

    @staticmethod
    def _load_parts(directory: Path, stem: str, count: int, mmap: bool) -> tuple:
        flat = tuple(_load(directory / f"{stem}.flat{i}.npy", mmap) for i in range(count))
        return flat, _load(directory / f"{stem}.starts.npy", False), _load(directory / f"{stem}.ends.npy", False)


class SparseStore(_RaggedStore):
    """Sparse rows; searched through `index` (sealed: CSC postings) or `growable` (appendable)."""

    kind = "sparse"

    def __init__(self, spec: SparseSpec, flat: Optional[tuple] = None, starts=None, ends=None) -> None:
        super().__init__(flat or (np.zeros(0, np.uint32), np.zeros(0, np.float32)), starts, ends)
        self.spec = spec
        self.index: Any = None  # indexes.sparse.SparseIndex once sealed
        self.growable: Any = None  # indexes.sparse.GrowableSparseIndex while appendable
        self.lock = threading.RLock()  # the growable index changes in place: writes and reads hold it
        self._present_count = (-1, -1, 0)  # (version, size, count) of present_count

    def write(self, offsets: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray) -> None:
        self._append_rows(offsets, np.diff(indptr), (indices, values))
        with self.lock:
            if self.growable is None:
                from indexes.sparse import GrowableSparseIndex

                self.growable = GrowableSparseIndex()
            for i, off in enumerate(offsets.tolist()):  # write path: one posting list update per point
                self.growable.add(off, indices[indptr[i]:indptr[i + 1]], values[indptr[i]:indptr[i + 1]])

    def make_growable(self) -> None:
        """Searchable while appendable (a reopened appendable segment): the growable index over
        the rows it already holds, bulk-loaded."""
        from indexes.sparse import GrowableSparseIndex

        n = self.starts.shape[0]
        rows = concatenated_ranges(self.starts, self.ends)
        indptr = np.concatenate(([0], np.cumsum(self.ends - self.starts))).astype(np.int64)
        with self.lock:
            self.growable = GrowableSparseIndex.from_csr(indptr, self.flat[0][rows], self.flat[1][rows], n)

    def erase(self, offsets: np.ndarray) -> None:
        super().erase(offsets)
        if self.growable is not None:
            with self.lock:
                for off in offsets.tolist():
                    self.growable.remove(off)

    def get(self, offset: int) -> dict:
        s, e = int(self.starts[offset]), int(self.ends[offset])
        return {"indices": self.flat[0][s:e].tolist(), "values": self.flat[1][s:e].tolist()}

    def build_index(self) -> None:
        """Sealed segments: CSC postings over the (tight) rows."""
        from indexes.sparse import SparseIndex

        n = self.starts.shape[0]
        indptr = np.concatenate(([0], self.ends)).astype(np.int64) if n else np.zeros(1, np.int64)
        self.index = SparseIndex.build(indptr, self.flat[0][: int(indptr[-1])], self.flat[1][: int(indptr[-1])], n)

    def _searcher(self) -> Any:
        return self.index if self.index is not None else self.growable

    def _guard(self) -> Any:
        """The lock for reading the growable index (a sealed index never changes)."""
        return self.lock if self.index is None else contextlib.nullcontext()

    def present_count(self, size: int) -> int:
        """Number of offsets below `size` holding a vector (cached per store version and size)."""
        version, cached_size, count = self._present_count
        if version != self.version or cached_size != size:
            count = int(np.count_nonzero(self.present[:size]))
            self._present_count = (self.version, size, count)
        return count

    def search(self, query: tuple[np.ndarray, np.ndarray], limit: int, allowed: np.ndarray, size: int,
               allowed_count: Optional[int] = None, **_: Any) -> Hits:
        """Top `limit` among `allowed` (a subset of the offsets holding a vector, as
        `Segment.base_allowed` gives, possibly narrowed by a filter). When it holds all of them
        (`allowed_count` says so) the index searches without a mask: points without a vector
        have no postings, and the kernel skips the per-point checks."""
        searcher = self._searcher()
        if searcher is None:
            return Hits.empty()
        with self._guard():  # a growable index may hold rows past `size` (later writes): masked out
            n = max(len(searcher), 1)
            if n <= size and allowed_count is not None and allowed_count >= self.present_count(size):
                return searcher.search(query[0], query[1], limit, None)
            mask = np.zeros(n, dtype=bool)
            mask[: min(n, size)] = allowed[: min(n, size)]
            return searcher.search(query[0], query[1], limit, mask)

    def score(self, query: tuple[np.ndarray, np.ndarray], offsets: np.ndarray) -> np.ndarray:
        searcher = self._searcher()
        if searcher is None:
            return np.zeros(offsets.size, np.float32)
        with self._guard():
            return np.asarray(searcher.score(query[0], query[1], offsets), dtype=np.float32)

    def term_rows(self, offsets: np.ndarray) -> np.ndarray:
        """Sparse dimensions of the given offsets, concatenated (for document frequencies)."""
        return self.flat[0][concatenated_ranges(self.starts[offsets], self.ends[offsets])]

    @classmethod
    def load(cls, spec: SparseSpec, directory: Path, stem: str) -> "SparseStore":
        flat, starts, ends = cls._load_parts(directory, stem, 2, mmap=False)
        return cls(spec, flat, starts, ends)
