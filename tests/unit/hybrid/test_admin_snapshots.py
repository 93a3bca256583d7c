"""Snapshots restore a collection exactly: sealed segments with tombstones, the appendable
segment, versions, internal keys, IDF statistics, config and payload indexes."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import CollectionNotFound, ValidationError
from hybrid.snapshots import FORMAT, SnapshotNotFound

DIM = 3
QUERY = [0.3, -0.5, 0.8]
SPARSE = {"indices": [1, 4, 7], "values": [1.0, 0.5, 2.0]}


def build(client, name: str = "c") -> None:
    client.create_collection(name, vectors_config={"d": {"size": DIM, "distance": "Cosine"}},
                             sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config={"indexing_threshold": 1, "default_segment_number": 100})  # seal every ~85 points, keep them apart
    rng = np.random.default_rng(11)
    for start in range(0, 300, 50):
        client.upsert(name, [{"id": i, "vector": {"d": rng.normal(size=DIM).tolist(),
                                                  "s": {"indices": sorted(rng.choice(10, 3, replace=False).tolist()),
                                                        "values": rng.random(3).tolist()}},
                              "payload": {"tag": ["x", "y"][i % 2], "i": i}} for i in range(start, start + 50)])
    client.collection(name).optimizer.wait()
    client.delete(name, list(range(0, 300, 7)))
    client.set_payload(name, {"touched": True}, points=[1, 2, 3])
    client.create_payload_index(name, "tag", "keyword")


def state(client, name: str) -> tuple:
    points, _ = client.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    dense = client.query_points(name, query=QUERY, using="d", limit=20)
    exact = client.query_points(name, query=QUERY, using="d", limit=20, search_params={"exact": True})
    sparse = client.query_points(name, query=SPARSE, using="s", limit=20)
    info = client.get_collection(name)
    return points, dense, exact, sparse, info.config, info.payload_schema, info.points_count


def test_restore_is_exact(client):
    build(client)
    assert len(client.collection("c").segments) > 2  # sealed segments and an appendable one
    before = state(client, "c")
    snap = client.create_snapshot("c")
    client.upsert("c", [{"id": 1000, "vector": {"d": [1, 0, 0]}}])
    client.delete("c", [1, 2])
    client.delete_payload_index("c", "tag")
    client.recover_snapshot("c", str(client.snapshot_file("c", snap.name)), checksum=snap.checksum)
    assert state(client, "c") == before
    client.recover_snapshot("copy", f"file://{client.snapshot_file('c', snap.name)}")
    assert state(client, "copy") == before
    pid = client.collection("copy").next_pid
    client.upsert("copy", [{"id": 5000, "vector": {"d": [0, 1, 0]}}])
    segment, offset = client.collection("copy").where[5000]
    assert segment.pids[offset] >= pid == 300  # internal keys are not reused


def test_restored_collection_survives_restart(tmp_path):
    with Client(path=tmp_path) as client:
        build(client)
        before = state(client, "c")
        snap = client.create_snapshot("c")
        file = client.snapshot_file("c", snap.name)  # as in Qdrant: only while the collection exists
        client.delete_collection("c")
        client.recover_snapshot("c", str(file))
        client.upsert("c", [{"id": 999, "vector": {"d": [0, 0, 1]}}])
        client.delete("c", [999])
    with Client(path=tmp_path) as client:
        assert state(client, "c") == before


def test_list_and_delete(client):
    build(client)
    first, second = client.create_snapshot("c"), client.create_snapshot("c")
    assert [s.name for s in client.list_snapshots("c")] == [first.name, second.name]
    assert client.delete_snapshot("c", first.name)
    assert [s.name for s in client.list_snapshots("c")] == [second.name]
    for bad in (first.name, "../c/" + second.name, "x", ".."):
        with pytest.raises(SnapshotNotFound):
            client.snapshot_file("c", bad)


def test_snapshot_files_only_of_existing_collections(client):
    """`..` (or any name that is not a collection) never reaches the file system: issue 19's
    GET/DELETE /collections/%2e%2e/snapshots/x.snapshot served and deleted DATA/x.snapshot."""
    build(client)
    outside = client.snapshots_path.parent / "x.snapshot"
    outside.write_bytes(b"not yours")
    for name in ("..", ".", "missing"):
        for call in (client.snapshot_file, client.delete_snapshot):
            with pytest.raises(CollectionNotFound):
                call(name, "x.snapshot")
        with pytest.raises(CollectionNotFound):
            client.list_snapshots(name)
    assert outside.read_bytes() == b"not yours"


def evil_archive(path, member: str) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in (("snapshot.json", b'{"format": %d, "collection": "c"}' % FORMAT), (member, b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("member", ["../escaped", "/abs/escaped", "collection/config.json"])
def test_bad_archives_are_rejected_and_change_nothing(client, tmp_path, member):
    build(client)
    before = state(client, "c")
    archive = client.snapshots_path / "c" / "evil.snapshot"
    archive.parent.mkdir(parents=True, exist_ok=True)
    evil_archive(archive, member)
    with pytest.raises(ValidationError, match="snapshot"):
        client.recover_snapshot("c", str(archive))
    assert not (client.snapshots_path / "escaped").exists() and not (tmp_path / "escaped").exists()
    assert state(client, "c") == before


def test_locations_outside_the_snapshots_folder_are_refused(client, tmp_path):
    build(client)
    snap = client.create_snapshot("c")
    outside = tmp_path / "copy.snapshot"
    outside.write_bytes(client.snapshot_file("c", snap.name).read_bytes())
    for location in (str(outside), f"file://{outside}", "https://example.com/c.snapshot", ""):
        with pytest.raises(ValidationError, match="location"):
            client.recover_snapshot("c", location)
    with pytest.raises(ValidationError, match="checksum"):
        client.recover_snapshot("c", str(client.snapshot_file("c", snap.name)), checksum="ab" * 32)


def test_restore_keeps_the_appendable_points_in_sparse_search(client):
    """The last batch, still in the appendable segment when the snapshot is taken, is written
    as a plain (index-less) copy, appendable again once restored: it must stay in sparse search (it
    used to vanish from it while scroll still had it, whenever the optimizer had not sealed
    that batch yet). The optimizer is kept off so the batch stays appendable, deterministically."""
    client.create_collection("a", vectors_config={}, sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config={"max_optimization_threads": 0})
    client.upsert("a", [{"id": i, "vector": {"s": {"indices": [i % 10, 10 + i % 3], "values": [1.0, 0.5]}}}
                        for i in range(40)])
    assert [s.appendable for s in client.collection("a").segments] == [True]
    query = {"indices": [3, 11], "values": [1.0, 1.0]}
    before = client.query_points("a", query=query, using="s", limit=10)
    assert len(before.points) == 10
    snap = client.create_snapshot("a")
    client.recover_snapshot("a", str(client.snapshot_file("a", snap.name)))
    assert [(s.appendable, s.size) for s in client.collection("a").segments] == [(True, 40)]
    assert client.query_points("a", query=query, using="s", limit=10) == before


def test_in_memory_restore_keeps_nothing_in_the_staging_folder():
    """A text index restored into an in-memory collection lives in RAM: the restore used to open
    it inside the staging folder, whose removal then failed (`Directory not empty: 'tantivy'`)."""
    with Client() as client:
        client.create_collection("t", vectors_config={"d": {"size": 2, "distance": "Cosine"}})
        client.create_payload_index("t", "body", field_schema={"type": "text", "tokenizer": "word"})
        client.upsert("t", [{"id": i, "vector": {"d": [1.0, i]}, "payload": {"body": f"hello world {i}"}}
                            for i in range(5)])
        hits = {"must": [{"key": "body", "match": {"text": "world 3"}}]}
        before = client.scroll("t", scroll_filter=hits, limit=10)
        snap = client.create_snapshot("t")
        client.recover_snapshot("t", str(client.snapshot_file("t", snap.name)))
        assert client.scroll("t", scroll_filter=hits, limit=10) == before
        assert not any((client.snapshots_path / ".staging").iterdir())
        assert all(index._path is None for index in client.collection("t").text.indexes.values())


def test_in_memory_restore_of_a_persistent_snapshot_loads_everything_into_ram(tmp_path):
    """A persistent collection's snapshot (sealed on_disk segments, writes still in its WAL, a
    text index on disk) restored into an in-memory client: every acknowledged write is there,
    and nothing is read from the removed staging folder (no memmap, text index in RAM)."""
    with Client(path=tmp_path / "data") as disk:
        disk.create_collection("p", vectors_config={"d": {"size": 2, "distance": "Dot", "on_disk": True}},
                               optimizers_config={"indexing_threshold": 1, "default_segment_number": 100})
        disk.create_payload_index("p", "body", field_schema={"type": "text", "tokenizer": "word"})
        disk.upsert("p", [{"id": i, "vector": {"d": [1.0, i]}, "payload": {"body": f"word{i}"}} for i in range(200)])
        disk.collection("p").optimizer.wait()
        disk.upsert("p", [{"id": 500, "vector": {"d": [0.0, 1.0]}, "payload": {"body": "late"}}])  # in the WAL only
        snap = disk.snapshot_file("p", disk.create_snapshot("p").name)
        expected = disk.scroll("p", limit=1000, with_vectors=True)
    with Client() as memory:
        memory.restore_snapshot("p", snap)
        assert memory.scroll("p", limit=1000, with_vectors=True) == expected
        late = memory.scroll("p", scroll_filter={"must": [{"key": "body", "match": {"text": "late"}}]})[0]
        assert [p.id for p in late] == [500]
        c = memory.collection("p")
        assert c.path is None and c.wal is None
        assert not any(isinstance(s.vectors["d"].data, np.memmap) for s in c.segments)
        assert any(not s.appendable and s.size for s in c.segments)  # a sealed on_disk segment was loaded
        assert not any((memory.snapshots_path / ".staging").iterdir())


def test_persistent_snapshot_holds_only_the_durable_state(tmp_path):
    """A persistent collection is tarred as the manifest names it: no text index files (tantivy's
    merge threads add and delete them at any moment, so walking them raced: `No such file or
    directory` on a file deleted between listing and reading) and no folder the optimizer is
    still writing. The restore rebuilds the text index from the segments and the log."""
    with Client(path=tmp_path / "data") as client:
        client.create_collection("p", vectors_config={"d": {"size": 2, "distance": "Dot"}},
                                 optimizers_config={"indexing_threshold": 1, "default_segment_number": 100})
        client.create_payload_index("p", "body", field_schema={"type": "text", "tokenizer": "word"})
        client.upsert("p", [{"id": i, "vector": {"d": [1.0, i]}, "payload": {"body": f"w{i % 3}"}} for i in range(200)])
        client.collection("p").optimizer.wait()
        client.upsert("p", [{"id": 500, "vector": {"d": [0.0, 1.0]}, "payload": {"body": "w1"}}])
        segments = client.path / "collections" / "p" / "segments"
        (segments / "being-built.building").mkdir()  # as the optimizer leaves it mid-write
        (segments / "not-named").mkdir()
        snap = client.snapshot_file("p", client.create_snapshot("p").name)
        with tarfile.open(snap) as tar:
            names = tar.getnames()
        assert not [n for n in names if n.startswith("collection/text") or "being-built" in n or "not-named" in n]
        assert any(n.startswith("collection/segments/") for n in names)
        w1 = {"must": [{"key": "body", "match": {"text": "w1"}}]}
        expected = client.scroll("p", scroll_filter=w1, limit=1000)
        client.recover_snapshot("copy", str(snap))
        assert client.scroll("copy", scroll_filter=w1, limit=1000) == expected


def test_plain_checkpoint_copy_stays_in_sparse_search_after_reopen(tmp_path):
    """The same load path as a restore: a checkpoint writes the appendable segment as a plain
    (index-less) copy and drops the log it covers; after a reopen it is the appendable segment
    again and its points must still be found by sparse search (through its growable index)."""
    from hybrid.checkpoint import write_checkpoint

    query = {"indices": [3, 11], "values": [1.0, 1.0]}
    with Client(path=tmp_path / "data") as client:
        client.create_collection("a", vectors_config={}, sparse_vectors_config={"s": {"modifier": "idf"}},
                                 optimizers_config={"max_optimization_threads": 0})
        client.upsert("a", [{"id": i, "vector": {"s": {"indices": [i % 10, 10 + i % 3], "values": [1.0, 0.5]}}}
                            for i in range(40)])
        before = client.query_points("a", query=query, using="s", limit=10)
        c = client.collection("a")
        with c.lock:
            write_checkpoint(c, c.optimizer.saved, set)
    with Client(path=tmp_path / "data") as client:
        (segment,) = client.collection("a").segments  # the plain copy, appendable again: nothing replayed
        assert segment.appendable and segment.size == 40
        assert client.query_points("a", query=query, using="s", limit=10) == before
