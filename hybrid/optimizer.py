"""Sealing, checkpoints and recovery of a collection's segments.

Seal: freeze the appendable segment (a new one takes the writes), build a compacted sealed copy
with ANN indexes outside the lock, then swap it in. Checkpoint (persistent collections): write
the sealed segment and every sealed segment's deleted bitset *as of the freeze*, then a
manifest naming them and the freeze's WAL sequence; WAL files before it are dropped. Recovery
loads the manifest's segments and replays the WAL after that sequence: the same state.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import msgspec
import numpy as np

from hybrid import operations as ops
from hybrid.segment import Segment
from hybrid.errors import DataDamaged
from hybrid.storage.files import (
    is_temporary,
    load_checked_npy,
    read_checked,
    remove_orphans,
    remove_tree,
    save_checked_npy,
    write_checked,
    write_dir_atomically,
)
from hybrid.storage.wal import WriteAheadLog
from hybrid.storage.wal_scan import PREFIX, SUFFIX, first_seq, quarantine_report
from indexes.payload.jsonpath import parse_path, values_at

if TYPE_CHECKING:
    from hybrid.collection import Collection

_log = logging.getLogger("hybrid.optimizer")

#: Builds ANN indexes for a freshly sealed segment (set by the dense index integration).
IndexBuilder = Callable[[Segment], None]


MANIFEST = "manifest.json"
QUARANTINE = "damaged"  # damaged data kept aside (never deleted); its REPORT.json says what


class Manifest(msgspec.Struct):
    segments: list[str] = []
    checkpoint_seq: int = 0


class Optimizer:
    """Decides when to seal, vacuum or merge, and swaps rebuilt segments in (optionally in a thread)."""

    def __init__(self, collection: "Collection", background: bool = False) -> None:
        self.c = collection
        self.build_indexes: Optional[IndexBuilder] = None
        self.background = background
        self._thread: Optional[threading.Thread] = None
        self._run_lock = threading.Lock()  # one rebuild at a time
        self.error: Optional[str] = None  # last failure, reported by get_collection

    # ------------------------------------------------------------------ policy
    def threshold_points(self) -> int:
        """Points after which the appendable segment is sealed (Qdrant's indexing_threshold, KB)."""
        kb = self.c.schema.config.optimizer_config.indexing_threshold
        if kb <= 0:
            return 0
        bytes_per_point = sum(4 * s.size for s in self.c.schema.dense.values() if not s.multivector) or 1024
        return max(1, kb * 1024 // bytes_per_point)

    def _vacuum_candidates(self) -> list[Segment]:
        cfg = self.c.schema.config.optimizer_config
        out = []
        for seg in self.c.segments:
            dead = seg.size - seg.live_count
            if not seg.appendable and dead >= cfg.vacuum_min_vector_number and dead > cfg.deleted_threshold * seg.size:
                out.append(seg)
        return out

    def pending(self) -> list[Segment]:
        """Sealed segments to rebuild now (the appendable one is always included by rebuild)."""
        limit = self.threshold_points()
        vacuum = self._vacuum_candidates()
        if vacuum or (limit and self.c.appendable.size >= limit):
            return vacuum
        return []

    def after_write(self) -> None:
        if self.c.optimizing:
            return
        limit = self.threshold_points()
        if not ((limit and self.c.appendable.size >= limit) or self._vacuum_candidates()):
            return
        if self.background:
            self.c.optimizing = True
            self._thread = threading.Thread(target=self._run, args=(None,), name=f"optimize-{self.c.name}", daemon=True)
            self._thread.start()
        else:
            self._run(None)

    def _run(self, sources: Optional[list[Segment]]) -> None:
        try:
            with self._run_lock:
                self.rebuild(self.pending() if sources is None else sources)
                self.error = None
        except Exception as exc:  # a background failure must not vanish: logged and reported
            self.error = f"{type(exc).__name__}: {exc}"
            _log.exception("optimization of collection %r failed", self.c.name)
            if not self.background:
                raise
        finally:
            self.c.optimizing = False

    def optimize(self) -> None:
        """Merge every segment into one sealed segment with fresh indexes, now (blocking)."""
        self.wait()
        with self.c.lock:
            self.c.optimizing = True
            sources = [s for s in self.c.segments if not s.appendable]
        self._run(sources)

    def wait(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join()

    def stop(self) -> None:
        self.wait()

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, sealed_sources: list[Segment]) -> None:
        """Replace the appendable segment and `sealed_sources` by one new sealed segment."""
        c = self.c
        with c.lock:
            c.optimizing = True
            frozen = c.appendable
            sources = [s for s in sealed_sources if s in c.segments] + [frozen]
            lives = [np.flatnonzero(s.live) for s in sources]
            if sum(int(x.size) for x in lives) == 0 and len(sources) == 1:
                return
            freeze_seq = c.wal.rotate() if c.wal is not None else c.seq
            frozen.appendable = False
            c._new_appendable()
            snapshot = {s.name: s.deleted[: s.size].copy() for s in c.segments
                        if not s.appendable and s not in sources}
            tenant = tenant_field(c)
        parts = tenant_ordered([(s, live) for s, live in zip(sources, lives) if live.size], tenant)
        sealed = Segment.merged(c.schema, parts)
        c._attach(sealed)  # payload indexes, built outside the lock
        if self.build_indexes is not None and sealed.size:
            self.build_indexes(sealed)
        with c.lock:
            sealed.deleted = np.concatenate([s.deleted[live] for s, live in parts]) if parts else sealed.deleted
            c._attach(sealed)  # an index created while we were building
            c.where.sealed_segment(sealed, sources)
            position = min(c.segments.index(s) for s in sources)
            kept = [s for s in c.segments if s not in sources]
            if sealed.size:
                kept.insert(position, sealed)
                snapshot[sealed.name] = np.zeros(sealed.size, dtype=bool)
            c.segments = kept
            if c.path is not None:
                self._checkpoint(snapshot, freeze_seq)

    def _checkpoint(self, deleted: dict[str, np.ndarray], seq: int) -> None:
        """Persist the sealed segments as of `seq`: folders (each written once, so one a failed
        checkpoint did not write is written now), checked bitsets, then the manifest; only then
        drop the WAL it covers. A failure before the manifest leaves the previous checkpoint."""
        root: Path = self.c.path
        seg_dir = root / "segments"
        seg_dir.mkdir(exist_ok=True)
        sealed = [s for s in self.c.segments if not s.appendable and s.name in deleted]
        for seg in sealed:
            if not (seg_dir / seg.name).is_dir():
                write_dir_atomically(seg_dir / seg.name, seg.save)
                seg.move_to_disk(seg_dir / seg.name)
        names = [s.name for s in sealed]
        for name in names:
            save_checked_npy(seg_dir / name / f"deleted-{seq}.npy", deleted[name])
        self.c.text.commit(self.c.seq)  # text indexes hold every op up to now: before the WAL drops
        write_checked(root / MANIFEST, msgspec.json.encode(Manifest(names, seq)))
        self.c.wal.drop_until(seq)
        try:
            for child in seg_dir.iterdir():  # segments no manifest names, old bitsets
                if child.name not in names:
                    remove_tree(child)
                else:
                    for f in child.glob("deleted-*.npy"):
                        if f.name != f"deleted-{seq}.npy":
                            f.unlink()
        except OSError as exc:  # the checkpoint stands; leftovers are removed by the next one
            _log.warning("checkpoint of %r: cannot remove an old file: %s", self.c.name, exc)


def tenant_field(c: "Collection") -> Optional[str]:
    """The first keyword/uuid field indexed with `is_tenant` (Qdrant's tenant-optimised storage)."""
    for field, schema in c.field_indexes.items():
        if schema.get("is_tenant") and schema.get("type") in ("keyword", "uuid"):
            return field
    return None


def tenant_ordered(parts: list[tuple[Segment, np.ndarray]], field: Optional[str]) -> list[tuple[Segment, np.ndarray]]:
    """`parts` reordered so that each tenant's points are contiguous in the merged segment
    (a tenant filter then allows one run of offsets: a cheap exact scan over local memory).
    Offsets are internal and ties go by point id, so results do not change."""
    if field is None or not parts:
        return parts
    path = parse_path(field)
    source = np.concatenate([np.full(live.size, i) for i, (_, live) in enumerate(parts)])
    offsets = np.concatenate([live for _, live in parts])
    tenants = [str(found[0]) if (found := values_at(seg.payloads[off] or {}, path)) else ""
               for (seg, live) in parts for off in live.tolist()]  # at seal time, once per point
    order = np.argsort(np.array(tenants, dtype=object), kind="stable")
    source, offsets = source[order], offsets[order]
    cuts = np.flatnonzero(np.diff(source)) + 1  # runs of one source segment
    return [(parts[int(run_source[0])][0], run) for run_source, run in
            zip(np.split(source, cuts), np.split(offsets, cuts))]


def read_manifest(root: Path) -> Manifest:
    """The manifest (checked). A missing one means "no checkpoint yet" only while the WAL still
    starts at sequence number 1 (segment folders are then leftovers of an interrupted first
    checkpoint); otherwise opening would silently drop the segments' points, so it refuses."""
    path = root / MANIFEST
    if not path.exists():
        segments = [p.name for p in (root / "segments").glob("*") if not is_temporary(p.name)]
        logs = sorted((root / "wal").glob(f"{PREFIX}*{SUFFIX}"))
        if segments and not (logs and first_seq(logs[0]) == 1):
            raise DataDamaged(path, f"the file is missing while segments/ holds {len(segments)} segment "
                              "folder(s); restore it (or the collection from a snapshot)")
        return Manifest()
    try:
        return msgspec.json.decode(read_checked(path), type=Manifest)
    except msgspec.DecodeError as exc:
        raise DataDamaged(path, f"not a manifest: {exc}") from None


def open_collection(collection: "Collection", load_index: Callable[[Any, Path], Any]) -> None:
    """Load sealed segments from the manifest, then replay the WAL after its checkpoint.

    Damaged files raise DataDamaged naming them; a damaged WAL is kept aside and the
    collection opens with what precedes the damage, red (`c.damage`), refusing writes."""
    c = collection
    root: Path = c.path
    for folder in (root, root / "segments", root / "wal", *(root / "segments").glob("*")):
        for orphan in remove_orphans(folder):
            _log.info("removed %s (left by an interrupted write)", orphan)
    manifest = read_manifest(root)
    sealed: list[Segment] = []
    for name in manifest.segments:
        directory = root / "segments" / name
        if not directory.is_dir():
            raise DataDamaged(directory, f"the segment folder named by {root / MANIFEST} is missing")
        deleted = load_checked_npy(directory / f"deleted-{manifest.checkpoint_seq}.npy")
        seg = Segment.load(c.schema, directory, deleted, load_index)
        c._attach(seg)
        sealed.append(seg)
    c.segments = sealed + [c.segments[-1]]
    for seg in sealed:
        live = np.flatnonzero(seg.live)
        c.where.segment_loaded(seg)
        if seg.size:
            c.next_pid = max(c.next_pid, int(seg.pids.max()) + 1)
        c._stats(seg, live, +1)
    c.seq = manifest.checkpoint_seq
    c.wal = WriteAheadLog(root / "wal", manifest.checkpoint_seq, root / QUARANTINE)
    for field, schema in c.field_indexes.items():
        if schema.get("type") == "text":
            c.text.create(field, schema, rebuild=False)
            # older than the segments, or ahead of the log (its tail was damaged and kept aside):
            # rebuilt from the segments, then the log replays into it
            if not manifest.checkpoint_seq <= c.text.replay_after[field] <= c.wal.last_seq:
                c.text.drop(field)
                c.text.create(field, schema, rebuild=True)
                c.text.replay_after[field] = manifest.checkpoint_seq
    for seq, body in c.wal.replay(manifest.checkpoint_seq):
        c._apply(ops.decode(body), seq)
    if (root / QUARANTINE).exists():
        c.damage = quarantine_report(root / QUARANTINE)
