"""Corruption of each persisted file kind: the damaged collection turns red naming the file
(or, for the WAL, opens with what precedes the damage and says which sequence numbers it could
not apply), nothing is silently repaired, the collection beside it still serves, and
`hybrid check` finds the same damage offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hybrid import Client
from hybrid.errors import CollectionDamaged
from hybrid.storage.check import check_data, run


@pytest.fixture(scope="module")
def pristine(h, tmp_path_factory):
    """'c': two sealed segments (sparse index files too) and 6 WAL records after its
    checkpoint; 'other' beside it; an alias and a snapshot. Returns (root, seqs, states)."""
    root = tmp_path_factory.mktemp("pristine") / "data"
    client = Client(path=root)
    h.create(client, "other")
    client.upsert("other", h.batch(1000, 30))
    h.create(client, "c")
    client.update_collection("c", optimizers_config={"default_segment_number": 4})  # no merge: two segments
    client.collection("c").optimizer.run_inline()
    client.upsert("c", h.batch(0, 40))  # sealed
    client.delete("c", [0, 1])
    client.upsert("c", h.batch(40, 40))  # sealed: two segments, bitsets, manifest at a checkpoint
    tail_states, seqs = [h.state(client, "c")], []
    for first in range(100, 130, 5):  # 6 records after the checkpoint, in the appendable segment
        seqs.append(client.upsert("c", h.batch(first, 5)).operation_id)
        tail_states.append(h.state(client, "c"))
    client.update_collection_aliases([{"create_alias": {"collection_name": "c", "alias_name": "a"}}])
    client.create_snapshot("other")
    other = h.state(client, "other")
    client.close()
    return root, seqs, tail_states, other


def _copy(pristine, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(pristine[0], root)
    return root


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x40
    path.write_bytes(bytes(data))


def _segment(root: Path, index: int) -> Path:
    from hybrid.checkpoint import read_manifest

    return root / "collections" / "c" / "segments" / read_manifest(root / "collections" / "c").segments[index]


KINDS = {
    "config": lambda r: r / "collections/c/config.json",
    "manifest": lambda r: r / "collections/c/manifest.json",
    "bitset": lambda r: next(_segment(r, 0).glob("deleted-*.npy")),
    "checksums": lambda r: _segment(r, 0) / "checksums.json",
    "keys": lambda r: _segment(r, 0) / "keys.npy",
    "payloads": lambda r: _segment(r, 1) / "payloads.msgpack",
    "pids": lambda r: _segment(r, 0) / "pids.npy",
    "versions": lambda r: _segment(r, 0) / "versions.npy",
    "dense vectors": lambda r: _segment(r, 0) / "vec0.data.npy",
    "sparse vectors": lambda r: _segment(r, 1) / "vec1.flat1.npy",
    "sparse index": lambda r: sorted((_segment(r, 1) / "vec1.index").glob("*.npy"))[0],
}


@pytest.mark.parametrize("how", ["flip", "delete"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_damaged_file_turns_only_its_collection_red(h, pristine, tmp_path, kind, how) -> None:
    root = _copy(pristine, tmp_path)
    target = KINDS[kind](root)
    if how == "flip":
        _flip(target, 0.9 if kind in ("config", "manifest", "checksums") else 0.5)
    else:
        target.unlink()
    report = check_data(root)
    assert report.damaged and any(f.path == str(target) for f in report.findings), report.lines()
    client = Client(path=root)
    try:
        assert h.state(client, "other") == pristine[3] and client.get_collection("other").status == "green"
        try:
            info = client.get_collection("c")
            assert info.status == "red" and str(target) in info.optimizer_status["error"]
            assert str(target) in info.warnings[0]["message"]
        except CollectionDamaged as exc:  # a damaged config leaves nothing to describe
            assert kind == "config" and str(target) in exc.message
        with pytest.raises(CollectionDamaged, match="damaged"):
            client.upsert("c", [{"id": 1, "vector": {"": [1.0] * 8}}])
        with pytest.raises(CollectionDamaged):
            client.count("c")
        with pytest.raises(CollectionDamaged):
            client.count("a")  # through its alias too
        assert "c" in [c.name for c in client.get_collections().collections]
        assert client.delete_collection("c")  # the operator can drop it
    finally:
        client.close()


def test_a_deleted_manifest_never_drops_segments(pristine, tmp_path) -> None:
    root = _copy(pristine, tmp_path)
    (root / "collections/c/manifest.json").unlink()
    client = Client(path=root)
    info = client.get_collection("c")
    assert info.status == "red" and "manifest.json: the file is missing" in info.optimizer_status["error"]
    client.close()
    assert len(list((root / "collections/c/segments").iterdir())) == 2  # nothing deleted


def test_a_plain_copy_is_checksummed_like_any_segment(h, tmp_path) -> None:
    """A checkpoint that wrote the appendable segment as a plain compact copy (the scenario's
    last op vacuums the sealed segment alone): the copy reopens to the same state, and a flipped
    byte in it turns the collection red naming the file, online and in `hybrid check`."""
    from hybrid.checkpoint import read_manifest

    root = tmp_path / "data"
    client = Client(path=root)
    h.create(client, "c")
    client.collection("c").optimizer.run_inline()
    for _, op in h.OPS:
        op(client)
    expected = h.state(client, "c")
    client.close()
    cdir = root / "collections/c"
    manifest = read_manifest(cdir)
    assert manifest.plain and set(manifest.plain) < set(manifest.segments)
    client = Client(path=root)
    assert h.state(client, "c") == expected and client.get_collection("c").status != "red"
    client.close()
    target = cdir / "segments" / manifest.plain[0] / "payloads.msgpack"
    _flip(target)
    assert any(f.path == str(target) for f in check_data(root).findings)
    client = Client(path=root)
    try:
        info = client.get_collection("c")
        assert info.status == "red" and str(target) in info.optimizer_status["error"]
    finally:
        client.close()


@pytest.mark.parametrize("record", [0, 2, 5])
def test_a_damaged_wal_record_stops_replay_and_is_kept_aside(h, pristine, tmp_path, record) -> None:
    root = _copy(pristine, tmp_path)
    _, seqs, tail_states, _ = pristine
    wal = sorted((root / "collections/c/wal").glob("*.log"))[-1]
    data = bytearray(wal.read_bytes())
    offset = _record_offset(bytes(data), record)
    data[offset + 20] ^= 0x01  # a byte of the record's body
    wal.write_bytes(bytes(data))
    original_tail = bytes(data[offset:])
    assert run(root) == 1
    client = Client(path=root)
    try:
        assert h.state(client, "c") == tail_states[record]  # everything before the damage
        info = client.get_collection("c")
        reason = info.optimizer_status["error"]
        assert info.status == "red" and f"sequence numbers {seqs[record]}-{seqs[-1]} could not be applied" in reason
        name = f"{wal.name}.from-byte-{offset}" if offset else wal.name  # a whole file is moved
        kept = root / "collections/c/damaged" / name
        assert kept.read_bytes() == original_tail and str(kept) in reason  # kept, not truncated away
        with pytest.raises(CollectionDamaged):
            client.upsert("c", h.batch(500, 2))
        assert h.state(client, "other") == pristine[3]
    finally:
        client.close()
    assert "could not be applied" in Client(path=root).get_collection("c").optimizer_status["error"]  # still told


def test_accepting_the_loss_makes_the_collection_writable(h, pristine, tmp_path) -> None:
    root = _copy(pristine, tmp_path)
    wal = sorted((root / "collections/c/wal").glob("*.log"))[-1]
    _flip(wal, 0.6)
    Client(path=root).close()
    shutil.rmtree(root / "collections/c/damaged")  # the operator's decision
    client = Client(path=root)
    assert client.get_collection("c").status == "green"
    client.upsert("c", h.batch(500, 2))
    client.close()
    assert run(root) == 0


def test_a_clean_folder_checks_clean(pristine, tmp_path, capsys) -> None:
    from hybrid.cli import main

    root = _copy(pristine, tmp_path)
    assert main(["check", "--data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "ok      c:" in out and "ok      other:" in out and "no damage found" in out


def test_check_finds_a_damaged_snapshot_and_alias(pristine, tmp_path) -> None:
    root = _copy(pristine, tmp_path)
    snapshot = next((root / "snapshots/other").glob("*.snapshot"))
    _flip(snapshot)
    _flip(root / "aliases.json", 0.3)
    found = {f.path for f in check_data(root).findings if f.level == "damage"}
    assert {str(snapshot), str(root / "aliases.json")} <= found


def test_orphans_of_crashes_are_removed_on_open(pristine, tmp_path) -> None:
    root = _copy(pristine, tmp_path)
    orphans = [root / "snapshots/other/x.snapshot.part", root / "snapshots/other/x.snapshot.checksum.tmp",
               root / "collections/c/manifest.json.tmp", root / "collections/c/segments/abc.building",
               root / "snapshots/other/.staging-123", root / ".staging"]
    for path in orphans:
        path.mkdir() if path.suffix in (".building",) or path.name.startswith(".staging") else path.write_bytes(b"x")
    notes = {f.path for f in check_data(root).findings if f.level == "note"}
    assert {str(p) for p in orphans} <= notes
    Client(path=root).close()
    assert not any(p.exists() for p in orphans)


def _record_offset(data: bytes, index: int) -> int:
    from hybrid.storage.wal_scan import records

    return [offset for offset, _, _ in records(data)][index]


def test_a_fault_while_damage_is_kept_aside_never_loses_the_account(h, pristine, tmp_path) -> None:
    """Every step of moving a damaged WAL tail aside (report, copy, cut, moves) fails in turn
    (EIO or a crash): a clean reopen still reports the same lost sequence numbers and the
    damaged bytes exist, in the log or in damaged/."""
    _, seqs, tail_states, _ = pristine

    def damaged_copy(root: Path) -> tuple[Path, bytes]:
        shutil.copytree(pristine[0], root)
        wal = sorted((root / "collections/c/wal").glob("*.log"))[-1]
        data = bytearray(wal.read_bytes())
        offset = _record_offset(bytes(data), 2)
        data[offset + 20] ^= 0x01
        wal.write_bytes(bytes(data))
        return wal, bytes(data[offset:])

    recorder = h.Injector(tmp_path / "record")
    damaged_copy(tmp_path / "record")
    h.FAULTS.hook = recorder
    try:
        opened = Client(path=tmp_path / "record")
    finally:
        h.FAULTS.hook = None
    opened.close()
    steps = [k for k, (op, point) in enumerate(recorder.calls) if "collections/c/" in point]
    assert len(steps) >= 8, recorder.calls
    print(f"\nfault injection while keeping damage aside: {len(steps)} steps x 2 faults")
    for k in steps:
        for action in ("eio", "crash"):
            root = tmp_path / f"{k}-{action}"
            wal, tail = damaged_copy(root)
            injector = h.Injector(root, k, action)
            h.FAULTS.hook = injector
            try:
                client = Client(path=root)
            except h.SimulatedCrash:
                client = None
            finally:
                h.FAULTS.hook = None
            assert injector.fired, (k, action, recorder.calls[k], injector.calls[-3:])
            if client is not None:
                client.close()
            else:  # the dead process's lock goes with it
                import fcntl

                lock = open(root / ".lock", "a+")
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
                lock.close()
            reopened = Client(path=root)
            info = reopened.get_collection("c")
            assert f"sequence numbers {seqs[2]}-{seqs[-1]} could not be applied" in info.optimizer_status["error"], \
                (k, action, info.optimizer_status)
            assert h.state(reopened, "c") == tail_states[2]
            kept = [p.read_bytes() for p in (root / "collections/c/damaged").glob("wal-*")]
            assert tail in kept or wal.read_bytes().endswith(tail), (k, action)
            assert h.state(reopened, "other") == pristine[3]
            reopened.close()


def test_a_folder_written_before_checksums_opens_after_an_upgrade(h, pristine, tmp_path) -> None:
    from hybrid.storage.files import verify_footer

    root = _copy(pristine, tmp_path)
    legacy = [p for p in root.rglob("*.json") if p.name != "checksums.json" and p.parent.name != "damaged"]
    legacy += list(root.rglob("deleted-*.npy"))
    for path in legacy:  # what the previous version wrote: no footers, no checksums.json
        path.write_bytes(verify_footer(path.read_bytes(), path))
    for path in root.rglob("checksums.json"):
        path.unlink()
    client = Client(path=root)
    with pytest.raises(CollectionDamaged, match="written before checksums"):
        client.get_collection("other")
    client.close()
    assert run(root) == 1
    assert run(root, upgrade=True) == 0
    client = Client(path=root)
    assert client.get_collection("other").status == "green" and h.state(client, "other") == pristine[3]
    assert h.state(client, "c") == pristine[2][-1]
    client.close()


def test_a_text_index_ahead_of_a_damaged_log_is_rebuilt(tmp_path) -> None:
    """The text index committed writes whose WAL records are then damaged and kept aside: it
    must not keep documents of writes that were not applied."""
    root = tmp_path / "data"
    client = Client(path=root)
    client.create_collection("t", vectors_config={"size": 2, "distance": "Dot"})
    client.create_payload_index("t", "text", {"type": "text"})
    client.upsert("t", [{"id": 1, "vector": [1.0, 0.0], "payload": {"text": "apple"}}])
    client.upsert("t", [{"id": 2, "vector": [0.0, 1.0], "payload": {"text": "banana"}}])
    client.close()  # commits the text index with both writes
    wal = sorted((root / "collections/t/wal").glob("*.log"))[-1]
    data = bytearray(wal.read_bytes())
    data[_record_offset(bytes(data), 2) + 20] ^= 0x01  # the record of the second upsert
    wal.write_bytes(bytes(data))
    client = Client(path=root)
    assert client.get_collection("t").status == "red"
    assert [p.id for p in client.scroll("t")[0]] == [1]
    assert not client.query_points("t", query={"bm25": {"text": "banana", "field": "text"}}, limit=5).points
    client.close()
