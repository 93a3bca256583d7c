"""`hybrid check --data DIR --upgrade`: give a data folder written before checksums existed
its checksums, so that it opens (it opens red otherwise: "no checksum footer").

An explicit operator step, never done on open: it trusts the bytes as they are. Only files
with no footer at all that still parse are upgraded (config, manifest, aliases, bitsets), and
segment folders without a checksums.json get one; a file whose checksum fails stays as it is.
Run `hybrid check` afterwards (the WAL format did not change: its records carry crc32s).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import msgspec
import numpy as np

from hybrid.errors import DataDamaged
from hybrid.storage.checksums import NAME as CHECKSUMS
from hybrid.storage.checksums import write_folder_checksums
from hybrid.storage.files import is_temporary, verify_footer, write_checked


def _legacy(path: Path, parses: Callable[[bytes], object]) -> bool:
    """True when `path` has no checksum footer but its bytes parse (written before checksums)."""
    raw = path.read_bytes()
    try:
        verify_footer(raw, path)
        return False
    except DataDamaged as exc:
        if not exc.reason.startswith("no checksum footer"):
            return False
    try:
        parses(raw)
    except Exception:  # noqa: BLE001 - unparseable: damage, left for `hybrid check` to report
        return False
    return True


def upgrade_data(data: Path) -> list[Path]:
    """Add checksums to every pre-checksum file of a data folder; returns the files written."""
    def json_ok(raw: bytes) -> object:
        return msgspec.json.decode(raw)

    def npy_ok(raw: bytes) -> object:
        return np.load(io.BytesIO(raw), allow_pickle=False)

    written: list[Path] = []
    candidates = [(data / "aliases.json", json_ok)]
    for cdir in sorted(p for p in (data / "collections").glob("*") if p.is_dir() and not is_temporary(p.name)):
        candidates += [(cdir / "config.json", json_ok), (cdir / "manifest.json", json_ok)]
        for folder in sorted(p for p in (cdir / "segments").glob("*") if p.is_dir() and not is_temporary(p.name)):
            candidates += [(bitset, npy_ok) for bitset in sorted(folder.glob("deleted-*.npy"))]
            if not (folder / CHECKSUMS).exists():
                write_folder_checksums(folder)
                written.append(folder / CHECKSUMS)
    for path, parses in candidates:
        if path.exists() and _legacy(path, parses):
            write_checked(path, path.read_bytes())
            written.append(path)
    return written
