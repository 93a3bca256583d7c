"""Snapshots of a cluster collection, kept by the coordinator (qdrant-client method names, so the
REST snapshot routes serve them unchanged).

- A shard snapshot is the snapshot of one shard, taken by its primary under its write lock (so
  it holds exactly the operations up to one sequence number), stored in this coordinator's
  `<data>/snapshots/<collection>/shards/<id>/`. Recovering a shard from one goes through the
  primary: it becomes the snapshot (one new operation in its log) and gives every other replica a
  snapshot of the result, so the replicas agree; the recovery is acknowledged at
  `write_consistency_factor`, like a write.
- A collection snapshot is a tar of every shard's snapshot and the layout (config, shard ids and
  keys), in `<data>/snapshots/<collection>/`. It recovers into a collection with the same shards,
  or creates one with that layout (Qdrant's distributed recovery also needs the same sharding).
- A full snapshot (`/snapshots`) is laid out as a single node's (hybrid.snapshot_sets): the alias
  table and every collection's snapshot, here each a collection snapshot as above; listing,
  download, deletion and recovery are the single node's own methods.
As in Qdrant's distributed mode, snapshots live where they were made: another coordinator
lists its own.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import msgspec

from hybrid import models as m
from hybrid.cluster.meta import ACTIVE, DEAD, NAMESPACE, Layout
from hybrid.errors import NotFound, Unavailable, ValidationError
from hybrid.snapshot_sets import ALIASES_NAME, FULL_PREFIX, SnapshotSetsMixin
from hybrid.snapshots import SUFFIX, delete_file, describe, download, file_in, list_folder, local_file, sha256_of
from hybrid.storage.files import atomic_write

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

MAX_DOWNLOAD_BYTES = 64 * 1024**3


class ShardNotFound(NotFound):
    def __init__(self, name: str, shard_id: Any) -> None:
        super().__init__(f"Shard {shard_id} of collection `{name}` does not exist")


class ClusterSnapshotMixin:
    @property
    def snapshots_path(self: "ClusterClient") -> Path:
        return Path(self.root) / "snapshots"

    def _keep(self: "ClusterClient", folder: Path, prefix: str, data: bytes) -> m.SnapshotDescription:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
        dest = folder / f"{prefix}-{time.time_ns() % 10**16}-{stamp}{SUFFIX}"
        atomic_write(dest, data)
        atomic_write(dest.with_name(dest.name + ".checksum"), sha256_of(dest).encode())
        return describe(dest)

    def _primary(self: "ClusterClient", layout: Layout, shard_id: int) -> Any:
        primary = next((r for r in layout.shard(shard_id).replicas if r.state == ACTIVE), None)
        if primary is None:
            raise Unavailable(f"shard {shard_id} of {layout.name!r} has no active replica")
        return primary

    def _shard_bytes(self: "ClusterClient", layout: Layout, shard_id: int) -> bytes:
        primary = self._primary(layout, shard_id)
        return self.get(self.handle(layout, shard_id, primary.replica_id).snapshot.remote())

    def _recover_shard(self: "ClusterClient", layout: Layout, shard_id: int, data: bytes) -> None:
        primary = self._primary(layout, shard_id)
        result = self.get(self.handle(layout, shard_id, primary.replica_id).recover.remote(
            data, self._peers(layout, shard_id, primary), NAMESPACE))
        for name in result["failed"]:
            self.mark(layout, shard_id, int(name.rsplit("/", 1)[1]), DEAD)
        if result["acked"] < layout.write_consistency_factor:
            raise Unavailable(f"shard {shard_id} of {layout.name!r} was recovered on {result['acked']} replicas, "
                              f"write_consistency_factor is {layout.write_consistency_factor}")

    def _archive_bytes(self: "ClusterClient", location: str, api_key: Optional[str]) -> bytes:
        """A snapshot file inside the snapshots folder (`file://` or a path), or downloaded."""
        if not isinstance(location, str) or not location or "\0" in location:
            raise ValidationError("location", "expected a file:// or http(s):// URL, or a path")
        if location.startswith(("http://", "https://")):
            with tempfile.TemporaryDirectory() as tmp:
                return download(location, Path(tmp) / f"download{SUFFIX}", api_key, MAX_DOWNLOAD_BYTES).read_bytes()
        return local_file(location, self.snapshots_path).read_bytes()

    # ------------------------------------------------------------------ shard snapshots
    def _shard_folder(self: "ClusterClient", collection_name: str, shard_id: Any) -> tuple[Layout, Path]:
        layout = self.layout(collection_name)
        if isinstance(shard_id, bool) or not any(s.shard_id == shard_id for s in layout.shards):
            raise ShardNotFound(layout.name, shard_id)
        return layout, self.snapshots_path / layout.name / "shards" / str(shard_id)

    def create_shard_snapshot(self: "ClusterClient", collection_name: str, shard_id: int, wait: bool = True,
                              timeout: Optional[int] = None) -> m.SnapshotDescription:
        layout, folder = self._shard_folder(collection_name, shard_id)
        return self._keep(folder, f"{layout.name}-shard-{shard_id}", self._shard_bytes(layout, shard_id))

    def stream_shard_snapshot(self: "ClusterClient", collection_name: str, shard_id: int) -> Path:
        layout, _ = self._shard_folder(collection_name, shard_id)
        folder = self.snapshots_path / ".streams"
        return folder / self._keep(folder, f"{layout.name}-shard-{shard_id}", self._shard_bytes(layout, shard_id)).name

    def list_shard_snapshots(self: "ClusterClient", collection_name: str, shard_id: int,
                             timeout: Optional[int] = None) -> list[m.SnapshotDescription]:
        return list_folder(self._shard_folder(collection_name, shard_id)[1])

    def shard_snapshot_file(self: "ClusterClient", collection_name: str, shard_id: int, snapshot_name: str) -> Path:
        return file_in(self._shard_folder(collection_name, shard_id)[1], snapshot_name)

    def delete_shard_snapshot(self: "ClusterClient", collection_name: str, shard_id: int, snapshot_name: str,
                              wait: bool = True, timeout: Optional[int] = None) -> bool:
        return delete_file(self.shard_snapshot_file(collection_name, shard_id, snapshot_name))

    def recover_shard_snapshot(self: "ClusterClient", collection_name: str, shard_id: int, location: str,
                               api_key: Optional[str] = None, checksum: Optional[str] = None, priority: Any = None,
                               wait: bool = True, timeout: Optional[int] = None) -> bool:
        _priority(priority)
        layout, _ = self._shard_folder(collection_name, shard_id)
        self._recover_shard(layout, shard_id, _checked(self._archive_bytes(location, api_key), checksum))
        return True

    def restore_shard_snapshot(self: "ClusterClient", collection_name: str, shard_id: int, archive: Path,
                               checksum: Optional[str] = None) -> None:
        layout, _ = self._shard_folder(collection_name, shard_id)
        self._recover_shard(layout, shard_id, _checked(archive.read_bytes(), checksum))

    # ------------------------------------------------------------------ collection snapshots
    def create_snapshot(self: "ClusterClient", collection_name: str, wait: bool = True) -> m.SnapshotDescription:
        layout = self.layout(collection_name)
        return self._keep(self.snapshots_path / layout.name, layout.name, self._collection_bytes(layout))

    def _collection_bytes(self: "ClusterClient", layout: Layout) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            _add(tar, "layout.json", msgspec.json.encode(layout))
            for shard in layout.shards:
                _add(tar, f"shards/{shard.shard_id}{SUFFIX}", self._shard_bytes(layout, shard.shard_id))
        return out.getvalue()

    def list_snapshots(self: "ClusterClient", collection_name: str) -> list[m.SnapshotDescription]:
        return list_folder(self.snapshots_path / self.layout(collection_name).name)

    def snapshot_file(self: "ClusterClient", collection_name: str, snapshot_name: str) -> Path:
        return file_in(self.snapshots_path / self.layout(collection_name).name, snapshot_name)

    def delete_snapshot(self: "ClusterClient", collection_name: str, snapshot_name: str, wait: bool = True) -> bool:
        return delete_file(self.snapshot_file(collection_name, snapshot_name))

    def recover_snapshot(self: "ClusterClient", collection_name: str, location: str, api_key: Optional[str] = None,
                         checksum: Optional[str] = None, priority: Any = None, wait: bool = True) -> bool:
        _priority(priority)
        self._restore_collection(collection_name, _checked(self._archive_bytes(location, api_key), checksum))
        return True

    def restore_snapshot(self: "ClusterClient", collection_name: str, archive: Path,
                         checksum: Optional[str] = None) -> None:
        self._restore_collection(collection_name, _checked(archive.read_bytes(), checksum))

    def _restore_collection(self: "ClusterClient", collection_name: str, data: bytes) -> None:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
                saved = msgspec.json.decode(tar.extractfile("layout.json").read(), type=Layout)
                shards = {s.shard_id: tar.extractfile(f"shards/{s.shard_id}{SUFFIX}").read() for s in saved.shards}
        except (tarfile.TarError, KeyError, AttributeError, msgspec.DecodeError) as exc:
            raise ValidationError("snapshot", f"not a cluster collection snapshot: {exc}") from None
        if not self.collection_exists(collection_name):
            self.create_collection(collection_name, shard_number=saved.shard_number,
                                   replication_factor=saved.replication_factor,
                                   write_consistency_factor=saved.write_consistency_factor,
                                   sharding_method=saved.sharding_method, **saved.config)
            for key in dict.fromkeys(s.shard_key for s in saved.shards if s.shard_key is not None):
                self.create_shard_key(collection_name, key, shards_number=sum(s.shard_key == key for s in saved.shards))
        layout = self.layout(collection_name)
        if [(s.shard_id, s.shard_key) for s in layout.shards] != [(s.shard_id, s.shard_key) for s in saved.shards]:
            raise ValidationError("snapshot", f"its shards {[s.shard_id for s in saved.shards]} are not those of "
                                              f"collection {collection_name!r}")
        for shard_id, shard_data in shards.items():
            self._recover_shard(layout, shard_id, shard_data)
        def change(now: Layout) -> None:
            now.field_indexes, now.updates = saved.field_indexes, saved.updates

        self.meta.update(layout.name, change)


    # ------------------------------------------------------------------ full snapshots
    def create_full_snapshot(self: "ClusterClient", wait: bool = True,
                             timeout: Optional[int] = None) -> m.SnapshotDescription:
        """Every collection's snapshot and the alias table in one file."""
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            aliases = {a.alias_name: a.collection_name for a in self.get_aliases().aliases}
            _add(tar, ALIASES_NAME, msgspec.json.encode(aliases))
            for name in self.meta.names():
                layout = self.meta.get(name)
                if layout is not None:  # not deleted meanwhile
                    _add(tar, f"collections/{name}{SUFFIX}", self._collection_bytes(layout))
        return self._keep(self.snapshots_path, FULL_PREFIX.rstrip("-"), out.getvalue())

    list_full_snapshots = SnapshotSetsMixin.list_full_snapshots
    full_snapshot_file = SnapshotSetsMixin.full_snapshot_file
    delete_full_snapshot = SnapshotSetsMixin.delete_full_snapshot

    def recover_full_snapshot(self: "ClusterClient", archive: Path, checksum: Optional[str] = None) -> list[str]:
        self.snapshots_path.mkdir(parents=True, exist_ok=True)  # it stages there
        return SnapshotSetsMixin.recover_full_snapshot(self, archive, checksum)  # type: ignore[arg-type]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _checked(data: bytes, checksum: Optional[str]) -> bytes:
    import hashlib

    if checksum is not None and hashlib.sha256(data).hexdigest() != str(checksum).lower():
        raise ValidationError("checksum", "the snapshot's sha256 does not match the given checksum")
    return data


def _priority(priority: Any) -> None:
    if m.to_builtins(priority) not in (None, "snapshot"):
        raise ValidationError("priority", "only 'snapshot' (the snapshot's data wins) is supported on a cluster")
