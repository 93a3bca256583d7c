"""Data-folder level persistence: the checked collection config, orphan cleanup on open, and
the CollectionInfo of a collection that could not be opened (red, naming the damaged file)."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec

from hybrid import models as m
from hybrid.errors import CollectionDamaged, DataDamaged
from hybrid.storage.files import read_checked, remove_orphans

_log = logging.getLogger("hybrid.storage")


def read_config(cdir: Path) -> dict:
    """A collection's config.json (checked): {"name", "config", "field_indexes"}."""
    path = cdir / "config.json"
    try:
        meta = msgspec.json.decode(read_checked(path))
    except msgspec.DecodeError as exc:
        raise DataDamaged(path, f"not a collection configuration: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise DataDamaged(path, "not a collection configuration: no 'config' object")
    return meta


def remove_data_orphans(data: Path) -> list[Path]:
    """Temporary files a crash left in a data folder outside collections (snapshot parts and
    staging folders, half-written aliases): removed on open and logged."""
    folders = [data, data / "collections", *sorted((data / "snapshots").glob("*"))]
    removed = [orphan for folder in folders for orphan in remove_orphans(folder)]
    for orphan in removed:
        _log.info("removed %s (left by an interrupted write)", orphan)
    return removed


def unopened_info(cdir: Path, damage: DataDamaged) -> m.CollectionInfo:
    """Status red with the damaged file and the reason (optimizer_status.error and warnings,
    both fields of Qdrant's CollectionInfo); CollectionDamaged when even the config is damaged."""
    from hybrid.config import CollectionSchema

    try:
        config = CollectionSchema.from_json(msgspec.json.encode(read_config(cdir)["config"])).config
    except Exception as exc:  # noqa: BLE001 - no config to describe: the error names the file
        raise CollectionDamaged(cdir.name, damage.message) from exc
    return m.CollectionInfo(status="red", optimizer_status={"error": damage.message}, segments_count=0,
                            config=config, payload_schema={}, warnings=[{"message": damage.message}])
