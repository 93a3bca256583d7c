"""Shard snapshots and full snapshots (qdrant-client method names), over hybrid.snapshots.

Shards: a collection on one node is one shard (id 0, hybrid.service.LOCAL_SHARD); its shard
snapshots are collection snapshots kept apart in `<snapshots>/<collection>/shards/0/`. Another
shard id is a 404, as on a Qdrant node that holds no such shard.

Full snapshots: one tar in the snapshots folder holding a snapshot of every collection
(`collections/<name>.snapshot`, each restorable alone) and the alias table (`aliases.json`),
named `full-snapshot-<time>.snapshot` as Qdrant names them. Qdrant restores them only at start
(`--storage-snapshot`); `recover_full_snapshot` restores every collection and alias of one.
"""

from __future__ import annotations

import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import msgspec

from hybrid.errors import NotFound, ValidationError
from hybrid import models as m
from hybrid.snapshots import (SUFFIX, SnapshotNotFound, atomic_write, delete_file, describe,
                              file_in, list_folder, sha256_of, write_snapshot)
from hybrid.service import LOCAL_SHARD

if TYPE_CHECKING:
    from hybrid.collection import Collection

ALIASES_NAME = "aliases.json"
FULL_PREFIX = "full-snapshot-"


class ShardNotFound(NotFound):
    def __init__(self, shard_id: Any) -> None:
        super().__init__(f"Shard {shard_id} does not exist on this node (a collection here has only shard {LOCAL_SHARD})")


