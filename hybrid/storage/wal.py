"""Write-ahead log: checksummed records in numbered files, fsynced with group commit.

A record is `length u32 | crc32 u32 | seq u64 | body`. A torn or corrupt tail (a crash in the
middle of a write) is cut off when the log is opened, so the folder always opens without repair.
Files are named by the first sequence number they hold; `rotate` starts a new file so that a
checkpoint can later drop every file it covers whole.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator

from hybrid.errors import StorageError

_HEADER = struct.Struct("<IIQ")
_PREFIX, _SUFFIX = "wal-", ".log"


def _file_name(first_seq: int) -> str:
    return f"{_PREFIX}{first_seq:020d}{_SUFFIX}"


def _first_seq(path: Path) -> int:
    return int(path.name[len(_PREFIX):-len(_SUFFIX)])


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WriteAheadLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._files = sorted(directory.glob(f"{_PREFIX}*{_SUFFIX}"))
        self.last_seq = 0
        self._synced = 0
        for path in self._files:  # find the end, trimming a torn tail
            # an empty file still fixes the numbering: its name is the next sequence number
            self.last_seq = max(self.last_seq, _first_seq(path) - 1)
            for seq, _ in self._scan(path, trim=True):
                self.last_seq = seq
        self._synced = self.last_seq
        if not self._files:
            self._files.append(directory / _file_name(1))
            self._files[-1].touch()
            fsync_dir(directory)
        self._fh = open(self._files[-1], "ab", buffering=0)

    # ------------------------------------------------------------------ reading
    def _scan(self, path: Path, trim: bool = False) -> Iterator[tuple[int, bytes]]:
        data = path.read_bytes()
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, crc, seq = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size: pos + _HEADER.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                break
            yield seq, body
            pos += _HEADER.size + length
        if trim and pos < len(data):
            with open(path, "r+b") as fh:
                fh.truncate(pos)
                os.fsync(fh.fileno())

    def replay(self, after_seq: int = 0) -> Iterator[tuple[int, bytes]]:
        """Every record with seq > after_seq, in order."""
        for path in list(self._files):
            for seq, body in self._scan(path):
                if seq > after_seq:
                    yield seq, body

    # ------------------------------------------------------------------ writing
    def append(self, body: bytes) -> int:
        """Write one record (not yet durable); returns its sequence number."""
        with self._write_lock:
            seq = self.last_seq + 1
            try:
                self._fh.write(_HEADER.pack(len(body), zlib.crc32(body), seq) + body)
            except OSError as exc:
                raise StorageError(f"cannot write the WAL: {exc}") from exc
            self.last_seq = seq
            return seq

    def sync(self, seq: int) -> None:
        """Make every record up to `seq` durable. Concurrent callers share one fsync."""
        if self._synced >= seq:
            return
        with self._sync_lock:
            if self._synced >= seq:
                return
            target = self.last_seq
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise StorageError(f"cannot fsync the WAL: {exc}") from exc
            self._synced = target

    def rotate(self) -> int:
        """Start a new file; returns the last seq held by the older files."""
        with self._write_lock:
            os.fsync(self._fh.fileno())
            self._synced = self.last_seq
            self._fh.close()
            path = self.directory / _file_name(self.last_seq + 1)
            if path != self._files[-1]:
                self._files.append(path)
            self._fh = open(path, "ab", buffering=0)
            fsync_dir(self.directory)
            return self.last_seq

    def drop_until(self, seq: int) -> None:
        """Delete files all of whose records are <= seq (they are covered by a checkpoint)."""
        with self._write_lock:
            keep: list[Path] = []
            for i, path in enumerate(self._files):
                next_first = _first_seq(self._files[i + 1]) if i + 1 < len(self._files) else None
                if next_first is not None and next_first - 1 <= seq:
                    path.unlink(missing_ok=True)
                else:
                    keep.append(path)
            self._files = keep
            fsync_dir(self.directory)

    def close(self) -> None:
        with self._write_lock:
            if not self._fh.closed:
                os.fsync(self._fh.fileno())
                self._fh.close()
