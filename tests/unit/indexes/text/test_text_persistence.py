"""Durability contract: commit(seq), reopen, read-your-writes, params check, close."""

import numpy as np
import pytest

from indexes.text import TextIndex, TextIndexParams

PARAMS = TextIndexParams(phrase_matching=True, stemmer="english")


def test_round_trip_keeps_documents_and_last_seq(tmp_path):
    index = TextIndex(PARAMS, tmp_path)
    assert index.last_seq == -1
    index.upsert(np.array([1, 2, 3]), ["running dogs", "a cat", ["dog days", "cats"]])
    index.commit(5)
    index.delete(np.array([2]))
    index.commit(6)
    before = index.search("dog cat", 10), index.match("phrase", "dog days")
    index.close()

    reopened = TextIndex(PARAMS, tmp_path)
    assert reopened.last_seq == 6
    after = reopened.search("dog cat", 10), reopened.match("phrase", "dog days")
    np.testing.assert_array_equal(after[0][0], before[0][0])
    np.testing.assert_array_equal(after[0][1], before[0][1])
    np.testing.assert_array_equal(after[1], before[1])
    assert reopened.count() == 2
    reopened.close()


def test_writes_after_the_last_commit_survive_close_but_not_in_last_seq(tmp_path):
    index = TextIndex(PARAMS, tmp_path)
    index.upsert(np.array([1]), ["alpha"])
    index.commit(1)
    index.upsert(np.array([2]), ["beta"])  # replayed from the WAL after seq 1 if lost
    index.close()
    reopened = TextIndex(PARAMS, tmp_path)
    assert reopened.last_seq == 1
    assert reopened.match("text", "beta").tolist() == [2]
    reopened.close()


@pytest.mark.parametrize("on_disk", [False, True], ids=["ram", "disk"])
def test_writes_are_visible_to_the_next_read_without_commit(on_disk, tmp_path):
    index = TextIndex(PARAMS, tmp_path if on_disk else None)
    index.upsert(np.array([10]), ["gamma ray"])
    assert index.search("gamma", 5)[0].tolist() == [10]
    index.upsert(np.array([10]), ["delta"])
    assert index.search("gamma", 5)[0].tolist() == []
    assert index.match("text", "delta").tolist() == [10]
    index.close()


def test_reopening_with_other_params_is_refused(tmp_path):
    TextIndex(PARAMS, tmp_path).close()
    with pytest.raises(ValueError, match="params"):
        TextIndex(TextIndexParams(), tmp_path)


def test_commit_seq_must_not_go_backwards_and_closed_index_refuses_work(tmp_path):
    index = TextIndex(PARAMS)
    index.commit(3)
    assert index.last_seq == 3
    with pytest.raises(ValueError, match="seq"):
        index.commit(2)
    index.close()
    index.close()  # idempotent
    with pytest.raises(RuntimeError):
        index.upsert(np.array([1]), ["x"])
    with pytest.raises(RuntimeError):
        index.search("x", 1)


def test_upsert_validates_its_arguments():
    index = TextIndex(PARAMS)
    with pytest.raises(ValueError, match="values"):
        index.upsert(np.array([1, 2]), ["only one"])
    with pytest.raises(TypeError, match="pids"):
        index.upsert(np.array([[1]]), ["x"])


def test_a_second_writer_on_the_same_path_is_refused(tmp_path):
    index = TextIndex(PARAMS, tmp_path)
    with pytest.raises(ValueError, match="lock"):
        TextIndex(PARAMS, tmp_path)
    index.close()
    TextIndex(PARAMS, tmp_path).close()  # the lock is released by close()


def test_an_index_of_the_previous_format_is_rebuilt_by_the_engine(tmp_path):
    """Format 1 had no `len` fast field: opening one starts it empty (last_seq -1), so the
    engine re-indexes it from its segments; through a Client, BM25 answers as before."""
    import json

    from hybrid import Client

    client = Client(path=str(tmp_path / "db"))
    client.create_collection("c", vectors_config={})
    client.create_payload_index("c", "t", {"type": "text"})
    client.upsert("c", [{"id": i, "vector": {}, "payload": {"t": f"dog {'cat ' * i}"}} for i in range(5)])
    before = client.query_points("c", query={"bm25": {"field": "t", "text": "cat dog"}}).points
    client.close()
    meta_path = next((tmp_path / "db").rglob("text_index.json"))
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "version": 1, "last_seq": 10**6}))

    index = TextIndex(TextIndexParams.from_json(meta["params"]), meta_path.parent)
    assert index.last_seq == -1 and index.count() == 0
    index.close()
    meta_path.write_text(json.dumps({**meta, "version": 1}))
    client = Client(path=str(tmp_path / "db"))
    after = client.query_points("c", query={"bm25": {"field": "t", "text": "cat dog"}}).points
    assert [(p.id, p.score) for p in after] == [(p.id, p.score) for p in before]
    client.close()
