"""WriteAheadLog on open: a torn tail is cut, damage anywhere else stops replay at a known
point, is moved into the quarantine folder whole, and names the sequence numbers lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from hybrid.errors import StorageError
from hybrid.storage.files import FAULTS
from hybrid.storage.wal import WriteAheadLog
from hybrid.storage.wal_scan import HEADER, read_report, records


def _three_files(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Records 1-3, 4-6, 7-9 in three files."""
    wal_dir = tmp_path / "wal"
    wal = WriteAheadLog(wal_dir, 0, tmp_path / "damaged")
    for n in range(1, 10):
        wal.sync(wal.append(b"record %d" % n))
        if n in (3, 6):
            wal.rotate()
    wal.close()
    return wal_dir, sorted(wal_dir.glob("*.log"))


def _open(tmp_path: Path) -> WriteAheadLog:
    return WriteAheadLog(tmp_path / "wal", 0, tmp_path / "damaged")


def test_a_missing_middle_file_is_a_hole_not_a_gap_in_replay(tmp_path) -> None:
    _, files = _three_files(tmp_path)
    files[1].unlink()
    wal = _open(tmp_path)
    assert [s for s, _ in wal.replay(0)] == [1, 2, 3]
    assert (wal.damage.first_lost, wal.damage.last_lost) == (4, 9)
    assert (tmp_path / "damaged" / files[2].name).exists() and not files[2].exists()
    assert read_report(tmp_path / "damaged")[0].first_lost == 4


def test_a_flipped_byte_in_an_older_file_keeps_everything_after_it_aside(tmp_path) -> None:
    _, files = _three_files(tmp_path)
    data = bytearray(files[0].read_bytes())
    second = [off for off, _, _ in records(bytes(data))][1]
    data[second + HEADER.size + 1] ^= 0x20
    files[0].write_bytes(bytes(data))
    wal = _open(tmp_path)
    assert [s for s, _ in wal.replay(0)] == [1]
    assert (wal.damage.first_lost, wal.damage.last_lost, wal.damage.offset) == (2, 9, second)
    kept = tmp_path / "damaged" / f"{files[0].name}.from-byte-{second}"
    assert kept.read_bytes() == bytes(data[second:])
    assert wal.last_seq == 1  # new records would follow the last applied one


def test_a_flipped_length_in_the_middle_is_damage_not_a_torn_tail(tmp_path) -> None:
    _, files = _three_files(tmp_path)
    data = bytearray(files[2].read_bytes())
    data[[off for off, _, _ in records(bytes(data))][1]] ^= 0x7F  # length of record 8 points past the end
    files[2].write_bytes(bytes(data))
    wal = _open(tmp_path)
    assert [s for s, _ in wal.replay(0)] == list(range(1, 8))
    assert (wal.damage.first_lost, wal.damage.last_lost) == (8, 9)


def test_an_interrupted_last_record_is_cut_without_damage(tmp_path) -> None:
    _, files = _three_files(tmp_path)
    with open(files[2], "ab") as fh:
        fh.write(HEADER.pack(100, 0, 10) + b"only part")
    wal = _open(tmp_path)
    assert wal.damage is None and wal.last_seq == 9
    assert wal.append(b"ten") == 10
    wal.close()
    assert [s for s, _ in _open(tmp_path).replay(0)] == list(range(1, 11))


def test_a_short_write_on_a_full_disk_leaves_the_log_appendable(tmp_path) -> None:
    wal = _open(tmp_path)
    wal.sync(wal.append(b"first"))
    calls = []

    def full_disk(op: str, path: Path, size: int):
        if op == "write":
            calls.append(size)
            if len(calls) == 1:
                return size // 2  # part of the record fits
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    FAULTS.hook = full_disk
    try:
        with pytest.raises(StorageError, match="No space left"):
            wal.append(b"second, not acknowledged")
    finally:
        FAULTS.hook = None
    assert wal.append(b"third") == 2  # space is back: the torn bytes were cut away first
    wal.sync(2)
    wal.close()
    assert [b for _, b in _open(tmp_path).replay(0)] == [b"first", b"third"]
