"""Sealing, checkpoints and recovery of a collection's segments.

Seal: freeze the appendable segment (a new one takes the writes), build a compacted sealed copy
with ANN indexes outside the lock, then swap it in. Checkpoint (persistent collections): write
the sealed segment and every sealed segment's deleted bitset *as of the freeze*, then a
manifest naming them and the freeze's WAL sequence; WAL files before it are dropped. Recovery
loads the manifest's segments and replays the WAL after that sequence: the same state.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import msgspec
import numpy as np

from hybrid import operations as ops
from hybrid.segment import Segment
from hybrid.storage.files import atomic_save_npy, atomic_write, remove_tree, write_dir_atomically
from hybrid.storage.wal import WriteAheadLog

if TYPE_CHECKING:
    from hybrid.collection import Collection

#: Builds ANN indexes for a freshly sealed segment (set by the dense index integration).
IndexBuilder = Callable[[Segment], None]


class Manifest(msgspec.Struct):
    segments: list[str] = []
    checkpoint_seq: int = 0


class Optimizer:
    def __init__(self, collection: "Collection") -> None:
        self.c = collection
        self.build_indexes: Optional[IndexBuilder] = None
        self.background = False
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    # ------------------------------------------------------------------ policy
    def threshold_points(self) -> int:
        """Points after which the appendable segment is sealed (Qdrant's indexing_threshold, KB)."""
        kb = self.c.schema.config.optimizer_config.indexing_threshold
        if kb <= 0:
            return 0
        bytes_per_point = sum(4 * s.size for s in self.c.schema.dense.values() if not s.multivector) or 1024
        return max(1, kb * 1024 // bytes_per_point)

    def after_write(self) -> None:
        limit = self.threshold_points()
        if limit and self.c.appendable.size >= limit and not self.c.optimizing:
            if self.background:
                self._thread = threading.Thread(target=self.seal, name=f"seal-{self.c.name}", daemon=True)
                self.c.optimizing = True
                self._thread.start()
            else:
                self.seal()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        self._stopped = True
        self.wait()

    # ------------------------------------------------------------------ seal
    def seal(self) -> None:
        c = self.c
        with c.lock:
            frozen = c.appendable
            c.optimizing = True
            live = np.flatnonzero(frozen.live)
            if live.size == 0:
                c.optimizing = False
                return
            freeze_seq = c.wal.rotate() if c.wal is not None else c.seq
            frozen.appendable = False
            c._new_appendable()
            snapshot = {s.name: s.deleted[: s.size].copy() for s in c.segments if not s.appendable and s is not frozen}
        try:
            sealed = frozen.sealed_copy(live)
            if self.build_indexes is not None:
                self.build_indexes(sealed)
            with c.lock:
                sealed.deleted = frozen.deleted[live].copy()
                c._attach(sealed)
                for new_off, pid in enumerate(sealed.ids):
                    loc = c.where.get(pid)
                    if loc is not None and loc[0] is frozen:
                        c.where[pid] = (sealed, new_off)
                c.segments[c.segments.index(frozen)] = sealed
                snapshot[sealed.name] = np.zeros(sealed.size, dtype=bool)
                if c.path is not None:
                    self._checkpoint(sealed, snapshot, freeze_seq)
        finally:
            c.optimizing = False

    def _checkpoint(self, new: Segment, deleted: dict[str, np.ndarray], seq: int) -> None:
        root: Path = self.c.path
        seg_dir = root / "segments"
        seg_dir.mkdir(exist_ok=True)
        write_dir_atomically(seg_dir / new.name, new.save)
        names = [s.name for s in self.c.segments if not s.appendable and s.name in deleted]
        for name in names:
            atomic_save_npy(seg_dir / name / f"deleted-{seq}.npy", deleted[name])
        atomic_write(root / "manifest.json", msgspec.json.encode(Manifest(names, seq)))
        self.c.wal.drop_until(seq)
        for child in seg_dir.iterdir():  # segments no manifest names, old bitsets
            if child.name not in names:
                remove_tree(child) if child.is_dir() else child.unlink()
            else:
                for f in child.glob("deleted-*.npy"):
                    if f.name != f"deleted-{seq}.npy":
                        f.unlink()


def open_collection(collection: "Collection", load_index: Callable[[Any, Path], Any]) -> None:
    """Load sealed segments from the manifest, then replay the WAL after its checkpoint."""
    c = collection
    root: Path = c.path
    manifest = Manifest()
    if (root / "manifest.json").exists():
        manifest = msgspec.json.decode((root / "manifest.json").read_bytes(), type=Manifest)
    sealed: list[Segment] = []
    for name in manifest.segments:
        directory = root / "segments" / name
        deleted = np.load(directory / f"deleted-{manifest.checkpoint_seq}.npy")
        seg = Segment.load(c.schema, directory, deleted, load_index)
        c._attach(seg)
        sealed.append(seg)
    c.segments = sealed + [c.segments[-1]]
    for seg in sealed:
        live = np.flatnonzero(seg.live)
        for off in live.tolist():
            c.where[seg.ids[off]] = (seg, off)
        if seg.size:
            c.next_pid = max(c.next_pid, int(seg.pids.max()) + 1)
        c._stats(seg, live, +1)
    c.seq = manifest.checkpoint_seq
    c.wal = WriteAheadLog(root / "wal")
    for seq, body in c.wal.replay(manifest.checkpoint_seq):
        c._apply(ops.decode(body), seq)