class SnapshotSetsMixin:
    """Client methods for shard and full snapshots; part of `AdminMixin`."""

    if TYPE_CHECKING:
        snapshots_path: Path

        def _get(self, name: str) -> "Collection": ...
        def _snapshot_folder(self, collection_name: str) -> Path: ...
        def _snapshot_into(self, c: "Collection", folder: Path, prefix: str) -> m.SnapshotDescription: ...
        def _alias_table(self) -> dict[str, str]: ...
        def get_collections(self) -> Any: ...
        def recover_snapshot(self, collection_name: str, location: str, **kw: Any) -> bool: ...
        def restore_snapshot(self, collection_name: str, archive: Path, checksum: Optional[str] = None) -> None: ...
        def update_collection_aliases(self, change_aliases_operations: Any, timeout: Optional[int] = None) -> bool: ...

    # ------------------------------------------------------------------ shard snapshots
    def _shard_folder(self, collection_name: str, shard_id: Any) -> Path:
        folder = self._snapshot_folder(collection_name)  # the collection exists (404 otherwise)
        if isinstance(shard_id, bool) or shard_id != LOCAL_SHARD:
            raise ShardNotFound(shard_id)
        return folder / "shards" / str(LOCAL_SHARD)

    def create_shard_snapshot(self, collection_name: str, shard_id: int, wait: bool = True,
                              timeout: Optional[int] = None) -> m.SnapshotDescription:
        folder = self._shard_folder(collection_name, shard_id)
        c = self._get(collection_name)
        return self._snapshot_into(c, folder, f"{c.name}-shard-{LOCAL_SHARD}")

    def stream_shard_snapshot(self, collection_name: str, shard_id: int) -> Path:
        """A shard snapshot for one download, written outside every listed folder (collection
        names never start with a dot); the caller removes it with `delete_file` once sent."""
        self._shard_folder(collection_name, shard_id)
        c = self._get(collection_name)
        folder = self.snapshots_path / ".streams"
        return folder / self._snapshot_into(c, folder, f"{c.name}-shard-{LOCAL_SHARD}").name

    def list_shard_snapshots(self, collection_name: str, shard_id: int,
                             timeout: Optional[int] = None) -> list[m.SnapshotDescription]:
        return list_folder(self._shard_folder(collection_name, shard_id))

    def shard_snapshot_file(self, collection_name: str, shard_id: int, snapshot_name: str) -> Path:
        return file_in(self._shard_folder(collection_name, shard_id), snapshot_name)

    def delete_shard_snapshot(self, collection_name: str, shard_id: int, snapshot_name: str, wait: bool = True,
                              timeout: Optional[int] = None) -> bool:
        return delete_file(self.shard_snapshot_file(collection_name, shard_id, snapshot_name))

    def recover_shard_snapshot(self, collection_name: str, shard_id: int, location: str, api_key: Optional[str] = None,
                               checksum: Optional[str] = None, priority: Any = None, wait: bool = True,
                               timeout: Optional[int] = None) -> bool:
        self._shard_folder(collection_name, shard_id)
        return self.recover_snapshot(collection_name, location, api_key=api_key, checksum=checksum)

    def restore_shard_snapshot(self, collection_name: str, shard_id: int, archive: Path,
                               checksum: Optional[str] = None) -> None:
        """Replace the shard (the whole collection on one node) from an uploaded snapshot file."""
        self._shard_folder(collection_name, shard_id)
        self.restore_snapshot(collection_name, archive, checksum)

    # ------------------------------------------------------------------ full snapshots
    def create_full_snapshot(self, wait: bool = True, timeout: Optional[int] = None) -> m.SnapshotDescription:
        """Snapshot every collection and the alias table into one file."""
        root = self.snapshots_path
        root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S-%f")
        dest = root / f"{FULL_PREFIX}{stamp}{SUFFIX}"
        with tempfile.TemporaryDirectory(dir=root, prefix=".staging-") as tmp:
            staging = Path(tmp)
            (staging / ALIASES_NAME).write_bytes(msgspec.json.encode(self._alias_table()))
            names = [c.name for c in self.get_collections().collections]
            part = staging / "full.tar"
            with tarfile.open(part, "w") as tar:
                tar.add(staging / ALIASES_NAME, arcname=ALIASES_NAME)
                for name in names:
                    one = staging / f"{name}{SUFFIX}"
                    (staging / name).mkdir()
                    write_snapshot(self._get(name), one, staging / name)
                    tar.add(one, arcname=f"collections/{name}{SUFFIX}")
                    one.unlink()
            part.replace(dest)
        atomic_write(dest.with_name(dest.name + ".checksum"), sha256_of(dest).encode())
        return describe(dest)

    def list_full_snapshots(self, timeout: Optional[int] = None) -> list[m.SnapshotDescription]:
        return [d for d in list_folder(self.snapshots_path) if d.name.startswith(FULL_PREFIX)]

    def full_snapshot_file(self, snapshot_name: str) -> Path:
        if not isinstance(snapshot_name, str) or not snapshot_name.startswith(FULL_PREFIX):
            raise SnapshotNotFound(str(snapshot_name))
        return file_in(self.snapshots_path, snapshot_name)

    def delete_full_snapshot(self, snapshot_name: str, wait: bool = True, timeout: Optional[int] = None) -> bool:
        return delete_file(self.full_snapshot_file(snapshot_name))

    def recover_full_snapshot(self, archive: Path, checksum: Optional[str] = None) -> list[str]:
        """Restore every collection and alias of a full snapshot file (collections of the same
        name are replaced); returns the restored collection names."""
        if checksum is not None and sha256_of(archive) != str(checksum).lower():
            raise ValidationError("checksum", "the snapshot's sha256 does not match the given checksum")
        restored = []
        with tempfile.TemporaryDirectory(dir=self.snapshots_path, prefix=".staging-") as tmp:
            try:
                with tarfile.open(archive, "r:") as tar:
                    members = {m.name: m for m in tar.getmembers()}
                    if ALIASES_NAME not in members:
                        raise ValidationError("snapshot", "not a full snapshot (no aliases.json)")
                    aliases = msgspec.json.decode(tar.extractfile(members[ALIASES_NAME]).read(), type=dict[str, str])
                    for name, member in members.items():
                        if name.startswith("collections/") and name.endswith(SUFFIX):
                            tar.extract(member, tmp, filter="data")
                            restored.append(name.removeprefix("collections/").removesuffix(SUFFIX))
            except (tarfile.TarError, OSError, EOFError, msgspec.DecodeError) as exc:
                raise ValidationError("snapshot", f"not a readable full snapshot: {exc}") from None
            for name in restored:
                self.restore_snapshot(name, Path(tmp) / "collections" / f"{name}{SUFFIX}")
        actions = [{"create_alias": {"alias_name": a, "collection_name": c}} for a, c in aliases.items()]
        if actions:
            self.update_collection_aliases(actions)
        return restored
