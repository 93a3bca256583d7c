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
        return self.entries[seq:]  # entries are 1, 2, 3, ... (applied only in order)

    def digest(self, seq: int) -> Optional[str]:
        """A fingerprint of operation `seq` (None when absent): equal logs agree on it."""
        if not 0 < seq <= len(self.entries):
            return None
        return hashlib.blake2b(pickle.dumps(self.entries[seq - 1], protocol=5), digest_size=16).hexdigest()

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)
        fsync(self._fd, self.path)
        self.entries = []

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
