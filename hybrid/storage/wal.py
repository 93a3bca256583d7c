"""Write-ahead log: checksummed records in numbered files, fsynced with group commit.

A record is `length u32 | crc32 u32 | seq u64 | body`. Files are named by the first sequence
number they hold; `rotate` starts a new file so that a checkpoint can later drop every file it
covers whole.

Failures never leave an acknowledged record that is not durable:
- a failed or short append is cut back to the end of the last good record (the log stays
  appendable once space returns) and raises StorageError;
- a failed fsync marks the log failed: nothing after the last good fsync is acknowledged, and
  every later write raises until the collection is reopened (the kernel may have dropped the
  dirty pages, so only a reopen knows what is on disk).

On open (hybrid.storage.wal_scan) an incomplete record at the very end of the last file is a
write that a crash interrupted before it was acknowledged and is cut off; any other bad record
is damage: replay stops before it, the rest of the log is moved into the collection's
`damaged/` folder, and `damage` says which sequence numbers could not be applied.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from pathlib import Path
from typing import Iterator, Optional

from hybrid.errors import StorageError
from hybrid.storage import files
from hybrid.storage.wal_scan import HEADER, WalDamage, file_name, first_seq, scan_log

_log = logging.getLogger("hybrid.wal")


class WriteAheadLog:
    def __init__(self, directory: Path, checkpoint_seq: int = 0, quarantine: Optional[Path] = None) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.failure: Optional[str] = None  # set when an fsync failed: writes refused until reopen
        found = scan_log(directory, checkpoint_seq, quarantine or directory.parent / "damaged")
        self._files: list[Path] = found.files
        self.damage: Optional[WalDamage] = found.damage
        self.last_seq = found.last_seq
        self._synced = self.last_seq
        if not self._files:
            self._files.append(directory / file_name(self.last_seq + 1))
            self._create(self._files[-1])
        self._fd = self._open(self._files[-1])
        self._end = os.lseek(self._fd, 0, os.SEEK_END)  # end of the last good record

    def _create(self, path: Path) -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        files.fsync_dir(self.directory)

    @staticmethod
    def _open(path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # ------------------------------------------------------------------ reading
    def replay(self, after_seq: int = 0) -> Iterator[tuple[int, bytes]]:
        """Every record with seq > after_seq, in order (the log was verified on open)."""
        for i, path in enumerate(list(self._files)):
            nxt = first_seq(self._files[i + 1]) if i + 1 < len(self._files) else None
            if nxt is not None and nxt - 1 <= after_seq:
                continue
            data = path.read_bytes()
            pos = 0
            while pos + HEADER.size <= len(data):
                length, crc, seq = HEADER.unpack_from(data, pos)
                body = data[pos + HEADER.size: pos + HEADER.size + length]
                if len(body) != length or zlib.crc32(body) != crc:
                    raise StorageError(f"{path}: record at byte {pos} changed after the log was opened")
                if seq > after_seq:
                    yield seq, body
                pos += HEADER.size + length

    # ------------------------------------------------------------------ writing
    def _check_usable(self) -> None:
        if self.failure is not None:
            raise StorageError(f"the write-ahead log failed earlier ({self.failure}); "
                               "writes are refused until the collection is reopened")

    def append(self, body: bytes) -> int:
        """Write one record (durable after `sync`); returns its sequence number.

        On any failure the file is cut back to the last good record and StorageError raises:
        the record does not exist, and the next append starts on a clean end."""
        with self._write_lock:
            self._check_usable()
            seq = self.last_seq + 1
            path = self._files[-1]
            try:
                files.write_all(self._fd, HEADER.pack(len(body), zlib.crc32(body), seq) + body, path)
            except OSError as exc:
                self._cut_back(path)
                raise files.failed("append to the write-ahead log", path, exc, "the write was not applied") from exc
            self._end += HEADER.size + len(body)
            self.last_seq = seq
            return seq

    def _cut_back(self, path: Path) -> None:
        try:
            files.truncate(self._fd, path, self._end)
        except OSError as exc:  # the torn bytes stay: the log cannot take more records safely
            self.failure = f"cannot cut {path} back to byte {self._end} after a failed append: {exc}"
            _log.error("%s", self.failure)

    def sync(self, seq: int) -> None:
        """Make every record up to `seq` durable. Concurrent callers share one fsync."""
        if self._synced >= seq:
            return
        with self._sync_lock:
            if self._synced >= seq:
                return
            self._check_usable()
            target = self.last_seq
            try:
                files.fsync(self._fd, self._files[-1])
            except OSError as exc:
                self.failure = f"fsync of {self._files[-1]} failed: {exc.strerror or exc}"
                _log.error("%s", self.failure)
                raise files.failed("fsync the write-ahead log", self._files[-1], exc,
                                   "the write is not acknowledged; writes are refused until a reopen") from exc
            self._synced = target

    def rotate(self) -> int:
        """Start a new file; returns the last seq held by the older files."""
        with self._write_lock:
            self._check_usable()
            old = self._files[-1]
            path = self.directory / file_name(self.last_seq + 1)
            try:
                files.fsync(self._fd, old)
                self._synced = self.last_seq
                if path != old:
                    fd = self._open(path)
                    files.fsync_dir(self.directory)
                    os.close(self._fd)
                    self._fd, self._end = fd, 0
                    self._files.append(path)
            except OSError as exc:
                self.failure = f"cannot start {path}: {exc.strerror or exc}"
                raise files.failed("start a new write-ahead log file", path, exc) from exc
            return self.last_seq

    def drop_until(self, seq: int) -> None:
        """Delete files all of whose records are <= seq (they are covered by a checkpoint).
        A file that cannot be deleted is kept (replay skips what the checkpoint covers)."""
        with self._write_lock:
            keep: list[Path] = []
            for i, path in enumerate(self._files):
                next_first = first_seq(self._files[i + 1]) if i + 1 < len(self._files) else None
                if next_first is not None and next_first - 1 <= seq:
                    try:
                        path.unlink(missing_ok=True)
                        continue
                    except OSError as exc:
                        _log.warning("cannot delete %s (covered by the checkpoint): %s", path, exc)
                keep.append(path)
            self._files = keep
            try:
                files.fsync_dir(self.directory)
            except OSError as exc:  # the deletions may come back after a power loss: harmless
                _log.warning("cannot fsync %s: %s", self.directory, exc)

    def close(self) -> None:
        with self._write_lock:
            if self._fd < 0:
                return
            try:
                if self.failure is None:
                    files.fsync(self._fd, self._files[-1])
            except OSError as exc:  # every acknowledged record was fsynced already
                _log.error("closing %s: fsync failed: %s", self._files[-1], exc)
            finally:
                os.close(self._fd)
                self._fd = -1
