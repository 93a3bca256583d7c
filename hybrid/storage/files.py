"""Every byte the engine persists goes through here: writes whose byte counts are checked,
fsyncs of files and folders, renames, and the checksum footer of small metadata files.

`FAULTS` is the one seam for fault injection: when `FAULTS.hook` is set, each primitive calls
it as `hook(op, path, size)` before acting (op: "write", "fsync", "fsync_dir", "rename",
"truncate"). The hook may raise (an OSError such as ENOSPC or EIO, or a simulated crash) or,
for "write", return a smaller byte count to make the write short. tests/fault drives it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import zlib
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from hybrid.errors import DataDamaged, StorageError, StorageLocked

Hook = Callable[[str, Path, int], Optional[int]]


class _Faults:
    hook: Optional[Hook] = None


FAULTS = _Faults()

#: Names of temporary files and folders that a crash can leave behind (removed on open).
TEMPORARY_SUFFIXES = (".tmp", ".building", ".part", ".checksum.tmp")
TEMPORARY_PREFIXES = (".staging-",)
TEMPORARY_NAMES = (".staging",)


def _at(op: str, path: Path, size: int = 0) -> Optional[int]:
    hook = FAULTS.hook
    return hook(op, Path(path), size) if hook is not None else None


# ---------------------------------------------------------------------- primitives
def write_all(fd: int, data: bytes | memoryview, path: Path) -> None:
    """Write every byte of `data` at the file position; a short write is continued, and an
    error (ENOSPC, EIO, ...) raises: the caller decides what the partial bytes mean."""
    view = memoryview(data).cast("B")
    while view:
        allowed = _at("write", path, len(view))
        chunk = view if allowed is None else view[:allowed]
        written = os.write(fd, chunk) if len(chunk) else 0
        if written == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        view = view[written:]


def fsync(fd: int, path: Path) -> None:
    _at("fsync", path)
    os.fsync(fd)


def fsync_dir(directory: Path) -> None:
    _at("fsync_dir", directory)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(src: Path, dst: Path) -> None:
    """Rename `src` over `dst` and make the rename durable (fsync of the folder)."""
    _at("rename", dst)
    os.replace(src, dst)
    fsync_dir(Path(dst).parent)


def truncate(fd: int, path: Path, size: int) -> None:
    _at("truncate", path, size)
    os.ftruncate(fd, size)


def failed(action: str, path: Path, exc: OSError, outcome: str = "") -> StorageError:
    """The typed error of a failed persistence step, naming the file and the OS reason."""
    reason = exc.strerror or str(exc)
    return StorageError(f"cannot {action} {path}: {reason} (errno {exc.errno}){'; ' + outcome if outcome else ''}")


# ---------------------------------------------------------------------- whole files
def atomic_write(path: Path, *parts: bytes | memoryview) -> None:
    """Write `parts` (concatenated) to `path` so that a crash or a full disk leaves either the
    old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for part in parts:
                write_all(fd, part, tmp)
            fsync(fd, tmp)
        finally:
            os.close(fd)
        replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise failed("write", path, exc) from exc


def _npy_parts(array: np.ndarray) -> tuple[bytes, memoryview]:
    """An .npy file as (header, the array's bytes): large arrays are written without a copy."""
    import io

    array = np.ascontiguousarray(array)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    return header.getvalue(), memoryview(array.reshape(-1).view(np.uint8))


def npy_bytes(array: np.ndarray) -> bytes:
    return b"".join(bytes(part) for part in _npy_parts(array))


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, *_npy_parts(array))


# ---------------------------------------------------------------------- checked small files
_FOOTER_TAG = b"\n#crc32:"
_FOOTER_LEN = len(_FOOTER_TAG) + 9  # 8 hex digits and a newline


def with_footer(data: bytes) -> bytes:
    return data + _FOOTER_TAG + b"%08x\n" % zlib.crc32(data)


def write_checked(path: Path, data: bytes) -> None:
    """atomic_write with a crc32 footer line (the file stays readable: JSON, then `#crc32:...`)."""
    atomic_write(path, with_footer(data))


def read_checked(path: Path) -> bytes:
    """The bytes written by write_checked; DataDamaged naming the file when they do not verify."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataDamaged(path, "the file is missing") from None
    except OSError as exc:
        raise DataDamaged(path, f"cannot be read: {exc.strerror or exc}") from None
    return verify_footer(raw, path)


def verify_footer(raw: bytes, path: Path) -> bytes:
    data, footer = raw[:-_FOOTER_LEN], raw[-_FOOTER_LEN:]
    if len(raw) < _FOOTER_LEN or not footer.startswith(_FOOTER_TAG) or not footer.endswith(b"\n"):
        raise DataDamaged(path, "no checksum footer (cut short, or written before checksums existed: "
                                "see `hybrid check --upgrade`)")
    try:
        expected = int(footer[len(_FOOTER_TAG):-1], 16)
    except ValueError:
        raise DataDamaged(path, "its checksum footer is unreadable") from None
    if zlib.crc32(data) != expected:
        raise DataDamaged(path, "checksum mismatch (the file changed after it was written)")
    return data


def save_checked_npy(path: Path, array: np.ndarray) -> None:
    write_checked(path, npy_bytes(array))


def load_checked_npy(path: Path) -> np.ndarray:
    import io

    data = read_checked(path)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise DataDamaged(path, f"not an array: {exc}") from None


# ---------------------------------------------------------------------- folders
def write_dir_atomically(final: Path, fill: Callable[[Path], None]) -> None:
    """Build a folder under a temporary name, fsync it, then rename it into place."""
    tmp = final.with_name(final.name + ".building")
    try:
        if tmp.exists():
            remove_tree(tmp)
        tmp.mkdir(parents=True)
        fill(tmp)
        for child in sorted(tmp.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if child.is_dir():
                fsync_dir(child)
            else:
                fd = os.open(child, os.O_RDONLY)
                try:
                    fsync(fd, child)
                finally:
                    os.close(fd)
        fsync_dir(tmp)
        replace(tmp, final)
    except OSError as exc:
        remove_tree(tmp, missing_ok=True)
        raise failed("write", final, exc) from exc


def remove_tree(path: Path, missing_ok: bool = True) -> None:
    """Delete a folder (or file) and everything in it."""
    try:
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                remove_tree(child)
            path.rmdir()
        else:
            path.unlink()
    except FileNotFoundError:
        if not missing_ok:
            raise


def is_temporary(name: str) -> bool:
    return name.endswith(TEMPORARY_SUFFIXES) or name.startswith(TEMPORARY_PREFIXES) or name in TEMPORARY_NAMES


def remove_orphans(folder: Path) -> list[Path]:
    """Delete temporary files and folders a crash left under `folder` (atomic-write
    temporaries, folders being built, snapshot parts, staging folders); returns them."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*") if is_temporary(p.name)]
    found = [p for p in found if not any(is_temporary(parent.name) for parent in p.relative_to(folder).parents
                                          if parent.name)]
    for path in found:
        remove_tree(path)
    return found


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
