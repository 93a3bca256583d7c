"""Crash-safe file helpers: write-then-rename and an exclusive folder lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Callable

import numpy as np

from hybrid.errors import StorageLocked
from hybrid.storage.wal import fsync_dir


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_dir_atomically(final: Path, fill: Callable[[Path], None]) -> None:
    """Build a folder under a temporary name, fsync it, then rename it into place."""
    tmp = final.with_name(final.name + ".building")
    if tmp.exists():
        _rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    for child in sorted(tmp.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir():
            fsync_dir(child)
        else:
            with open(child, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def _rmtree(path: Path) -> None:
    for child in path.iterdir():
        _rmtree(child) if child.is_dir() else child.unlink()
    path.rmdir()


def remove_tree(path: Path) -> None:
    if path.exists():
        _rmtree(path)


class FolderLock:
    """Exclusive advisory lock on a data folder (held for the life of the Client)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / ".lock"
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            self._fh.close()
            raise StorageLocked(
                f"The data folder {folder} is already in use by {holder}. "
                "Close the other Client or server first, or use a different path."
            ) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"process {os.getpid()}")
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
