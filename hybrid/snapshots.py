"""Collection snapshots: one tar file that restores a collection exactly.

Layout of the tar: `snapshot.json` (format, source collection, next internal key) and
`collection/`, a collection folder as `Client(path=...)` opens it (config.json, manifest.json,
segments/, wal/). A persistent collection is tarred as it is on disk, under the collection lock
(the WAL is written unbuffered, so the files are the durable state). An in-memory collection is
first written in the same layout: its sealed segments as they are, the appendable segment
compacted into one more sealed segment, an empty WAL and a manifest at the current sequence.
Restoring extracts into a staging folder (tar "data" filter: no links out, no absolute paths).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from hybrid.errors import ValidationError
from hybrid.optimizer import Manifest
from hybrid.segment import Segment

if TYPE_CHECKING:
    from hybrid.collection import Collection

FORMAT = 1
META_NAME = "snapshot.json"
DATA_NAME = "collection"
SUFFIX = ".snapshot"


class SnapshotMeta(msgspec.Struct):
    format: int
    collection: str
    next_pid: int = 0


def dump_collection(c: "Collection", root: Path) -> None:
    """Write an in-memory collection's state as a collection folder (call under `c.lock`)."""
    segments_dir = root / "segments"
    segments_dir.mkdir(parents=True)
    (root / "wal").mkdir()
    names = []
    for seg in c.segments:
        if seg.appendable:
            live = np.flatnonzero(seg.live)
            if live.size == 0:
                continue
            seg = Segment.merged(c.schema, [(seg, live)])
        directory = segments_dir / seg.name
        directory.mkdir()
        seg.save(directory)
        np.save(directory / f"deleted-{c.seq}.npy", seg.deleted[: seg.size], allow_pickle=False)
        names.append(seg.name)
    (root / "manifest.json").write_bytes(msgspec.json.encode(Manifest(names, c.seq)))
    (root / "config.json").write_bytes(c.config_json())


def _skip_transient(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out files of writes in progress (atomic-write temporaries, folders being built)."""
    name = info.name.rsplit("/", 1)[-1]
    if name.endswith((".tmp", ".building")) or name == ".lock":
        return None
    return info


def write_snapshot(c: "Collection", dest: Path, staging: Path) -> None:
    """Write the snapshot of `c` to `dest` (atomically: via `dest`.part). `staging` is scratch."""
    meta = msgspec.json.encode(SnapshotMeta(FORMAT, c.name, int(c.next_pid)))
    meta_file = staging / META_NAME
    meta_file.write_bytes(meta)
    part = dest.with_name(dest.name + ".part")
    try:
        with tarfile.open(part, "w") as tar:
            tar.add(meta_file, arcname=META_NAME)
            with c.lock:
                if c.path is not None:
                    tar.add(c.path, arcname=DATA_NAME, filter=_skip_transient)
                else:
                    dump_collection(c, staging / DATA_NAME)
            if c.path is None:
                tar.add(staging / DATA_NAME, arcname=DATA_NAME)
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def extract_snapshot(archive: Path, staging: Path, name: str) -> tuple[Path, SnapshotMeta]:
    """Unpack `archive` into `staging`; returns the collection folder (renamed to `name`) and meta."""
    try:
        with tarfile.open(archive, "r") as tar:
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValidationError("snapshot", f"not a readable snapshot archive: {exc}") from None
    try:
        meta = msgspec.json.decode((staging / META_NAME).read_bytes(), type=SnapshotMeta)
    except (OSError, msgspec.DecodeError) as exc:
        raise ValidationError("snapshot", f"not a snapshot of this engine ({META_NAME}: {exc})") from None
    if meta.format != FORMAT:
        raise ValidationError("snapshot", f"snapshot format {meta.format} is not supported (expected {FORMAT})")
    folder = staging / DATA_NAME
    if not (folder / "config.json").is_file():
        raise ValidationError("snapshot", "the snapshot holds no collection configuration")
    target = staging / "restored" / name
    target.parent.mkdir()
    os.replace(folder, target)
    return target, meta


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
