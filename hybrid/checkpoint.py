"""Checkpoints and recovery of a persistent collection's segments.

Layout: `segments/<name>/` folders (each written once under a temporary name, fsynced, with a
checksums.json listing every file; only their checked `deleted-<seq>.npy` bitsets are added
later), `manifest.json` (checked) naming the segments of the last checkpoint and the WAL
sequence number they cover, and `wal/`. A checkpoint (under the collection lock) writes every
sealed segment's bitset as of now, a compact copy of each segment never written (the appendable
one, or one a failed round could not write: `plain` in the manifest, not indexed), then the
manifest; only then are the WAL files it covers and the folders it does not name removed.
Recovery loads the manifest's segments (verified; the copy of the appendable segment comes back
appendable) and replays the WAL after that sequence: the same state, and the same segments.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import msgspec
import numpy as np

from hybrid import operations as ops
from hybrid.errors import DataDamaged
from hybrid.segment import Segment
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

if TYPE_CHECKING:
    from hybrid.collection import Collection

_log = logging.getLogger("hybrid.checkpoint")

MANIFEST = "manifest.json"
QUARANTINE = "damaged"  # damaged data kept aside (never deleted); its REPORT.json says what


class Manifest(msgspec.Struct):
    segments: list[str] = []
    checkpoint_seq: int = 0
    plain: list[str] = []  # compact copies of segments the optimizer did not build: not indexed
    appendable: str = ""  # the plain copy of the appendable segment: appendable again on open


def write_checkpoint(c: "Collection", saved: set[str], being_written: Callable[[], set[str]]) -> None:
    """Make the folder hold `c` as of now (call under `c.lock`): the segments in `saved` get
    their checked deleted bitset, the others are written as compact copies, then the checked
    manifest; then older WAL files, old bitsets and folders neither named nor `being_written`
    go. A failure before the manifest leaves the previous checkpoint (and the WAL) in force;
    the text indexes are not committed when the WAL cannot rotate (a failed fsync)."""
    root: Path = c.path
    seg_dir = root / "segments"
    seg_dir.mkdir(exist_ok=True)
    seq = c.wal.rotate()  # refuses (raises) once an fsync of the log failed
    names, plain, appendable = [], [], ""
    for seg in c.segments:
        if seg.name in saved and (seg_dir / seg.name).is_dir():
            save_checked_npy(seg_dir / seg.name / f"deleted-{seq}.npy", seg.deleted[: seg.size])
            names.append(seg.name)
            continue
        live = np.flatnonzero(seg.live)
        if live.size:
            copy = Segment.merged(c.schema, [(seg, live)])
            write_dir_atomically(seg_dir / copy.name, lambda d, s=copy: _save_with_bitset(s, d, seq))
            names.append(copy.name)
            plain.append(copy.name)
            if seg.appendable:
                appendable = copy.name
    c.text.commit(c.seq)  # text indexes hold every op up to now: before the WAL drops
    write_checked(root / MANIFEST, msgspec.json.encode(Manifest(names, seq, plain, appendable)))
    c.wal.drop_until(seq)
    keep = set(names) | being_written()
    try:
        for child in seg_dir.iterdir():  # segments no manifest names, old bitsets
            if child.name.split(".")[0] not in keep:
                remove_tree(child)
            elif child.is_dir():
                for f in child.glob("deleted-*.npy"):
                    if f.name != f"deleted-{seq}.npy":
                        f.unlink()
    except OSError as exc:  # the checkpoint stands; leftovers are removed by the next one
        _log.warning("checkpoint of %r: cannot remove an old file: %s", c.name, exc)


def _save_with_bitset(seg: Segment, directory: Path, seq: int) -> None:
    seg.save(directory)  # checksums.json last: it lists every file but the bitsets
    save_checked_npy(directory / f"deleted-{seq}.npy", np.zeros(seg.size, dtype=bool))


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


def open_collection(collection: "Collection", load_index: Callable[[Any, Path], Any], root: Path) -> None:
    """Load sealed segments from the manifest in folder `root`, then replay the WAL after its
    checkpoint. An in-memory collection (`c.path` None) is loaded whole into RAM: nothing of it
    stays mapped or open in `root` (its text indexes are rebuilt in RAM, its WAL is closed).

    Damaged files raise DataDamaged naming them; a damaged WAL is kept aside and the
    collection opens with what precedes the damage, red (`c.damage`), refusing writes."""
    c = collection
    in_ram = c.path is None
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
        seg = Segment.load(c.schema, directory, deleted, load_index, in_ram=in_ram)
        if name == manifest.appendable:
            c.segments[-1] = seg.reopened()
            c._attach(c.appendable)
            continue
        c._attach(seg)
        sealed.append(seg)
        if not in_ram:
            c.optimizer.saved.add(name)
        if name not in manifest.plain and seg.size * c.optimizer.bytes_per_point() \
                >= c.optimizer.thresholds().indexing_bytes:
            c.optimizer.indexed.add(name)
    c.segments = sealed + [c.segments[-1]]
    for seg in sealed:
        c.where.segment_loaded(seg)
    app = c.appendable  # a reopened one: its points sit in the map's dicts, as written ones do
    for off, (pid, key) in enumerate(zip(app.ids, app.pids[: app.size].tolist())):
        c.where.place(pid, key, (app, off))
    for seg in c.segments:
        if seg.size:
            c.next_pid = max(c.next_pid, int(seg.pids[: seg.size].max()) + 1)
        c._stats(seg, np.flatnonzero(seg.live), +1)
    c.seq = manifest.checkpoint_seq
    wal = WriteAheadLog(root / "wal", manifest.checkpoint_seq, root / QUARANTINE)
    for field, schema in c.field_indexes.items():
        if schema.get("type") == "text":
            c.text.create(field, schema, rebuild=False)  # in RAM: empty (last_seq -1), rebuilt below
            # older than the segments, or ahead of the log (its tail was damaged and kept aside):
            # rebuilt from the segments, then the log replays into it
            if not manifest.checkpoint_seq <= c.text.replay_after[field] <= wal.last_seq:
                c.text.drop(field)
                c.text.create(field, schema, rebuild=True)
                c.text.replay_after[field] = manifest.checkpoint_seq
    for seq, body in wal.replay(manifest.checkpoint_seq):
        c._apply(ops.decode(body), seq)
    if in_ram:
        wal.close()
    else:
        c.wal = wal
    if (root / QUARANTINE).exists():
        c.damage = quarantine_report(root / QUARANTINE)
