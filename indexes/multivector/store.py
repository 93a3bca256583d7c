"""Token storage for multivectors: one flat token matrix plus per-offset row ranges.

Point `offset` owns rows `tokens[starts[offset]:ends[offset]]` (a variable-length matrix of
`dim`-wide token vectors, ColBERT style). Appending writes the matrix at the end of the flat
buffer; an update appends the new matrix and leaves the old rows as garbage (reclaimed by
`compact`, which `save` applies), so a write never moves other points' rows.

Datatypes follow Qdrant's `datatype` option: float32, float16, or uint8 (a saturating cast of
each value to 0..255, as Qdrant's `as u8`). Scoring reads rows back as float32. For Cosine the
engine normalises float rows before `append` (`maxsim.normalize_tokens`, as Qdrant does on
upsert); uint8 rows are stored raw and normalised when scored.

A store is growable (the appendable segment) or read-only when loaded with `on_disk=True`
(tokens are an `np.memmap`; `present` stays in RAM so removals still work).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import concatenated_ranges  # noqa: F401 (re-exported for this package)

DATATYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}
_FORMAT_VERSION = 1
_MIN_CAPACITY = 256


class MultiVectorStore:
    """Growable flat storage of variable-length token matrices addressed by offset.

    Attributes (views; do not keep them across writes, a write may reallocate):
        tokens: (T, dim) rows of every stored matrix, garbage included.
        starts, ends: int64 per offset; rows of offset i are tokens[starts[i]:ends[i]].
        present: bool per offset; False for removed or never written offsets.
        stamps: uint64 per offset, the `sequence` number of its last write (0 = never), so an
            index built at sequence s knows which offsets changed since (stamps > s).
    """

    def __init__(self, dim: int, datatype: str = "float32", name: str = "") -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if datatype not in DATATYPES:
            raise ValueError(f"datatype must be one of {sorted(DATATYPES)}, got {datatype!r}")
        self.dim = int(dim)
        self.datatype = datatype
        self.name = name
        self.read_only = False
        self._tokens = np.empty((_MIN_CAPACITY, self.dim), dtype=DATATYPES[datatype])
        self._used = 0
        self._starts = np.zeros(_MIN_CAPACITY, dtype=np.int64)
        self._ends = np.zeros(_MIN_CAPACITY, dtype=np.int64)
        self._present = np.zeros(_MIN_CAPACITY, dtype=np.bool_)
        self._stamps = np.zeros(_MIN_CAPACITY, dtype=np.uint64)
        self._n = 0
        self.sequence = 0  # number of writes so far (append counts one per offset)

    @classmethod
    def view(cls, tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, name: str = "") -> "MultiVectorStore":
        """Read-only store over existing arrays, no copy (e.g. a sealed segment's rows, possibly
        an `np.memmap`): offset i owns tokens[starts[i]:ends[i]], absent where ends == starts.
        Every stamp is 0, so an index built over the view treats all offsets as built."""
        datatype = next((key for key, kind in DATATYPES.items() if tokens.dtype == kind), None)
        if datatype is None or tokens.ndim != 2:
            raise ValueError(f"tokens must be a 2-d {sorted(DATATYPES)} array, got {tokens.dtype} {tokens.shape}")
        if starts.shape != ends.shape or starts.ndim != 1:
            raise ValueError("starts and ends must be flat arrays of the same length")
        store = cls(tokens.shape[1], datatype, name)
        store._tokens, store._used = tokens, tokens.shape[0]
        store._starts = np.asarray(starts, dtype=np.int64)
        store._ends = np.asarray(ends, dtype=np.int64)
        store._present = store._ends > store._starts
        store._stamps = np.zeros(starts.shape[0], dtype=np.uint64)
        store._n = starts.shape[0]
        store.read_only = True
        return store

    # ----------------------------------------------------------------- views
    @property
    def tokens(self) -> np.ndarray:
        return self._tokens[: self._used]

    @property
    def starts(self) -> np.ndarray:
        return self._starts[: self._n]

    @property
    def ends(self) -> np.ndarray:
        return self._ends[: self._n]

    @property
    def present(self) -> np.ndarray:
        return self._present[: self._n]

    @property
    def stamps(self) -> np.ndarray:
        return self._stamps[: self._n]

    def __len__(self) -> int:
        """Number of offset slots (max written offset + 1), present or not."""
        return self._n

    @property
    def count(self) -> int:
        """Number of offsets that hold a matrix."""
        return int(np.count_nonzero(self.present))

    @property
    def garbage_tokens(self) -> int:
        """Rows no present offset refers to (left behind by updates and removals)."""
        present = self.present
        return self._used - int((self.ends[present] - self.starts[present]).sum())

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, (int, np.integer)) and 0 <= offset < self._n and bool(self._present[offset])

    # ---------------------------------------------------------------- writes
    def append(self, offset: int, matrix: Any) -> None:
        """Store `matrix` (n_tokens, dim) for `offset`, replacing any previous matrix."""
        self._check_writable()
        offset = self._check_offset(offset)
        rows = self._validate(matrix)
        if offset >= self._starts.shape[0]:
            self._grow_offsets(offset + 1)
        self._n = max(self._n, offset + 1)
        begin, end = self._used, self._used + rows.shape[0]
        if end > self._tokens.shape[0]:
            self._grow_tokens(end)
        self._tokens[begin:end] = rows
        self._used = end
        self._starts[offset], self._ends[offset], self._present[offset] = begin, end, True
        self.sequence += 1
        self._stamps[offset] = self.sequence

    def extend(self, offsets: Any, flat_tokens: Any, lengths: Any) -> None:
        """Batch append: offset k gets the next lengths[k] rows of `flat_tokens` (T, dim).

        Same semantics as calling `append` per offset (later duplicates win), in one copy.
        """
        self._check_writable()
        offsets = np.asarray(offsets)
        lengths = np.asarray(lengths)
        if offsets.ndim != 1 or lengths.shape != offsets.shape:
            raise ValueError("offsets and lengths must be flat arrays of the same length")
        if offsets.size == 0:
            return
        if not (np.issubdtype(offsets.dtype, np.integer) and np.issubdtype(lengths.dtype, np.integer)):
            raise TypeError("offsets and lengths must be integer arrays")
        if offsets.min() < 0:
            raise ValueError("offsets must be >= 0")
        if lengths.min() <= 0:
            raise ValueError(f"{self._where()}: matrix must not be empty (at least one token vector)")
        rows = self._validate(flat_tokens)
        if rows.shape[0] != int(lengths.sum()):
            raise ValueError(f"flat_tokens has {rows.shape[0]} rows, lengths sum to {int(lengths.sum())}")
        top = int(offsets.max()) + 1
        if top > self._starts.shape[0]:
            self._grow_offsets(top)
        self._n = max(self._n, top)
        begin, end = self._used, self._used + rows.shape[0]
        if end > self._tokens.shape[0]:
            self._grow_tokens(end)
        self._tokens[begin:end] = rows
        self._used = end
        new_ends = begin + np.cumsum(lengths)
        _, last_from_end = np.unique(offsets[::-1], return_index=True)
        last = offsets.size - 1 - last_from_end  # a repeated offset keeps its last matrix
        self._starts[offsets[last]], self._ends[offsets[last]] = new_ends[last] - lengths[last], new_ends[last]
        self._present[offsets[last]] = True
        self._stamps[offsets[last]] = self.sequence + 1 + np.arange(last.size, dtype=np.uint64)
        self.sequence += last.size

    def remove(self, offset: int) -> None:
        """Forget the matrix of `offset` (a no-op when it holds none); rows become garbage."""
        offset = self._check_offset(offset)
        if offset < self._n:
            self._present[offset] = False

    def get(self, offset: int) -> np.ndarray:
        """Copy of the matrix of `offset` as float32; KeyError when it holds none."""
        offset = self._check_offset(offset)
        if offset not in self:
            raise KeyError(f"{self._where()}: offset {offset} holds no matrix")
        return np.asarray(self._tokens[self._starts[offset] : self._ends[offset]], dtype=np.float32).copy()

    def compact(self) -> "MultiVectorStore":
        """New in-RAM store with the same offsets and no garbage: rows in offset order."""
        out = MultiVectorStore(self.dim, self.datatype, self.name)
        present = self.present
        lengths = np.where(present, self.ends - self.starts, 0)
        total = int(lengths.sum())
        out._grow_offsets(max(self._n, 1))
        out._grow_tokens(max(total, 1))
        new_ends = np.cumsum(lengths)
        out._starts[: self._n] = new_ends - lengths
        out._ends[: self._n] = new_ends
        out._present[: self._n] = present
        out._stamps[: self._n] = self.stamps
        out._n, out._used, out.sequence = self._n, total, self.sequence
        rows = concatenated_ranges(self.starts[present], self.ends[present])
        out._tokens[:total] = self._tokens[rows]
        return out

    # ----------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write a compacted copy: tokens, starts, ends, present, stamps (.npy) and meta.json."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        compact = self if self.garbage_tokens == 0 else self.compact()
        for name, array in (("tokens", compact.tokens), ("starts", compact.starts),
                            ("ends", compact.ends), ("present", compact.present),
                            ("stamps", compact.stamps)):
            _save_array(path, name, np.ascontiguousarray(array))
        meta = {"version": _FORMAT_VERSION, "dim": self.dim, "datatype": self.datatype, "name": self.name}
        temporary = path / "meta.json.tmp"
        temporary.write_text(json.dumps(meta))
        os.replace(temporary, path / "meta.json")

    @classmethod
    def load(cls, directory: str | os.PathLike[str], on_disk: bool = False) -> "MultiVectorStore":
        """Open a saved store: tokens memory-mapped read-only when `on_disk`, else read into RAM."""
        path = Path(directory)
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported multivector store version {meta.get('version')!r} in {path}")
        store = cls(meta["dim"], meta["datatype"], meta.get("name", ""))
        tokens = np.load(path / "tokens.npy", mmap_mode="r" if on_disk else None)
        if tokens.dtype != DATATYPES[store.datatype] or tokens.ndim != 2 or tokens.shape[1] != store.dim:
            raise ValueError(f"tokens.npy in {path} does not match meta.json")
        store._tokens, store._used = tokens, tokens.shape[0]
        store._starts = np.load(path / "starts.npy")
        store._ends = np.load(path / "ends.npy")
        store._present = np.load(path / "present.npy")
        store._stamps = np.load(path / "stamps.npy")
        store._n = store._starts.shape[0]
        store.sequence = int(store._stamps.max(initial=0))
        store.read_only = on_disk
        return store

    # ------------------------------------------------------------- internals
    def _where(self) -> str:
        return f"multivector {self.name!r}" if self.name else "multivector"

    def _validate(self, matrix: Any) -> np.ndarray:
        where = self._where()
        try:
            rows = np.asarray(matrix, dtype=np.float32)
        except (ValueError, TypeError):
            raise ValueError(f"{where}: must be a list of equal-length number lists") from None
        if rows.ndim in (1, 2) and rows.shape[0] == 0:
            raise ValueError(f"{where}: matrix must not be empty (at least one token vector)")
        if rows.ndim != 2:
            raise ValueError(f"{where}: must be a matrix (list of token vectors), got {rows.ndim} dimension(s)")
        if rows.shape[1] != self.dim:
            raise ValueError(f"{where}: vector dimension error: expected dim {self.dim}, got {rows.shape[1]}")
        if not np.isfinite(rows).all():
            raise ValueError(f"{where}: values must be finite (no NaN or infinity)")
        if self.datatype == "uint8":
            rows = np.clip(rows, 0, 255)
        return rows.astype(DATATYPES[self.datatype], copy=False)

    def _check_offset(self, offset: Any) -> int:
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise TypeError(f"offset must be an integer, got {type(offset).__name__}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        return int(offset)

    def _check_writable(self) -> None:
        if self.read_only:
            raise RuntimeError("multivector store was loaded on_disk (read-only); compact() it to write")

    def _grow_tokens(self, needed: int) -> None:
        capacity = max(needed, 2 * self._tokens.shape[0], _MIN_CAPACITY)
        grown = np.empty((capacity, self.dim), dtype=self._tokens.dtype)
        grown[: self._used] = self._tokens[: self._used]
        self._tokens = grown

    def _grow_offsets(self, needed: int) -> None:
        capacity = max(needed, 2 * self._starts.shape[0], _MIN_CAPACITY)
        for attr in ("_starts", "_ends", "_present", "_stamps"):
            old = getattr(self, attr)
            grown = np.zeros(capacity, dtype=old.dtype)
            grown[: old.shape[0]] = old
            setattr(self, attr, grown)


def _save_array(directory: Path, name: str, array: np.ndarray) -> None:
    """Write `name.npy` atomically: temporary file, fsync, rename over."""
    temporary = directory / f"{name}.npy.tmp"
    with open(temporary, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / f"{name}.npy")
