"""CollectionView: a read sees the collection as of the instant its view was taken, whatever
is written, deleted, or optimised afterwards (hybrid.view)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.query.request import QueryRequest, run_query
from hybrid.query.search import count, scroll

FILTER = None


def point(pid: int, version: int) -> dict:
    return {"id": pid, "vector": {"d": [float(version), 1.0], "s": {"indices": [pid, 99], "values": [1.0, float(version)]}},
            "payload": {"v": version, "n": pid % 3, "t": f"w{version} common"}}


def make_client() -> Client:
    c = Client()
    c.create_collection("c", vectors_config={"d": {"size": 2, "distance": "Dot"}},
                        sparse_vectors_config={"s": {"modifier": "idf"}})
    c.create_payload_index("c", "n", "integer")
    c.create_payload_index("c", "t", {"type": "text"})
    c.upsert("c", [point(i, 1) for i in range(20)])
    return c


@pytest.fixture
def client():
    with make_client() as c:
        yield c


@pytest.fixture
def before():
    """The reads of a twin collection that sees no later write."""
    with make_client() as twin:
        yield snapshot_reads(twin.collection("c").view())


def snapshot_reads(view) -> dict:
    """Every kind of read the view answers, as plain values."""
    records, _ = scroll(view, None, 100, None, True, True)
    dense = run_query(view, QueryRequest(query=[1.0, 0.0], using="d", limit=5, with_payload=True))
    sparse = run_query(view, QueryRequest(query={"indices": [99], "values": [1.0]}, using="s", limit=5))
    bm25 = run_query(view, QueryRequest(query={"bm25": {"field": "t", "text": "w1"}}, limit=50))
    text = count(view, _parse({"must": [{"key": "t", "match": {"text": "w1"}}]}))
    return {"records": [(r.id, r.payload, r.vector) for r in records],
            "dense": [(p.id, p.score, p.payload) for p in dense],
            "sparse": [(p.id, round(p.score, 5)) for p in sparse],
            "bm25": sorted(p.id for p in bm25), "text": text,
            "count": count(view, _parse({"must": [{"key": "n", "match": {"value": 1}}]}))}


def _parse(flt):
    from hybrid.query.search import parse

    return parse(flt)


def write_everything(c: Client) -> None:
    c.delete("c", [1, 3, 5])  # first: before any growth swaps the arrays the view holds
    c.upsert("c", [point(i, 2) for i in range(0, 20, 2)])  # new versions of points in the view
    c.upsert("c", [point(i, 3) for i in range(20, 40)])  # new points
    c.set_payload("c", {"n": 1, "t": "w1 again"}, points=[7, 9])
    c.update_vectors("c", [{"id": 11, "vector": {"d": [50.0, 0.0]}}])
    c.delete_vectors("c", ["s"], points=[13])


def test_a_view_is_unchanged_by_later_writes(client, before) -> None:
    unread, read = client.collection("c").view(), make_client()
    with read:
        view = read.collection("c").view()
        assert snapshot_reads(view) == before  # read before the writes, and again after
        write_everything(read)
        assert snapshot_reads(view) == before
    write_everything(client)
    assert snapshot_reads(unread) == before  # first read after the writes
    after = snapshot_reads(client.collection("c").view())
    assert after != before and len(after["records"]) == 37


def test_a_view_survives_the_optimizer_swapping_segments(client, before) -> None:
    c = client.collection("c")
    view = c.view()
    write_everything(client)
    c.optimizer.optimize()
    assert [s.appendable for s in c.segments] == [False, True]  # the view's segments are gone
    assert snapshot_reads(view) == before
    fresh = c.view()
    assert snapshot_reads(fresh)["records"] == snapshot_reads(client.collection("c").view())["records"]


def test_reads_share_a_view_until_the_state_changes(client) -> None:
    c = client.collection("c")
    assert c.view() is c.view()
    view = c.view()
    client.set_payload("c", {"x": 1}, points=[0])
    assert c.view() is not view
    view = c.view()
    c.optimizer.optimize()
    assert c.view() is not view


def test_a_rewritten_point_has_one_live_version(client) -> None:
    for version in range(2, 6):
        client.set_payload("c", {"v": version}, points=[4])
    c = client.collection("c")
    assert client.count("c").count == 20 and c.appendable.size == 24  # versions appended, old ones dead
    (record,) = client.retrieve("c", [4], with_vectors=True)
    assert record.payload["v"] == 5 and record.vector["d"] == [1.0, 1.0]
    hits = client.query_points("c", query={"bm25": {"field": "t", "text": "w1"}}, limit=50).points
    assert sorted(p.id for p in hits) == list(range(20))


def test_idf_statistics_are_those_of_the_view(client) -> None:
    view = client.collection("c").view()
    weights = view.df["s"].df(np.array([99, 5]))
    client.upsert("c", [point(i, 3) for i in range(20, 40)])
    assert view.df["s"].df(np.array([99, 5])).tolist() == weights.tolist() == [20.0, 1.0]
    assert client.collection("c").view().docs_with("s") == 40


def test_lookups_inside_a_view_skip_deleted_and_older_versions(client) -> None:
    client.set_payload("c", {"v": 7}, points=[2])  # a newer version of 2 in the appendable segment
    client.delete("c", [3])
    view = client.collection("c").view()
    seg, off = view.where.get(2)
    assert seg.payloads[off]["v"] == 7 and view.where.get(3) is None
    segs, seg_ix, offs = view.where.locate_pids(np.array([seg.pids[off], 10**9]))
    assert seg_ix.tolist()[1] == -1 and segs[seg_ix[0]].payloads[offs[0]]["v"] == 7


def test_term_stats_fold_their_recent_changes_without_changing_a_held_snapshot() -> None:
    from hybrid.collection import TermStats

    stats, rng = TermStats(), np.random.default_rng(3)
    truth: dict[int, int] = {}
    held = []
    for step in range(300):  # enough distinct terms to fold several times
        terms = rng.integers(0, 20_000, size=60)
        sign = -1 if step % 5 == 4 else 1
        stats.add(terms, 1, sign)
        for t in terms.tolist():
            truth[t] = truth.get(t, 0) + sign
        if step % 50 == 0:
            held.append((stats.shared(), dict(truth)))
    probe = np.arange(20_000)
    assert stats.df(probe).tolist() == [truth.get(t, 0) for t in range(20_000)]
    for frozen, then in held:
        assert frozen.df(probe).tolist() == [then.get(t, 0) for t in range(20_000)]


def test_lookups_in_an_empty_appendable_segment_find_nothing(client) -> None:
    client.collection("c").optimizer.optimize()  # every point sealed; the appendable one is empty
    view = client.collection("c").view()
    assert view.appendable.size == 0 and view.appendable.find("keys", view.segments[0].keys[:2]).tolist() == [-1, -1]
    assert view.where.get(4)[1] >= 0 and view.where.get(99) is None


@pytest.mark.parametrize("pids", [np.arange(5, 25), np.arange(20) * 1000 + 7, np.arange(20)[::-1] * 3 + 1])
def test_a_compacted_segment_finds_pids_by_table_or_sorted_search_alike(pids) -> None:
    """Narrow pid ranges are found through a direct table, wide ones by a sorted search
    (hybrid.view._lookup): the same offsets, -1 for unknown and deleted pids."""
    from hybrid.view import _lookup

    class Seg:  # the part of a SegmentView that `_find_sorted` reads
        _find_sorted = __import__("hybrid.view", fromlist=["SegmentView"]).SegmentView._find_sorted

        def __init__(self) -> None:
            self.size, self.pids, self.cache = pids.size, pids.astype(np.int64), {}
            self.live = np.ones(pids.size, bool)
            self.live[3] = False

    seg = Seg()
    wanted = np.concatenate([pids, [-5, 10**9, int(pids.max()) + 1, int(pids.min()) - 1]]).astype(np.int64)
    expected = np.array([i if i != 3 else -1 for i in range(pids.size)] + [-1] * 4)
    assert (seg._find_sorted("pids", wanted) == expected).all()
    narrow = int(pids.max() - pids.min()) < 4 * pids.size
    assert (_lookup(seg.pids)[1].dtype == np.int32) == narrow
