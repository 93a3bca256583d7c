"""hybrid.query.allowed: the allowed set of a filtered search (offsets from a payload index
when small, a bitset otherwise) and the exact-or-graph search over it, against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.query.allowed import Allowed, allowed_points, filtered_hits, search_allowed
from hybrid.filters import parse_filter

N, DIM = 2400, 8


@pytest.fixture(scope="module")
def sealed():
    """One sealed segment with an HNSW graph, keyword/float indexes, 40 deleted points."""
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    tags = rng.integers(0, 60, N)
    prices = rng.uniform(0, 100, N)
    client = Client()
    client.create_collection("c", vectors_config={"size": DIM, "distance": "Cosine"},
                             hnsw_config={"m": 8, "ef_construct": 64, "full_scan_threshold": 1},
                             optimizers_config={"indexing_threshold": 0})
    client.create_payload_index("c", "tag", "keyword")
    client.create_payload_index("c", "price", "float")
    payloads = [{"tag": f"t{t}", "price": float(p)} for t, p in zip(tags, prices)]
    payloads[7] = {"price": 1.0}  # no tag
    client.upsert("c", {"ids": list(range(N)), "vectors": vectors, "payloads": payloads})
    client.collection("c").optimizer.optimize()
    deleted = rng.choice(N, 40, replace=False)
    client.delete("c", deleted.tolist())
    seg = next(s for s in client.collection("c").segments if s.size and not s.appendable)
    live = np.ones(N, dtype=bool)
    live[deleted] = False
    tag_of = np.array([p.get("tag", "") for p in payloads])
    yield seg, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), live, tag_of, prices
    client.close()


def _brute(seg, vectors, allowed_ids, query, limit):
    ids = np.array(seg.ids)
    rows = np.flatnonzero(np.isin(ids, allowed_ids))
    scores = vectors[ids[rows]] @ (query / np.linalg.norm(query))
    return set(ids[rows[np.argsort(-scores)[:limit]]].tolist())


@pytest.mark.parametrize("flt, small", [
    ({"must": [{"key": "tag", "match": {"value": "t3"}}]}, True),
    ({"must": [{"key": "tag", "match": {"any": ["t1", "t2", "t59"]}}]}, True),
    ({"must": [{"key": "price", "range": {"gte": 10, "lt": 90}}]}, False),
    ({"must": [{"key": "tag", "match": {"value": "t3"}}, {"key": "price", "range": {"lt": 50}}]}, False),
    ({"must_not": [{"key": "tag", "match": {"value": "t3"}}]}, False),
])
def test_allowed_points_equal_brute_force(sealed, flt, small):
    seg, _, live, tag_of, prices = sealed
    allowed = allowed_points(seg, "", parse_filter(flt))
    ids = np.array(seg.ids)
    expected = live[ids].copy()
    for cond in flt.get("must", []):
        if "match" in cond:
            values = cond["match"].get("any", [cond["match"].get("value")])
            expected &= np.isin(tag_of[ids], values)
        else:
            expected &= (prices[ids] >= cond["range"].get("gte", -1)) & (prices[ids] < cond["range"]["lt"])
    for cond in flt.get("must_not", []):
        expected &= tag_of[ids] != cond["match"]["value"]
    assert (allowed.offsets is not None) == small
    assert allowed.count == expected.sum()
    assert np.array_equal(allowed.as_offsets(seg.size), np.flatnonzero(expected))
    assert np.array_equal(allowed.as_mask(seg.size), expected)


def test_no_filter_is_every_live_point(sealed):
    seg, _, live, _, _ = sealed
    allowed = allowed_points(seg, "", None)
    assert allowed.count == live.sum() and allowed.offsets is None
    assert np.array_equal(allowed.as_offsets(seg.size), np.flatnonzero(live[np.array(seg.ids)]))


@pytest.mark.parametrize("flt, walks", [
    ({"must": [{"key": "tag", "match": {"value": "t5"}}]}, False),  # few allowed: exact scan
    ({"must": [{"key": "price", "range": {"gte": 5, "lt": 95}}]}, True),  # most: graph walk
])
def test_search_allowed_finds_the_filtered_nearest(sealed, flt, walks, monkeypatch):
    seg, vectors, _, _, _ = sealed
    store = seg.vectors[""]
    walked_calls = []
    graph_search = store.index.search
    monkeypatch.setattr(store.index, "search", lambda *a, **k: walked_calls.append(1) or graph_search(*a, **k))
    allowed = allowed_points(seg, "", parse_filter(flt))
    allowed_ids = np.array(seg.ids)[allowed.as_offsets(seg.size)]
    rng = np.random.default_rng(3)
    recalls = []
    for query in rng.standard_normal((20, DIM)).astype(np.float32):
        unit = query / np.linalg.norm(query)
        expected = _brute(seg, vectors, allowed_ids, query, 10)
        exact = search_allowed(store, unit, 10, allowed, seg.size, exact=True)
        assert {seg.ids[o] for o in exact.offsets[:10]} == expected
        assert np.all(np.diff(exact.scores) <= 0)
        walked = search_allowed(store, unit, 10, allowed, seg.size, ef=64)
        assert set(walked.offsets.tolist()) <= set(allowed.as_offsets(seg.size).tolist())
        recalls.append(len({seg.ids[o] for o in walked.offsets} & expected) / 10)
    assert np.mean(recalls) >= 0.9
    assert bool(walked_calls) == walks


def test_search_allowed_without_graph_and_empty(sealed):
    seg, vectors, _, _, _ = sealed

    class Store:  # an appendable store: no index
        index = None
        data = seg.vectors[""].data
        spec = seg.vectors[""].spec

    offsets = np.array([3, 50, 51, 900], dtype=np.int64)
    query = vectors[seg.ids[50]]
    hits = search_allowed(Store(), query, 2, Allowed(4, None, offsets), seg.size)
    assert hits.offsets[0] == 50 and hits.offsets.size == 2
    assert search_allowed(Store(), query, 2, Allowed(0, None, offsets[:0]), seg.size).offsets.size == 0


def test_filtered_hits_per_segment(sealed):
    seg, vectors, _, _, _ = sealed
    flt = parse_filter({"must": [{"key": "tag", "match": {"value": "t7"}}]})
    query = vectors[seg.ids[0]]

    class Empty:
        size = 0

    parts = filtered_hits([Empty(), seg], "", query, 5, flt, ef=32)
    assert [s for s, _ in parts] == [seg]
    allowed = allowed_points(seg, "", flt)
    assert np.array_equal(parts[0][1].offsets, search_allowed(seg.vectors[""], query, 5, allowed, seg.size).offsets)
    nothing = parse_filter({"must": [{"key": "tag", "match": {"value": "none"}}]})
    assert filtered_hits([seg], "", query, 5, nothing) == []
