"""Opening a write-ahead log: verify every record after the checkpoint, tell a torn tail from
damage, and keep damage aside instead of cutting it away.

- An *incomplete* record at the very end of the last file, with no valid record after it, is a
  write that a crash interrupted: it was never acknowledged (acknowledgement follows the
  fsync of the whole record), so it is cut off (and logged).
- Anything else (a record whose checksum fails, a sequence number out of order, a file that
  does not continue its predecessor, a missing file) is damage. Replay stops before it; the
  bytes from there on and every later file are moved into `damaged/` (nothing is deleted) and
  `WalDamage` names the file, the byte offset and the sequence numbers that cannot be applied.
  `damaged/REPORT.json` keeps the account across restarts; the collection stays red (and
  read-only) until an operator removes that folder, accepting the loss.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path
from typing import Iterator, Optional

import msgspec

from hybrid.storage import files

HEADER = struct.Struct("<IIQ")
PREFIX, SUFFIX = "wal-", ".log"
REPORT = "REPORT.json"

_log = logging.getLogger("hybrid.wal")


def file_name(first: int) -> str:
    return f"{PREFIX}{first:020d}{SUFFIX}"


def first_seq(path: Path) -> int:
    return int(path.name[len(PREFIX):-len(SUFFIX)])


class WalDamage(msgspec.Struct):
    file: str
    offset: int
    reason: str
    first_lost: int
    last_lost: Optional[int]  # None: the damaged bytes name no later sequence number
    kept: list[str] = []

    def describe(self) -> str:
        lost = (f"sequence numbers {self.first_lost}-{self.last_lost}" if self.last_lost is not None
                else f"sequence numbers from {self.first_lost} on")
        return (f"write-ahead log {self.file} is damaged at byte {self.offset} ({self.reason}): "
                f"{lost} could not be applied; the damaged records are kept in {', '.join(self.kept)}")


class Scan(msgspec.Struct):
    files: list[Path]
    last_seq: int
    damage: Optional[WalDamage] = None
    torn: Optional[str] = None


def records(data: bytes, pos: int = 0) -> Iterator[tuple[int, int, int]]:
    """(offset, end, seq) of consecutive valid records from `pos`; stops at the first bad one."""
    while pos + HEADER.size <= len(data):
        length, crc, seq = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if end > len(data) or zlib.crc32(data[pos + HEADER.size: end]) != crc:
            return
        yield pos, end, seq
        pos = end


def resync(data: bytes, start: int, after: int) -> list[int]:
    """Sequence numbers (> after) of valid records found at any offset from `start`: what a
    damaged region still proves was written. Runs only on damage."""
    found = []
    limit = len(data) - HEADER.size
    for pos in range(start, limit + 1):
        length, crc, seq = HEADER.unpack_from(data, pos)
        if after < seq <= after + (1 << 32) and pos + HEADER.size + length <= len(data) \
                and zlib.crc32(data[pos + HEADER.size: pos + HEADER.size + length]) == crc:
            found.append(seq)
    return found


def scan_log(directory: Path, checkpoint_seq: int, quarantine: Optional[Path]) -> Scan:
    """Verify the log after `checkpoint_seq`. With `quarantine` None nothing is changed (the
    offline checker): `damage` and `torn` only say what opening would do."""
    paths = sorted(directory.glob(f"{PREFIX}*{SUFFIX}"))
    # files wholly covered by the checkpoint are never replayed: not read (they are dropped later)
    live = [p for i, p in enumerate(paths) if i + 1 == len(paths) or first_seq(paths[i + 1]) - 1 > checkpoint_seq]
    kept = paths[: len(paths) - len(live)]
    prev = None  # last sequence number read so far
    torn: Optional[str] = None
    if live and first_seq(live[0]) > checkpoint_seq + 1:
        return _quarantine(kept, live, 0, 0, live[0].read_bytes(), checkpoint_seq, quarantine,
                           f"the log starts at sequence number {first_seq(live[0])}, "
                           f"{checkpoint_seq + 1}-{first_seq(live[0]) - 1} are missing", first_seq(live[0]) - 1)
    for i, path in enumerate(live):
        data = path.read_bytes()
        start = first_seq(path)
        good = max(checkpoint_seq, prev or 0)
        if prev is not None and start != prev + 1:
            return _quarantine(kept, live, i, 0, data, good, quarantine,
                               f"the file does not continue at sequence number {prev + 1}", start - 1)
        prev, pos = start - 1, 0
        for offset, end, seq in records(data):
            if seq != prev + 1:
                return _quarantine(kept, live, i, offset, data, max(checkpoint_seq, prev), quarantine,
                                   f"sequence number {seq} where {prev + 1} was expected", None)
            prev, pos = seq, end
        if pos == len(data):
            continue
        later = resync(data, pos + 1, prev)
        if i + 1 == len(live) and not later and _incomplete(data, pos):
            torn = f"{path}: an interrupted record of {len(data) - pos} bytes at byte {pos} (never acknowledged)"
            if quarantine is not None:
                _cut(path, pos, len(data) - pos)
            continue
        return _quarantine(kept, live, i, pos, data, max(checkpoint_seq, prev), quarantine,
                           "a record fails its checksum", None)
    last = max(checkpoint_seq, prev or 0)
    return Scan(kept + live, last, torn=torn)


def _incomplete(data: bytes, pos: int) -> bool:
    if pos + HEADER.size > len(data):
        return True
    length, _, _ = HEADER.unpack_from(data, pos)
    return pos + HEADER.size + length > len(data)


def _cut(path: Path, pos: int, size: int) -> None:
    _log.warning("%s: cutting an interrupted (never acknowledged) record of %d bytes at byte %d", path, size, pos)
    _truncate(path, pos)


def _truncate(path: Path, pos: int) -> None:
    """Cut `path` to `pos` bytes, durably."""
    fd = os.open(path, os.O_WRONLY)
    try:
        files.truncate(fd, path, pos)
        files.fsync(fd, path)
    finally:
        os.close(fd)


def _quarantine(kept: list[Path], live: list[Path], index: int, pos: int, data: bytes, last_good: int,
                quarantine: Optional[Path], reason: str, known_last: Optional[int]) -> Scan:
    """Move the log from live[index] byte `pos` on into `quarantine`; the Scan that stops there.

    The report is written first, so a crash while moving still leaves the account."""
    path = live[index]
    scan = Scan(kept + live[: index + 1 if pos > 0 else index], last_good)
    if quarantine is None:
        quarantine = path.parent.parent / "damaged"  # names only: the checker changes nothing
        checking = True
    else:
        quarantine.mkdir(parents=True, exist_ok=True)
        checking = False
    seqs = resync(data, pos, last_good) if pos > 0 else []
    if pos + HEADER.size <= len(data) and HEADER.unpack_from(data, pos)[2] == last_good + 1:
        seqs.append(last_good + 1)  # the damaged record's own header still names it
    moves: list[tuple[Path, Path]] = []
    for later in live[index + 1 if pos > 0 else index:]:
        seqs += resync(data if later == path else later.read_bytes(), 0, last_good) + [first_seq(later) - 1]
        moves.append((later, _unused(quarantine / later.name, moves)))
    tail = _unused(quarantine / f"{path.name}.from-byte-{pos}", moves) if pos > 0 else None
    seqs = [s for s in seqs if s > last_good] + ([known_last] if known_last is not None else [])
    damage = WalDamage(file=str(path), offset=pos, reason=reason, first_lost=last_good + 1,
                       last_lost=max(seqs) if seqs else None,
                       kept=[str(p) for p in ([tail] if tail else []) + [t for _, t in moves]])
    scan.damage = damage
    if checking:
        return scan
    record_damage(quarantine, damage)
    _log.error("%s", damage.describe())
    if tail is not None:  # the good head stays; the tail is copied (and fsynced) before the original is cut
        files.atomic_write(tail, data[pos:])
        _truncate(path, pos)
    for source, target in moves:
        files.replace(source, target)
    return scan


def _unused(path: Path, planned: list[tuple[Path, Path]]) -> Path:
    """`path`, or `path.N` when an earlier incident already kept a file of that name."""
    taken = {t for _, t in planned}
    n, candidate = 1, path
    while candidate.exists() or candidate in taken:
        candidate, n = path.with_name(f"{path.name}.{n}"), n + 1
    return candidate


def record_damage(quarantine: Path, damage: WalDamage) -> None:
    """Append `damage` to the quarantine's REPORT.json (checked), so a restart still reports it."""
    report = quarantine / REPORT
    past = read_report(quarantine) if report.exists() else []
    files.write_checked(report, msgspec.json.encode(past + [damage]))


def read_report(quarantine: Path) -> list[WalDamage]:
    return msgspec.json.decode(files.read_checked(quarantine / REPORT), type=list[WalDamage])


def quarantine_report(quarantine: Path) -> str:
    """What a collection's `damaged/` folder holds, for get_collection and the log."""
    try:
        incidents = read_report(quarantine)
    except Exception as exc:  # noqa: BLE001 - the report itself may be damaged: say so
        return f"{quarantine} holds damaged data and its {REPORT} cannot be read ({exc})"
    told = "; ".join(d.describe() for d in incidents) or f"{quarantine} holds damaged data"
    return f"{told}. Remove {quarantine} to accept the loss and allow writes again"
