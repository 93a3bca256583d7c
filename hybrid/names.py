"""Names that become file names: collections (a folder each, snapshot files named after them) and
aliases (kept beside them). One rule for all, Qdrant's plus what the file system needs:

- 1 to 255 characters, none of Qdrant's forbidden ``< > : " / \\ | ? * NUL 0x1F``;
- no control character (a newline in a folder name breaks logs and tools) and no leading dot
  (``.``, ``..``, ``.lock``: the data folder's own entries start with one);
- at most 190 bytes of UTF-8: the longest file named after it, a snapshot's checksum while it is
  written (``<name>-<16 digits>-<timestamp>.snapshot.checksum.tmp``), takes 59 bytes more, and a
  file name holds 255 bytes.
"""

from __future__ import annotations

from typing import Any

from hybrid.errors import InvalidValue

MAX_CHARS, MAX_BYTES = 255, 190
FORBIDDEN = '<>:"/\\|?*'


def check_name(name: Any, field: str = "collection_name") -> str:
    """`name` if it is a valid collection or alias name; else an InvalidValue naming `field`."""
    if not isinstance(name, str) or not name:
        raise InvalidValue(field, "must be a non-empty string")
    if len(name) > MAX_CHARS or len(name.encode("utf-8")) > MAX_BYTES:
        raise InvalidValue(field, f"must be at most {MAX_CHARS} characters and {MAX_BYTES} bytes of UTF-8")
    bad = next((ch for ch in name if ch in FORBIDDEN or ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        raise InvalidValue(field, f"cannot contain {bad!r}")
    if name.startswith("."):
        raise InvalidValue(field, "cannot start with '.'")
    return name
