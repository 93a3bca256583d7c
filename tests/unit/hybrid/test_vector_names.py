"""create_vector_name / delete_vector_name: Qdrant 1.20's semantics, on sealed (indexed) and
appendable segments, durable through WAL replay, checkpoints, crashes and snapshots, and
atomic for readers."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import BadRequest, CollectionNotFound, InvalidValue, ValidationError

DENSE = {"dense": {"size": 3, "distance": "Dot"}}
MULTI = {"dense": {"size": 2, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}}}
SPARSE = {"sparse": {"modifier": "idf"}}


def build(client: Client, n: int = 300) -> None:
    """Sealed, indexed segments (HNSW, sparse postings) and an appendable one."""
    client.create_collection("c", vectors_config={"a": {"size": 4, "distance": "Cosine"}},
                             sparse_vectors_config={"s": {"modifier": "idf"}},
                             optimizers_config={"indexing_threshold": 1, "default_segment_number": 100})
    rng = np.random.default_rng(5)
    for start in range(0, n, 50):
        client.upsert("c", [{"id": i, "vector": {"a": rng.normal(size=4).tolist(),
                                                 "s": {"indices": [i % 7, 10 + i % 3], "values": [1.0, 0.5]}},
                             "payload": {"i": i}} for i in range(start, start + 50)])
    client.collection("c").optimizer.wait()


def state(client: Client) -> tuple:
    """Everything a reader can see of "c": points with vectors, the schema and searches by every name."""
    points, _ = client.scroll("c", limit=10_000, with_payload=True, with_vectors=True)
    info = client.get_collection("c")
    searches = []
    for name, spec in client.collection("c").schema.dense.items():
        query = np.ones((2, spec.size)).tolist() if spec.multivector else np.ones(spec.size).tolist()
        searches.append(client.query_points("c", query=query, using=name, limit=15).points)
    for name in client.collection("c").schema.sparse:
        searches.append(client.query_points("c", query={"indices": [1, 11], "values": [1.0, 1.0]}, using=name,
                                            limit=15).points)
    counts = {name: client.count("c", {"must": [{"has_vector": name}]}).count
              for name in client.collection("c").schema.columns}
    return points, info.config, info.points_count, searches, counts


def change(client: Client) -> None:
    """New names of every kind, points given them, a name deleted and made again with another size."""
    client.create_vector_name("c", "b", DENSE)
    client.create_vector_name("c", "m", MULTI)
    client.create_vector_name("c", "t", SPARSE)
    client.upsert("c", [{"id": i, "vector": {"a": [1, 0, 0, float(i)], "b": [1, 2, float(i)], "m": [[1, 0], [0, 1]],
                                             "t": {"indices": [1, 2], "values": [1.0, float(i)]}}}
                        for i in range(5)])
    client.update_vectors("c", [{"id": 7, "vector": {"t": {"indices": [11], "values": [2.0]}}}])
    client.delete_vector_name("c", "a")
    client.create_vector_name("c", "a", {"dense": {"size": 2, "distance": "Euclid"}})
    client.upsert("c", [{"id": 8, "vector": {"a": [0.5, 0.5], "s": {"indices": [1], "values": [1.0]}}}])


def test_existing_points_get_no_vector_and_deleting_drops_the_column(client):
    build(client)
    client.create_vector_name("c", "b", DENSE)
    assert client.count("c", {"must": [{"has_vector": "b"}]}).count == 0
    assert client.query_points("c", query=[1, 1, 1], using="b").points == []
    client.update_vectors("c", [{"id": 3, "vector": {"b": [1, 2, 3]}}])
    hits = client.query_points("c", query=[1, 1, 1], using="b").points
    assert [(h.id, h.score) for h in hits] == [(3, 6.0)]
    assert client.retrieve("c", [3], with_vectors=True)[0].vector["a"]  # the other names are untouched
    client.delete_vector_name("c", "a")
    assert "a" not in client.retrieve("c", [3], with_vectors=True)[0].vector
    with pytest.raises(ValidationError, match="Not existing vector name"):
        client.query_points("c", query=[1, 1, 1, 1], using="a")
    client.create_vector_name("c", "a", DENSE)  # made again: none of the old vectors come back
    assert client.count("c", {"must": [{"has_vector": "a"}]}).count == 0
    assert client.query_points("c", query=[1, 1, 1], using="a").points == []


def test_every_kind_of_name_serves_searches(client):
    build(client)
    change(client)
    points, config, count, searches, counts = state(client)
    assert count == 300
    assert set(config.params.vectors) == {"b", "m", "a"} and set(config.params.sparse_vectors) == {"s", "t"}
    assert counts == {"b": 5, "m": 5, "a": 1, "s": 295, "t": 6}
    assert [h.id for h in searches[0]][:5] == [4, 3, 2, 1, 0]  # b: Dot with [1, 1, 1]
    assert searches[2] == [searches[2][0]] and searches[2][0].id == 8  # a: one point has it
    client.collection("c").optimizer.optimize()  # merged, re-indexed: the same answers
    assert state(client)[3] == searches


def test_qdrant_answers(client):
    build(client, 50)
    with pytest.raises(CollectionNotFound):
        client.create_vector_name("nope", "b", DENSE)
    client.create_vector_name("c", "b", DENSE)
    seq = client.collection("c").seq
    assert client.create_vector_name("c", "b", DENSE).operation_id == seq  # the same again: nothing to do
    with pytest.raises(BadRequest, match="already exists with a different configuration"):
        client.create_vector_name("c", "b", {"dense": {"size": 4, "distance": "Dot"}})
    with pytest.raises(BadRequest, match="already exists as a dense vector"):
        client.create_vector_name("c", "b", SPARSE)
    with pytest.raises(BadRequest, match="already exists as a sparse vector"):
        client.create_vector_name("c", "s", DENSE)
    with pytest.raises(InvalidValue, match="dense.size"):
        client.create_vector_name("c", "x", {"dense": {"size": 0, "distance": "Dot"}})
    with pytest.raises(InvalidValue, match="vector_name"):
        client.create_vector_name("c", "a/b", DENSE)
    with pytest.raises(ValidationError, match="vector_name_config"):
        client.create_vector_name("c", "x", {"dense": {"size": 3, "distance": "Dot"}, "sparse": {}})
    with pytest.raises(ValidationError, match="datatype"):
        client.create_vector_name("c", "x", {"dense": {"size": 3, "distance": "Cosine", "datatype": "uint8"}})
    assert client.delete_vector_name("c", "unknown").operation_id == seq  # nothing to delete: no error
    for name in ("a", "b", "s"):  # the last name may go too
        client.delete_vector_name("c", name)
    assert client.collection("c").schema.columns == {}
    assert client.count("c").count == 50
    client.upsert("c", [{"id": 1000, "payload": {"k": 1}}])
    assert client.retrieve("c", [1000])[0].payload == {"k": 1}


def test_a_batch_validated_before_a_change_is_checked_again(client):
    build(client, 50)
    c = client.collection("c")
    from hybrid.points import batch_from_points

    batch = batch_from_points([{"id": 1, "vector": {"a": [1, 2, 3, 4]}}], c.schema)
    client.delete_vector_name("c", "a")
    client.create_vector_name("c", "a", DENSE)  # size 3 now
    with pytest.raises(ValidationError, match="dimension"):
        c.upsert(batch)
    assert c.seq == client.collection("c").seq


def crashed_copy(client: Client, source, target) -> Client:
    """The folder as a crash would leave it now (every acknowledged write is in the log)."""
    c = client.collection("c")
    with c.lock:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
    return Client(path=target)


def test_a_crash_replays_to_the_same_schema_and_points(tmp_path):
    live = Client(path=tmp_path / "live")
    build(live)
    change(live)
    expected = state(live)
    for i in range(2):  # the log replayed over older segments; then after a checkpoint
        reopened = crashed_copy(live, tmp_path / "live", tmp_path / f"copy{i}")
        assert state(reopened) == expected
        reopened.close()
        live.collection("c").optimizer.optimize()
    live.close()
    reopened = Client(path=tmp_path / "live")
    assert state(reopened) == expected
    reopened.close()


def test_replay_with_config_behind_the_log(tmp_path):
    """A crash after the record was fsynced but before config.json was rewritten."""
    live = Client(path=tmp_path / "live")
    build(live, 100)
    config = (tmp_path / "live" / "collections" / "c" / "config.json").read_bytes()
    live.delete_vector_name("c", "a")
    live.create_vector_name("c", "a", DENSE)
    live.upsert("c", [{"id": 1, "vector": {"a": [1, 2, 3]}}])
    expected = state(live)
    copy = tmp_path / "copy"
    with live.collection("c").lock:
        shutil.copytree(tmp_path / "live", copy, ignore=shutil.ignore_patterns(".lock"))
    (copy / "collections" / "c" / "config.json").write_bytes(config)
    live.close()
    reopened = Client(path=copy)
    assert state(reopened) == expected
    reopened.close()


def test_snapshot_round_trip(client):
    build(client)
    change(client)
    before = state(client)
    snap = client.create_snapshot("c")
    client.delete_vector_name("c", "b")
    client.recover_snapshot("c", str(client.snapshot_file("c", snap.name)), checksum=snap.checksum)
    assert state(client) == before
    client.create_vector_name("c", "z", DENSE)  # the restored collection takes changes as usual
    assert client.collection("c").schema.columns["z"].since == client.collection("c").seq


def test_readers_see_the_schema_before_or_after(client):
    build(client, 200)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                view = client.collection("c").view()
                time.sleep(0.001)  # a change may land now: the view keeps what it took
                for seg in view.segments:
                    assert list(seg.vectors) == list(view.schema.columns), (list(seg.vectors), view.schema.columns)
                points, _ = client.scroll("c", limit=300, with_vectors=True)
                sizes = {len(p.vector["b"]) for p in points if "b" in p.vector}
                assert sizes <= {3} or sizes <= {5}, sizes  # one incarnation of b per read
                client.query_points("c", query=[1.0, 1.0, 1.0, 1.0], using="a", limit=5)
            except (ValidationError, AssertionError) as exc:  # "b"/"a" may be gone: refused cleanly
                if isinstance(exc, AssertionError) or "Not existing vector name" not in str(exc):
                    errors.append(exc)
            except BaseException as exc:  # noqa: BLE001 - anything else is a torn read
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for round_ in range(6):
            size = 3 if round_ % 2 else 5
            client.create_vector_name("c", "b", {"dense": {"size": size, "distance": "Dot"}})
            client.update_vectors("c", [{"id": i, "vector": {"b": [1.0] * size}} for i in range(0, 200, 3)])
            client.delete_vector_name("c", "b")
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors[:3]


def test_a_change_while_the_optimizer_builds_a_segment(client):
    """The segment being built (outside the lock) takes the names made or deleted meanwhile."""
    build(client, 200)
    c = client.collection("c")
    builder = c.optimizer.build_indexes

    def build_and_change(seg, grown) -> None:
        client.delete_vector_name("c", "a")
        client.create_vector_name("c", "b", DENSE)
        builder(seg, grown)

    c.optimizer.build_indexes = build_and_change
    c.optimizer.optimize()
    c.optimizer.build_indexes = builder
    sealed = [seg for seg in c.segments if not seg.appendable]
    assert sealed and all(list(seg.vectors) == ["b", "s"] for seg in c.segments)
    client.update_vectors("c", [{"id": 5, "vector": {"b": [1, 1, 1]}}])
    assert [p.id for p in client.query_points("c", query=[1, 1, 1], using="b").points] == [5]
    assert set(client.retrieve("c", [6], with_vectors=True)[0].vector) == {"s"}
