"""A replica's log of applied shard operations: (shard sequence number, method, arguments).

Each record is `<length u32><crc32 u32><pickle>` appended and fsynced before the replica
acknowledges the operation; it is what a returning peer is caught up from (the WAL delta). A
record is written BEFORE the embedded collection applies the operation (and dropped again when the
collection refuses it), and a replica redoes its last record when it opens: every shard operation
is idempotent (upsert/delete/payload writes by id or filter). The other order lost track of an
operation a primary applied and died before logging and forwarding: its returning replica then
matched the new primary's log and silently kept points no one else had.
A torn record at the end of the file is an operation that was never acknowledged: it is dropped;
damage before the end is reported, not skipped.

Compaction keeps the log bounded: records up to a floor every active replica has applied (and the
engine made durable in its own WAL) are cut, always keeping the last record (the redo on open
needs it). `base` is the sequence number before the first kept record; a peer behind it is caught
up by a snapshot of the shard instead (hybrid.cluster.replica).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Optional

from hybrid.errors import DataDamaged
from hybrid.storage.files import fsync, fsync_dir

_HEAD = struct.Struct("<II")
Entry = tuple[int, str, dict]  # (seq, Client method, keyword arguments as builtins)


class OpLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[Entry] = _read(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(path.parent)

    @property
    def last_seq(self) -> int:
        return self.entries[-1][0] if self.entries else 0

    @property
    def base(self) -> int:
        """The sequence number before the first record kept (0 when nothing was compacted)."""
        return self.entries[0][0] - 1 if self.entries else 0

    def append(self, entry: Entry) -> None:
        body = pickle.dumps(entry, protocol=5)
        os.write(self._fd, _HEAD.pack(len(body), zlib.crc32(body)) + body)
        fsync(self._fd, self.path)
        self.entries.append(entry)

    def drop_last(self) -> None:
        """Forget the last record (an operation the collection refused after it was logged)."""
        body = pickle.dumps(self.entries.pop(), protocol=5)
        os.ftruncate(self._fd, os.fstat(self._fd).st_size - _HEAD.size - len(body))
        fsync(self._fd, self.path)

    def since(self, seq: int) -> list[Entry]:
        """The records after `seq` (consecutive numbers: applied only in order); seq >= base."""
        if seq < self.base:
            raise ValueError(f"operations after {seq} were compacted (the log starts after {self.base})")
        return self.entries[seq - self.base:]

    def digest(self, seq: int) -> Optional[str]:
        """A fingerprint of operation `seq` (None when absent or compacted): equal logs agree on it."""
        if not self.base < seq <= self.last_seq:
            return None
        return hashlib.blake2b(pickle.dumps(self.entries[seq - self.base - 1], protocol=5), digest_size=16).hexdigest()

    def compact(self, floor: int) -> None:
        """Cut the records before `floor` (the last record always stays)."""
        keep = min(floor, self.last_seq)
        if keep - 1 > self.base:
            self.reset(self.entries[keep - self.base - 1:])

    def reset(self, entries: list[Entry]) -> None:
        """Replace the whole log (atomically: a new file renamed over the old one)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            for entry in entries:
                body = pickle.dumps(entry, protocol=5)
                f.write(_HEAD.pack(len(body), zlib.crc32(body)) + body)
            f.flush()
            fsync(f.fileno(), tmp)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.entries = list(entries)

    def clear(self) -> None:
        self.reset([])

    def close(self) -> None:
        os.close(self._fd)


def _read(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    data = path.read_bytes()
    entries, pos = [], 0
    while pos + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, pos)
        body = data[pos + _HEAD.size: pos + _HEAD.size + length]
        if len(body) < length:
            break  # torn tail: never acknowledged
        if zlib.crc32(body) != crc:
            if pos + _HEAD.size + length == len(data):
                break  # torn last record
            raise DataDamaged(path, f"operation record at byte {pos} fails its checksum")
        entries.append(pickle.loads(body))
        pos += _HEAD.size + length
    if pos != len(data):
        with open(path, "r+b") as f:  # cut the unacknowledged tail before appending after it
            f.truncate(pos)
    return entries
