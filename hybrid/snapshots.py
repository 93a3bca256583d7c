"""Collection snapshots: one tar file that restores a collection exactly.

Layout of the tar: `snapshot.json` (format, source collection, next internal key) and
`collection/`, a collection folder as `Client(path=...)` opens it (config.json, manifest.json,
segments/, wal/). A persistent collection is tarred as it is on disk, under the collection lock
(the WAL is written unbuffered, so the files are the durable state): the manifest's segments,
the WAL and the config, not the text indexes (rebuilt on restore). An in-memory collection is
first written in the same layout: its sealed segments as they are, the appendable segment
compacted into one more sealed segment, an empty WAL and a manifest at the current sequence.
Restoring extracts into a staging folder (tar "data" filter: no links out, no absolute paths;
`ExpansionLimits` bound what a compressed or crafted archive may unpack to, checked on the
headers before anything is written),
opens it, and only then replaces the collection (a persistent one is moved aside first and put
back if the new one does not open; an in-memory one is loaded whole into RAM, since the staging
folder is removed afterwards). `SnapshotMixin` holds the Client methods (qdrant-client
names); snapshot files live in `Client.snapshots_path/<collection>/`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.errors import DataDamaged, HybridError, NotFound, ValidationError
from hybrid.checkpoint import MANIFEST, QUARANTINE, Manifest, read_manifest
from hybrid.names import check_name
from hybrid.segment import Segment
from hybrid.storage import files
from hybrid.storage.files import atomic_write, npy_bytes, remove_tree, with_footer

if TYPE_CHECKING:
    import threading

    from hybrid.collection import Collection

FORMAT = 2  # 2: every metadata file and segment folder carries checksums (hybrid.storage)
META_NAME = "snapshot.json"
DATA_NAME = "collection"
SUFFIX = ".snapshot"


class SnapshotNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Snapshot `{name}` not found")


class SnapshotMeta(msgspec.Struct):
    format: int
    collection: str
    next_pid: int = 0


def dump_collection(c: "Collection", root: Path) -> None:
    """Write an in-memory collection's state as a collection folder (call under `c.lock`)."""
    segments_dir = root / "segments"
    segments_dir.mkdir(parents=True)
    (root / "wal").mkdir()
    names, plain, appendable = [], [], ""
    for seg in c.segments:
        if not seg.compacted:  # appendable (or frozen mid-optimisation): dead versions stay behind
            live = np.flatnonzero(seg.live)
            if live.size == 0:
                continue
            was_appendable, seg = seg.appendable, Segment.merged(c.schema, [(seg, live)])
            plain.append(seg.name)  # a copy without indexes (hybrid.checkpoint.Manifest)
            appendable = seg.name if was_appendable else appendable
        directory = segments_dir / seg.name
        directory.mkdir()
        seg.save(directory)
        (directory / f"deleted-{c.seq}.npy").write_bytes(with_footer(npy_bytes(seg.deleted[: seg.size])))
        names.append(seg.name)
    (root / MANIFEST).write_bytes(with_footer(msgspec.json.encode(Manifest(names, c.seq, plain, appendable))))
    (root / "config.json").write_bytes(with_footer(c.config_json()))


