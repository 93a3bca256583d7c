"""Payload indexes: lookups, ranges, geo, facets, cardinality, incremental updates."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.base import PayloadIndex
from indexes.payload import FieldColumns, create_payload_index
from indexes.payload.conditions import (
    DatetimeRange, FieldCondition, GeoBoundingBox, GeoRadius, MatchAny, MatchExcept, MatchPrefix,
    MatchSubstring, MatchText, MatchValue, Range,
)
from indexes.payload.datetimes import parse_micros
from indexes.payload.jsonpath import parse_path
from indexes.payload.pairs import OffsetValuePairs, slices_to_indices


def cond(key: str, check) -> FieldCondition:
    return FieldCondition(key, parse_path(key), check)


def offsets(mask) -> list[int]:
    return np.flatnonzero(mask).tolist()


PAYLOADS = [
    {"k": "red", "n": 1, "f": 1.5, "b": True, "t": "2021-01-01T00:00:00Z", "u": "550e8400-e29b-41d4-a716-446655440000"},
    {"k": ["red", "blue"], "n": [2, 3], "f": 2, "b": [False, True], "t": ["2021-06-01", "bad"], "u": "550E8400E29B41D4A716446655440000"},
    {"k": "green", "n": -5, "f": -0.5, "b": False, "t": "2022-01-01 10:00:00+02:00", "u": "not-a-uuid"},
    None,
    {"k": 7, "n": "7", "f": True, "b": 1, "t": 20210101, "u": 5},
    {"k": "reddish", "n": 3, "f": [3.0, 1e300], "b": None, "t": [], "u": ["00000000-0000-0000-0000-00000000002a"]},
]


def test_payload_keyword_index_lookups_and_prefix():
    index = create_payload_index("keyword", "k", PAYLOADS)
    assert isinstance(index, PayloadIndex)
    assert offsets(index.match(cond("k", MatchValue("red")), 6)) == [0, 1]
    assert offsets(index.match(cond("k", MatchAny(("blue", "green"))), 6)) == [1, 2]
    assert offsets(index.match(cond("k", MatchExcept(("red",))), 6)) == [1, 2, 5]
    assert offsets(index.match(cond("k", MatchPrefix("red")), 6)) == [0, 1, 5]
    assert offsets(index.match(cond("k", MatchSubstring("ee")), 6)) == [2]
    assert index.match(cond("k", MatchValue(7)), 6) is None  # an integer: left to the column scan
    assert index.match(cond("k", MatchText("red", "text")), 6) is None
    assert index.cardinality(cond("k", MatchValue("red"))) == (2, 2, 2)
    assert index.facet_counts(None) == [("red", 2), ("blue", 1), ("green", 1), ("reddish", 1)]
    allowed = np.array([False, True, True, True, True, True])
    assert index.facet_counts(allowed) == [("blue", 1), ("green", 1), ("red", 1), ("reddish", 1)]


def test_payload_integer_index_lookup_range_and_flags():
    index = create_payload_index("integer", "n", PAYLOADS)
    assert offsets(index.match(cond("n", MatchValue(3)), 6)) == [1, 5]
    assert offsets(index.match(cond("n", MatchAny((1, -5))), 6)) == [0, 2]
    assert offsets(index.match(cond("n", MatchExcept((2, 3))), 6)) == [0, 2]
    assert offsets(index.match(cond("n", Range(gt=1.5, lte=3.0)), 6)) == [1, 5]
    assert offsets(index.match(cond("n", Range(gte=2.5)), 6)) == [1, 5]
    assert offsets(index.match(cond("n", Range(lt=float("-inf"))), 6)) == []
    assert index.match(cond("n", MatchValue(True)), 6) is None
    assert index.match(cond("n", MatchValue("7")), 6) is None
    low, exp, high = index.cardinality(cond("n", Range(gte=2.0)))
    assert low <= 2 <= high and low <= exp <= high
    assert index.facet_counts(None) == [(3, 2), (-5, 1), (1, 1), (2, 1)]
    no_range = create_payload_index({"type": "integer", "range": False}, "n", PAYLOADS)
    assert no_range.match(cond("n", Range(gte=0.0)), 6) is None
    assert offsets(no_range.match(cond("n", MatchValue(1)), 6)) == [0]
    no_lookup = create_payload_index({"type": "integer", "lookup": False}, "n", PAYLOADS)
    assert no_lookup.match(cond("n", MatchValue(1)), 6) is None


def test_payload_float_bool_datetime_uuid_indexes():
    floats = create_payload_index("float", "f", PAYLOADS)
    assert offsets(floats.match(cond("f", Range(gte=1.5, lt=3.0)), 6)) == [0, 1]
    assert offsets(floats.match(cond("f", Range(gt=1e299)), 6)) == [5]
    assert floats.match(cond("f", MatchValue(2)), 6) is None
    bools = create_payload_index("bool", "b", PAYLOADS)
    assert offsets(bools.match(cond("b", MatchValue(True)), 6)) == [0, 1]
    assert offsets(bools.match(cond("b", MatchValue(False)), 6)) == [1, 2]
    assert bools.match(cond("b", MatchValue(1)), 6) is None
    assert bools.facet_counts(None) == [(False, 2), (True, 2)]
    dates = create_payload_index("datetime", "t", PAYLOADS)
    start = parse_micros("2021-03-01T00:00:00Z")
    assert offsets(dates.match(cond("t", DatetimeRange(gte=start)), 6)) == [1, 2]
    assert offsets(dates.match(cond("t", DatetimeRange(lte=parse_micros("2021-01-01"))), 6)) == [0]
    assert offsets(dates.match(cond("t", DatetimeRange(lt=parse_micros("2021-01-01"))), 6)) == []
    uuids = create_payload_index("uuid", "u", PAYLOADS)
    assert offsets(uuids.match(cond("u", MatchValue("550e8400-e29b-41d4-a716-446655440000")), 6)) == [0, 1]
    assert offsets(uuids.match(cond("u", MatchValue("{550E8400-E29B-41D4-A716-446655440000}")), 6)) == [0, 1]
    assert offsets(uuids.match(cond("u", MatchValue("not-a-uuid")), 6)) == []
    assert offsets(uuids.match(cond("u", MatchAny(("00000000-0000-0000-0000-00000000002a",))), 6)) == [5]
    assert uuids.match(cond("u", MatchPrefix("550")), 6) is None  # spelling-based: column scan


def test_payload_geo_index_equals_column_scan():
    rng = np.random.default_rng(11)
    payloads = [{"g": [{"lat": float(a), "lon": float(o)} for a, o in zip(rng.uniform(-60, 60, 2), rng.uniform(-180, 180, 2))]}
                for _ in range(400)]
    payloads[5] = {"g": {"lat": True, "lon": 1.0}}
    index = create_payload_index("geo", "g", payloads)
    columns = FieldColumns(payloads, parse_path("g"))
    for check in [GeoRadius(10.0, 20.0, 2e6), GeoRadius(0.0, 179.5, 1.5e6), GeoBoundingBox(30.0, 170.0, -30.0, -170.0),
                  GeoBoundingBox(50.0, -10.0, 0.0, 40.0)]:
        got = index.match(cond("g", check), 400)
        assert got.tolist() == columns.match(check).tolist()
        assert got.any()
        low, _, high = index.cardinality(cond("g", check))
        assert low <= got.sum() <= high


def test_payload_index_incremental_updates_equal_rebuild():
    rng = np.random.default_rng(5)
    words = ["a", "b", "c", "d"]
    current: list[dict | None] = [None] * 50
    index = create_payload_index("keyword", "k", [])
    for step in range(3000):  # enough churn to trigger compaction of dead pairs
        offset = int(rng.integers(0, 50))
        if rng.random() < 0.2:
            current[offset] = None
            index.remove(offset)
        else:
            current[offset] = {"k": [words[i] for i in rng.choice(4, size=rng.integers(0, 3), replace=False)]}
            index.add(offset, current[offset])
    rebuilt = create_payload_index("keyword", "k", current)
    for word in words:
        check = cond("k", MatchValue(word))
        assert index.match(check, 50).tolist() == rebuilt.match(check, 50).tolist()
    assert index.facet_counts(None) == rebuilt.facet_counts(None)
    assert index.pairs.n_pairs == rebuilt.pairs.n_pairs


def test_payload_pairs_and_slices_helpers():
    assert slices_to_indices(np.array([2, 7, 4]), np.array([4, 7, 6])).tolist() == [2, 3, 4, 5]
    pairs = OffsetValuePairs(np.int64)
    pairs.set(3, np.array([5, 1]))
    pairs.set(0, np.array([4]))
    pairs.set(3, np.array([2]))
    values, owners = pairs.sorted_view()
    assert values.tolist() == [2, 4] and owners.tolist() == [3, 0]
    assert pairs.capacity == 4 and pairs.n_offsets() == 2


def test_payload_index_match_pads_to_segment_size_and_rejects_unknown_kind():
    index = create_payload_index("keyword", "k", [{"k": "x"}])
    assert index.match(cond("k", MatchValue("x")), 4).tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="field_schema"):
        create_payload_index("text", "k")
    with pytest.raises(TypeError, match="field_schema"):
        create_payload_index({"lookup": True}, "k")


@pytest.mark.parametrize("multi", [False, True])
def test_payload_float_wide_ranges_equal_the_scan(multi):
    """Wide ranges on a single-valued field compare a per-offset column; multi-valued fields
    and narrow ranges scatter owners; both equal the column scan, at any requested size."""
    rng = np.random.default_rng(9)
    payloads = [None if i % 17 == 0 else {"p": float(rng.uniform(0, 100))} for i in range(500)]
    if multi:
        payloads[3] = {"p": [1.0, 99.0]}
    index = create_payload_index("float", "p", payloads)
    scan = FieldColumns(payloads, parse_path("p"))
    for check in (Range(gte=10.0, lt=90.0), Range(gt=50.0), Range(lte=1.5), Range(lt=float("nan")),
                  Range(gte=-float("inf"))):
        expected = scan.match(check)
        assert np.array_equal(index.match(cond("p", check), 500), expected), check
        assert np.array_equal(index.match(cond("p", check), 520)[:500], expected)
        assert not index.match(cond("p", check), 520)[500:].any()
    assert (index.pairs.column(np.nan) is None) == multi
    index.add(3, {"p": 42.0})  # a change drops the column with the sorted view
    assert index.match(cond("p", Range(gte=41.0, lte=43.0)), 500)[3]


@pytest.mark.parametrize("in_order", [True, False])
def test_keyword_matching_offsets_are_sorted_after_any_update_order(in_order):
    """Offsets of one value are read as a slice of the sorted view, unsorted only when some
    offset was (re)written after a higher one."""
    rng = np.random.default_rng(6)
    words = ["t0", "t1", "t2"]
    current: dict[int, str] = {}
    index = create_payload_index("keyword", "k", [])
    order = np.arange(300) if in_order else rng.permutation(300)
    for offset in order.tolist() + ([] if in_order else rng.integers(0, 300, 200).tolist()):
        current[offset] = words[int(rng.integers(0, 3))]
        index.add(offset, {"k": current[offset]})
    assert index.pairs.owners_ascending is in_order
    for word in words + ["unseen"]:
        got = index.matching_offsets(cond("k", MatchValue(word)))
        assert got.tolist() == sorted(o for o, w in current.items() if w == word)
        assert index.matching_offsets(cond("k", MatchValue(word)), at_most=0) is None or got.size == 0
    index.add(301, {"k": "t3"})  # a new code after the runs were cached
    assert index.matching_offsets(cond("k", MatchValue("t3"))).tolist() == [301]
