"""hybrid.query.search: Candidates ordering (score, then point id) and the shared filter parse."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hybrid.query import search
from hybrid.ids import KeyIds, id_keys
from hybrid.query.search import Candidates


def _candidates(ids_per_segment: list[list], scores: np.ndarray, seg: np.ndarray, off: np.ndarray) -> Candidates:
    """Sealed-like segments (ids as KeyIds) and appendable-like ones (ids as a list), alternating."""
    segs = [SimpleNamespace(keys=id_keys(ids), ids=KeyIds(id_keys(ids)) if i % 2 == 0 else ids)
            for i, ids in enumerate(ids_per_segment)]
    return Candidates(segs, seg.astype(np.int32), off.astype(np.int64), scores.astype(np.float32))


def _expected(cand: Candidates, limit: int) -> list[tuple[float, int]]:
    pairs = [(float(s), cand.segs[g].keys[o]) for s, g, o in zip(cand.score, cand.seg, cand.off)]
    pairs.sort(key=lambda p: (-p[0], p[1]))
    return [(s, int.from_bytes(k[1:].ljust(16, b"\0"), "big")) for s, k in pairs[:limit]]


def _got(cand: Candidates) -> list[tuple[float, int]]:
    return [(float(s), int.from_bytes(k[1:].ljust(16, b"\0"), "big")) for s, k in zip(cand.score, cand.keys())]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [40, 300])  # one lexsort / a score sort, then a lexsort on ties
def test_ranked_orders_by_score_then_id_whatever_the_input_order(seed, n):
    rng = np.random.default_rng(seed)
    ids = [rng.permutation(1000).tolist(), (1000 + rng.permutation(500)).tolist()]
    seg = rng.integers(0, 2, n)
    off = np.where(seg == 0, rng.choice(1000, n, replace=False), rng.choice(500, n, replace=False))
    scores = rng.integers(0, 8, n).astype(np.float32) if seed % 2 else rng.random(n).astype(np.float32)
    if seed == 3:  # one segment of integer ids: sorted by the ids themselves
        seg[:] = 0
    if seed >= 4:  # already best first without ties: the one-segment shape the fast path keeps
        scores = np.sort(rng.random(n).astype(np.float32))[::-1].copy()
    cand = _candidates(ids, scores, seg, off)
    for limit in (None, 0, 1, 10, n, n + 5):
        assert _got(cand.ranked(limit)) == _expected(cand, n if limit is None else limit)


def test_ranked_uses_numeric_ids_only_for_one_all_integer_segment():
    import uuid

    cand = _candidates([[2**64 - 1, 5, 2**63]], np.array([1.0, 1.0, 1.0]), np.zeros(3), np.arange(3))
    assert cand.sort_keys().dtype.kind == "u" and [i for _, i in _got(cand.ranked())] == [5, 2**63, 2**64 - 1]
    mixed = _candidates([[7, str(uuid.UUID(int=1)), 3]], np.zeros(3), np.zeros(3), np.arange(3))
    assert mixed.sort_keys().dtype.kind == "S" and [i for _, i in _got(mixed.ranked())][:2] == [3, 7]


def test_ranked_breaks_ties_in_sorted_input_by_id():
    cand = _candidates([[30, 10, 20]], np.array([0.9, 0.5, 0.5]), np.zeros(3), np.array([0, 1, 2]))
    assert _got(cand.ranked(2)) == [(pytest.approx(0.9), 30), (0.5, 10)]
    cand = _candidates([[30, 20, 10]], np.array([0.9, 0.5, 0.5]), np.zeros(3), np.array([0, 1, 2]))
    assert [i for _, i in _got(cand.ranked())] == [30, 10, 20]


def test_parse_shares_a_parsed_filter_between_equal_json():
    one = search.parse({"must": [{"key": "k", "match": {"value": "x"}}]})
    assert search.parse({"must": [{"key": "k", "match": {"value": "x"}}]}) is one
    assert search.parse({"must": [{"key": "k", "match": {"value": "y"}}]}) is not one
    assert search.parse({"must": [{"key": "k", "match": {"value": True}}]}).must[0].check.value is True
    assert search.parse({"must": [{"key": "k", "match": {"value": 1}}]}).must[0].check.value is not True


def test_parse_does_not_answer_nan_with_a_cached_null():
    unbounded = search.parse({"must": [{"key": "p", "range": {"gte": None, "lt": 3}}]})
    assert unbounded.must[0].check.gte is None
    nan = {"must": [{"key": "p", "range": {"gte": float("nan"), "lt": 3}}]}
    try:
        parsed = search.parse(nan)
    except Exception as exc:  # rejecting NaN is fine; answering it as "no bound" is not
        assert "gte" in str(exc)
    else:
        assert parsed is not unbounded and parsed.must[0].check.gte != parsed.must[0].check.gte


def test_parse_cache_stays_bounded():
    for i in range(5000):
        search.parse({"must": [{"key": "k", "match": {"value": i}}]})
    info = search._parse_json.cache_info()
    assert info.currsize == info.maxsize == 4096