def _skip_transient(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out files of writes in progress (atomic-write temporaries, folders being built)."""
    name = info.name.rsplit("/", 1)[-1]
    if files.is_temporary(name) or name == ".lock":
        return None
    return info


def add_durable_state(tar: tarfile.TarFile, root: Path) -> None:
    """Add what a persistent collection's folder holds durably (call under the collection lock):
    config, manifest, the segment folders the manifest names, the WAL and kept-aside damage.
    Left out, as nothing in them is a state while the lock is held: the text indexes (tantivy's
    merge threads add and delete their files at any moment; a restore rebuilds them from the
    segments and the log) and the folders the optimizer writes outside the lock."""
    def add(relative: str, recursive: bool = True) -> None:
        if (root / relative).exists():
            tar.add(root / relative, arcname=f"{DATA_NAME}/{relative}", recursive=recursive, filter=_skip_transient)

    tar.add(root, arcname=DATA_NAME, recursive=False)
    for name in ("config.json", MANIFEST, "wal", QUARANTINE):
        add(name)
    add("segments", recursive=False)
    for name in read_manifest(root).segments:
        add(f"segments/{name}")


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
                    add_durable_state(tar, c.path)
                else:
                    dump_collection(c, staging / DATA_NAME)
            if c.path is None:
                tar.add(staging / DATA_NAME, arcname=DATA_NAME)
        fd = os.open(part, os.O_RDONLY)
        try:
            files.fsync(fd, part)
        finally:
            os.close(fd)
        files.replace(part, dest)
    except OSError as exc:
        raise files.failed("write the snapshot", dest, exc) from exc
    finally:
        part.unlink(missing_ok=True)


@dataclass(frozen=True)
class ExpansionLimits:
    """How far an archive may expand while it is unpacked: at most `ratio` times its own size
    (a plain tar expands to about its size; a gzip bomb to thousands of times it), at most
    `max_bytes` in all (and never more than the free space where it is unpacked), at most
    `max_members` files. Checked on the member headers before anything is written."""

    ratio: float = 20.0
    max_bytes: int = 1 << 40
    max_members: int = 1_000_000


def _unpack(archive: Path, staging: Path, limits: ExpansionLimits) -> None:
    """Read every member header first, refusing (as bad input) the first member that would pass
    a limit, then extract: nothing reaches the disk unless the whole archive fits."""
    budget = min(limits.max_bytes, int(limits.ratio * archive.stat().st_size), shutil.disk_usage(staging).free)
    expanded = members = 0
    with tarfile.open(archive, "r") as tar:
        for member in tar:  # headers only (a compressed stream is decompressed, not written)
            expanded += member.size
            members += 1
            if members > limits.max_members:
                raise ValidationError("snapshot", f"the archive holds more than {limits.max_members} files")
            if expanded > budget:
                raise ValidationError("snapshot", f"the archive expands beyond {budget} bytes ({limits.ratio:g} times "
                                      f"its size of {archive.stat().st_size} bytes, at most {limits.max_bytes} "
                                      "bytes and the free disk space)")
        tar.extractall(staging, filter="data")


def extract_snapshot(archive: Path, staging: Path, name: str,
                     limits: ExpansionLimits = ExpansionLimits()) -> tuple[Path, SnapshotMeta]:
    """Unpack `archive` into `staging`; returns the collection folder (renamed to `name`) and meta."""
    try:
        _unpack(archive, staging, limits)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ValidationError("snapshot", f"not a readable snapshot archive: {exc}") from None
    try:
        meta = msgspec.json.decode((staging / META_NAME).read_bytes(), type=SnapshotMeta)
    except (OSError, msgspec.DecodeError) as exc:
        raise ValidationError("snapshot", f"not a snapshot of this engine ({META_NAME}: {exc})") from None
    if meta.format != FORMAT:
        raise ValidationError("snapshot", f"snapshot format {meta.format} is not supported (expected {FORMAT}; "
                              "format 1 predates checksums: restore it with the version that wrote it)")
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


class SnapshotMixin:
    """Client methods for snapshots (qdrant-client names); part of `AdminMixin`."""

    path: Optional[Path]
    expansion_limits = ExpansionLimits()
    _lock: "threading.RLock"
    _collections: dict[str, "Collection"]

    if TYPE_CHECKING:
        def _get(self, name: str) -> "Collection": ...
        def _open(self, cdir: Path, in_memory: bool = False) -> "Collection": ...

    @property
    def snapshots_path(self) -> Path:
        """Where snapshot files live: `<path>/snapshots`, or a temporary folder for in-memory clients."""
        folder = self.__dict__.get("_snapshots_dir")
        if folder is None:
            if self.path is not None:
                folder = self.path / "snapshots"
            else:
                self._snapshots_tmp = tempfile.TemporaryDirectory(prefix="hybrid-snapshots-")
                folder = Path(self._snapshots_tmp.name)
            self._snapshots_dir = folder
        return folder

    @snapshots_path.setter
    def snapshots_path(self, folder: Path) -> None:
        self._snapshots_dir = Path(folder)

    def _snapshot_folder(self, collection_name: str) -> Path:
        """The snapshot folder of an existing collection (CollectionNotFound otherwise): a name
        never reaches the file system unchecked (`..` would leave the snapshots folder)."""
        return self.snapshots_path / self._get(collection_name).name

    def create_snapshot(self, collection_name: str, wait: bool = True) -> m.SnapshotDescription:
        c = self._get(collection_name)
        return self._snapshot_into(c, self._snapshot_folder(c.name), c.name)

    def _snapshot_into(self, c: "Collection", folder: Path, prefix: str) -> m.SnapshotDescription:
        """Write a snapshot of `c` into `folder` (named `<prefix>-<number>-<time>.snapshot`) and
        its sha256 beside it."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
        dest = folder / f"{prefix}-{time.time_ns() % 10**16}-{stamp}{SUFFIX}"
        with tempfile.TemporaryDirectory(dir=folder, prefix=".staging-") as tmp:
            write_snapshot(c, dest, Path(tmp))
        atomic_write(dest.with_name(dest.name + ".checksum"), sha256_of(dest).encode())
        return describe(dest)

    def list_snapshots(self, collection_name: str) -> list[m.SnapshotDescription]:
        return list_folder(self._snapshot_folder(collection_name))

    def snapshot_file(self, collection_name: str, snapshot_name: str) -> Path:
        """The file of one snapshot (for downloads); NotFound when there is none of that name."""
        return file_in(self._snapshot_folder(collection_name), snapshot_name)

    def delete_snapshot(self, collection_name: str, snapshot_name: str, wait: bool = True) -> bool:
        return delete_file(self.snapshot_file(collection_name, snapshot_name))

    def recover_snapshot(self, collection_name: str, location: str, api_key: Optional[str] = None,
                         checksum: Optional[str] = None, priority: Any = None, wait: bool = True) -> bool:
        """Replace (or create) `collection_name` from a snapshot: `location` is a file inside the
        snapshots folder (`file:///...` or a path), or an http(s) URL it is downloaded from (with
        `api_key` as the `api-key` header, as Qdrant sends it), then checked against `checksum`."""
        if not isinstance(location, str) or not location or "\0" in location:
            raise ValidationError("location", "expected a file:// or http(s):// URL, or a path")
        if location.startswith(("http://", "https://")):
            check_name(collection_name)
            staging = self._staging_root()
            with tempfile.TemporaryDirectory(dir=staging) as tmp:
                file = download(location, Path(tmp) / f"download{SUFFIX}", api_key, self.expansion_limits.max_bytes)
                self.restore_snapshot(collection_name, file, checksum)
            return True
        self.restore_snapshot(collection_name, local_file(location, self.snapshots_path), checksum)
        return True

    def _staging_root(self) -> Path:
        root = (self.path if self.path is not None else self.snapshots_path) / ".staging"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def restore_snapshot(self, collection_name: str, archive: Path, checksum: Optional[str] = None) -> None:
        """Replace (or create) `collection_name` with the collection in the snapshot file `archive`."""
        check_name(collection_name)
        if checksum is not None and sha256_of(archive) != str(checksum).lower():
            raise ValidationError("checksum", "the snapshot's sha256 does not match the given checksum")
        with tempfile.TemporaryDirectory(dir=self._staging_root()) as tmp:
            folder, meta = extract_snapshot(archive, Path(tmp), collection_name, self.expansion_limits)
            if self.path is None:
                restored = _open_or_reject(lambda d: self._open(d, in_memory=True), folder)
                with self._lock:
                    old = self._collections.pop(collection_name, None)
                    self._collections[collection_name] = restored
            else:
                restored, old = self._swap_in(collection_name, folder, Path(tmp) / "previous")
            restored.next_pid = max(restored.next_pid, meta.next_pid)
        if old is not None and self.path is None:
            old.close()

    def _swap_in(self, name: str, folder: Path, aside: Path) -> tuple["Collection", Optional["Collection"]]:
        """Put a restored collection folder in place of the current one; roll back if it does not open."""
        target = self.path / "collections" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            old = self._collections.pop(name, None)
            self.__dict__.get("_unopened", {}).pop(name, None)  # a red collection is replaced too
            if old is not None:
                old.close()
            if target.exists():
                os.replace(target, aside)
            os.replace(folder, target)
            try:
                restored = _open_or_reject(self._open, target)
            except HybridError:
                remove_tree(target)
                if aside.exists():
                    os.replace(aside, target)
                    self._collections[name] = self._open(target)
                raise
            self._collections[name] = restored
        return restored, old


def _open_or_reject(open_folder: Callable[[Path], "Collection"], folder: Path) -> "Collection":
    try:
        return open_folder(folder)
    except DataDamaged as exc:  # the archive's files do not verify: bad input, named
        raise ValidationError("snapshot", f"the snapshot holds a damaged file: "
                              f"{Path(exc.path).relative_to(folder.parent)}: {exc.reason}") from None
    except HybridError:
        raise
    except Exception as exc:  # a damaged archive can fail anywhere in loading: report it as bad input
        raise ValidationError("snapshot", f"the snapshot cannot be opened: {type(exc).__name__}: {exc}") from None


def local_file(location: str, snapshots_path: Path) -> Path:
    """The snapshot file a `file://` location or a path names, which must lie inside the
    snapshots folder (never elsewhere on the machine); other schemes are refused."""
    if "://" in location and not location.startswith("file://"):
        raise ValidationError("location", "expected a file:// or http(s):// URL, or a path")
    file = Path(location.removeprefix("file://")).resolve()
    if not file.is_relative_to(snapshots_path.resolve()):
        raise ValidationError("location", f"snapshots are recovered only from inside {snapshots_path}")
    if not file.is_file():
        raise SnapshotNotFound(location)
    return file


def download(url: str, dest: Path, api_key: Optional[str], max_bytes: int) -> Path:
    """Stream `url` into `dest`, at most `max_bytes`; a failed download is bad input naming it."""
    request = urllib.request.Request(url, headers={"api-key": api_key} if api_key else {})
    written = 0
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(dest, "wb") as out:
            while chunk := response.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise ValidationError("location", f"the snapshot at {url} is larger than {max_bytes} bytes")
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise ValidationError("location", f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ValidationError("location", f"downloading {url} failed: {exc}") from None
    return dest


def list_folder(folder: Path) -> list[m.SnapshotDescription]:
    """The snapshots in `folder`, oldest first."""
    found = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: (p.stat().st_mtime, p.name)) if folder.exists() else []
    return [describe(p) for p in found if p.is_file()]


def file_in(folder: Path, snapshot_name: str) -> Path:
    """The snapshot file `snapshot_name` directly inside `folder` (a bare file name, no path
    parts); SnapshotNotFound otherwise."""
    if not isinstance(snapshot_name, str) or Path(snapshot_name).name != snapshot_name \
            or not snapshot_name.endswith(SUFFIX):
        raise SnapshotNotFound(str(snapshot_name))
    file = folder / snapshot_name
    if not file.is_file():
        raise SnapshotNotFound(snapshot_name)
    return file


def delete_file(file: Path) -> bool:
    file.unlink()
    file.with_name(file.name + ".checksum").unlink(missing_ok=True)
    return True


def describe(file: Path) -> m.SnapshotDescription:
    stat = file.stat()
    checksum_file = file.with_name(file.name + ".checksum")
    created = datetime.fromtimestamp(stat.st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    checksum = checksum_file.read_text().strip() if checksum_file.exists() else None
    return m.SnapshotDescription(name=file.name, size=stat.st_size, creation_time=created, checksum=checksum)


