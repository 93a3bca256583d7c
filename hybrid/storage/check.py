"""`hybrid check --data DIR`: verify a data folder offline and say what was found.

Every checksum (config, manifest, aliases, each segment's files and bitsets, every WAL record
after the checkpoint, snapshot files against their .checksum) and every reference (manifest ->
segment folders and bitsets, bitset size -> segment size, WAL continuity from the checkpoint,
aliases -> collections). Nothing is changed: what opening would repair (a torn WAL tail,
temporary files) is listed as a note. Exit code 0: no damage, 1: damage, 2: cannot check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import msgspec
import numpy as np

from hybrid.errors import DataDamaged, HybridError
from hybrid.storage.checksums import verify_folder
from hybrid.storage.files import FolderLock, is_temporary, load_checked_npy, read_checked
from hybrid.storage.wal_scan import scan_log


class Finding(msgspec.Struct):
    level: str  # "damage" or "note"
    path: str
    message: str


class Report(msgspec.Struct):
    findings: list[Finding] = []
    checked: list[str] = []  # one line per collection that verified

    @property
    def damaged(self) -> bool:
        return any(f.level == "damage" for f in self.findings)

    def lines(self) -> list[str]:
        out = [f"ok      {line}" for line in self.checked]
        out += [f"{f.level.upper():7} {f.path}: {f.message}" for f in self.findings]
        out.append("damage found" if self.damaged else "no damage found")
        return out


def check_collection(cdir: Path, report: Report) -> None:
    from hybrid.checkpoint import QUARANTINE, read_manifest
    from hybrid.storage.health import read_config

    def damage(path: Path, message: str) -> None:
        report.findings.append(Finding("damage", str(path), message))

    before = len(report.findings)
    try:
        read_config(cdir)
        manifest = read_manifest(cdir)
    except DataDamaged as exc:
        return damage(Path(exc.path), exc.reason)
    for name in manifest.segments:
        folder = cdir / "segments" / name
        if not folder.is_dir():
            damage(folder, "named by the manifest but missing")
            continue
        try:
            verify_folder(folder)
            deleted = load_checked_npy(folder / f"deleted-{manifest.checkpoint_seq}.npy")
            keys = np.load(folder / "keys.npy", mmap_mode="r")
            if deleted.shape != (len(keys),):
                damage(folder, f"its deleted bitset has {deleted.size} entries for {len(keys)} points")
        except DataDamaged as exc:
            damage(Path(exc.path), exc.reason)
    for folder in sorted((cdir / "segments").glob("*")):
        if folder.name not in manifest.segments and not is_temporary(folder.name):
            note = "not named by the manifest (left by an interrupted checkpoint; removed by the next)"
            report.findings.append(Finding("note", str(folder), note))
    scan = scan_log(cdir / "wal", manifest.checkpoint_seq, None)
    if scan.damage is not None:
        damage(Path(scan.damage.file), scan.damage.describe().replace("are kept in", "would be kept in"))
    if scan.torn:
        report.findings.append(Finding("note", str(cdir / "wal"), f"{scan.torn}; cut on open"))
    if (cdir / QUARANTINE).exists():
        from hybrid.storage.wal_scan import quarantine_report

        damage(cdir / QUARANTINE, quarantine_report(cdir / QUARANTINE))
    if len(report.findings) == before or all(f.level == "note" for f in report.findings[before:]):
        report.checked.append(f"{cdir.name}: {len(manifest.segments)} segment(s), checkpoint at "
                              f"{manifest.checkpoint_seq}, WAL up to {scan.last_seq}")


def check_data(data: Path) -> Report:
    """Verify a data folder (no writes; take the folder lock first when it may be in use)."""
    from hybrid.snapshots import sha256_of

    report = Report()
    collections = sorted(p for p in (data / "collections").glob("*") if p.is_dir() and not is_temporary(p.name))
    for cdir in collections:
        check_collection(cdir, report)
    aliases = data / "aliases.json"
    if aliases.exists():
        try:
            table = msgspec.json.decode(read_checked(aliases), type=dict[str, str])
            for alias, target in table.items():
                if not (data / "collections" / target).is_dir():
                    report.findings.append(Finding("damage", str(aliases),
                                                   f"alias {alias!r} names a missing collection {target!r}"))
        except (DataDamaged, msgspec.DecodeError) as exc:
            report.findings.append(Finding("damage", str(aliases), getattr(exc, "reason", str(exc))))
    for snapshot in sorted((data / "snapshots").glob("*/*.snapshot")):
        checksum = snapshot.with_name(snapshot.name + ".checksum")
        if checksum.exists() and checksum.read_text().strip() != sha256_of(snapshot):
            report.findings.append(Finding("damage", str(snapshot), f"sha256 differs from {checksum.name}"))
    for orphan in sorted(p for p in data.rglob("*") if is_temporary(p.name) and "text" not in p.parts):
        report.findings.append(Finding("note", str(orphan), "temporary file of an interrupted write; removed on open"))
    return report


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="hybrid check", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data folder to verify")
    parser.add_argument("--upgrade", action="store_true", help=UPGRADE_HELP)
    args = parser.parse_args(argv)
    return run(args.data, args.upgrade)


UPGRADE_HELP = "first add checksums to a folder written before they existed (trusts its bytes as they are)"


def run(data: Path, upgrade: bool = False) -> int:
    if not (data / "collections").is_dir():
        print(f"error: {data} is not a data folder (no collections/ inside)", file=sys.stderr)
        return 2
    try:
        lock = FolderLock(data)
    except HybridError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    try:
        if upgrade:
            from hybrid.storage.upgrade import upgrade_data

            for path in upgrade_data(data):
                print(f"upgraded {path}")
        report = check_data(data)
    finally:
        lock.release()
    for line in report.lines():
        print(line)
    return 1 if report.damaged else 0


if __name__ == "__main__":
    sys.exit(main())
