"""evaluate / cardinality / facet / order over a FilterView: edge semantics, index and text-hook
dispatch, cache invalidation."""

from __future__ import annotations

import contextlib
import uuid

import numpy as np
from qdrant_client.local.siphash import point_id_slice

from hybrid.filters import cardinality, evaluate, facet, order_pairs, order_values, parse_filter
from indexes.payload import create_payload_index
from indexes.payload.datetimes import parse_micros

UUID = "550e8400-e29b-41d4-a716-446655440000"


class View:
    def __init__(self, payloads, ids=None, vectors=None, indexes=None, text=None):
        self.payloads = payloads
        self.size = len(payloads)
        self.payload_version = 0
        self.cache: dict = {}
        self.index_lock = contextlib.nullcontext()
        self.ids = ids if ids is not None else list(range(len(payloads)))
        self.vectors = vectors or {}
        self.indexes = indexes or {}
        self.text = text
        self.index_calls: list[str] = []

    def point_ids(self):
        return self.ids

    def vector_present(self, name):
        return self.vectors.get(name, np.zeros(self.size, dtype=bool))

    def payload_index(self, key):
        self.index_calls.append(key)
        return self.indexes.get(key)

    def text_match(self, key, kind, text):
        return None if self.text is None else self.text(key, kind, text)


def where(flt, view) -> list[int]:
    return np.flatnonzero(evaluate(flt, view)).tolist()


def must(**condition) -> dict:
    return {"must": [condition]}


def test_filters_typed_equality_and_arrays():
    view = View([{"v": 1}, {"v": 1.0}, {"v": True}, {"v": "1"}, {"v": [0, 1]}, {"v": [[1]]}, None])
    assert where(must(key="v", match={"value": 1}), view) == [0, 4]
    assert where(must(key="v", match={"value": True}), view) == [2]
    assert where(must(key="v", match={"value": "1"}), view) == [3]
    assert where(must(key="v", range={"gte": 1}), view) == [0, 1, 4]
    assert where(must(key="v", match={"any": [0, 1]}), view) == [0, 4]
    assert where({"must_not": [{"key": "v", "match": {"value": 1}}]}, view) == [1, 2, 3, 5, 6]


def test_filters_missing_null_empty_and_counts():
    view = View([{}, {"v": None}, {"v": []}, {"v": [None]}, {"v": [None, 1]}, {"v": 0}, {"v": [1, 2]}, None])
    assert where({"must": [{"is_empty": {"key": "v"}}]}, view) == [0, 1, 2, 7]
    assert where({"must": [{"is_null": {"key": "v"}}]}, view) == [1, 3, 4]
    assert where(must(key="v", is_empty=False), view) == [3, 4, 5, 6]
    assert where(must(key="v", values_count={"lt": 1}), view) == [0, 1, 2, 7]
    assert where(must(key="v", values_count={"gte": 2}), view) == [4, 6]
    assert where(must(key="v", match={"except": [1]}), view) == [5, 6]
    assert where(must(key="v", match={"except": []}), view) == [4, 5, 6]


def test_filters_json_paths_nested_and_ids():
    view = View(
        [
            {"arr": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]},
            {"arr": [{"x": 1, "y": "b"}]},
            {"arr": {"x": 1, "y": "a"}},
            {"arr": [{"x": [1, 3]}, 5]},
        ],
        ids=[1, UUID, 3, 2**64 - 1],
    )
    both = {"must": [{"key": "x", "match": {"value": 1}}, {"key": "y", "match": {"value": "b"}}]}
    assert where({"must": [{"nested": {"key": "arr", "filter": both}}]}, view) == [1]
    assert where({"must": [{"key": "arr[].x", "match": {"value": 1}}, {"key": "arr[].y", "match": {"value": "b"}}]}, view) == [0, 1]
    assert where(must(key="arr[0].y", match={"value": "b"}), view) == [1]
    assert where(must(key="arr.x", match={"value": 1}), view) == [2]
    assert where({"must": [{"nested": {"key": "arr[]", "filter": must(key="x", match={"value": 3})}}]}, view) == [3]
    in_nested = {"must": [{"nested": {"key": "arr", "filter": {"must": [{"has_id": [1]}]}}}]}
    assert where(in_nested, view) == []
    assert where({"must": [{"has_id": [UUID.upper().replace("-", ""), 2**64 - 1, 99]}]}, view) == [1, 3]


def test_filters_boolean_clauses_and_min_should():
    view = View([{"a": i % 2, "b": i % 3} for i in range(6)], vectors={"v": np.array([1, 1, 0, 0, 1, 0], bool)})
    a1, b0 = {"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 0}}
    assert where({"should": [a1, b0]}, view) == [0, 1, 3, 5]
    assert where({"should": []}, view) == list(range(6))
    assert where({"must": [a1], "must_not": [b0]}, view) == [1, 5]
    at_least_two = {"min_should": {"conditions": [a1, b0, {"has_vector": "v"}], "min_count": 2}}
    assert where(at_least_two, view) == [0, 1, 3]
    assert where({"must": [{"should": [a1]}, {"must_not": [{"has_vector": "v"}]}]}, view) == [3, 5]
    assert evaluate(None, view).all() and where({}, view) == list(range(6))


def test_filters_text_prefix_datetime_geo_without_indexes():
    view = View([
        {"t": "Hello, World!", "d": "2021-01-01T10:00:00+02:00", "g": {"lat": 52.52, "lon": 13.40}},
        {"t": ["world peace", "hello"], "d": "2021-01-01 09:00:00", "g": [{"lat": 48.85, "lon": 2.35}, {"lat": 1, "lon": 1}]},
        {"t": "hello_world", "d": ["bad", 20210101], "g": {"lat": "52", "lon": 13}},
    ])
    assert where(must(key="t", match={"text": "world hello"}), view) == [0, 2]  # "_" separates tokens
    assert where(must(key="t", match={"phrase": "world peace"}), view) == [1]
    assert where(must(key="t", match={"text_any": "peace"}), view) == [1]
    assert where(must(key="t", match={"text": "hello peace"}), view) == []  # tokens of one string only
    assert where(must(key="t", match={"prefix": "hello"}), view) == [1, 2]
    assert where(must(key="d", range={"gte": "2021-01-01T08:30:00Z"}), view) == [1]
    assert where(must(key="g", geo_radius={"center": {"lat": 52.5, "lon": 13.4}, "radius": 5000}), view) == [0]
    box = {"top_left": {"lat": 60, "lon": 0}, "bottom_right": {"lat": 40, "lon": 20}}
    assert where(must(key="g", geo_bounding_box=box), view) == [0, 1]


def test_filters_use_payload_index_and_text_hook():
    payloads = [{"u": UUID}, {"u": UUID.upper()}, {"u": "x"}]
    no_index = View(payloads)
    with_index = View(payloads, indexes={"u": create_payload_index("uuid", "u", payloads)})
    flt = must(key="u", match={"value": UUID})
    assert where(flt, no_index) == [0]  # unindexed: exact strings
    assert where(flt, with_index) == [0, 1]  # uuid index: compared by value
    assert where(must(key="u", match={"prefix": "550E"}), with_index) == [1]  # index declines, scan answers
    calls = []
    hook = View([{"t": "a"}, {"t": "b"}], text=lambda k, kind, q: calls.append((k, kind, q)) or np.array([False, True]))
    assert where(must(key="t", match={"phrase": "a"}), hook) == [1]
    assert calls == [("t", "phrase", "a")]
    short_index = View([{"k": "a"}] * 3, indexes={"k": create_payload_index("keyword", "k", [{"k": "a"}])})
    assert where(must(key="k", match={"value": "a"}), short_index) == [0]  # index lags: padded with False


def test_filters_column_cache_follows_payload_version_and_size():
    view = View([{"a": 1}, {"a": 2}])
    flt = must(key="a", match={"value": 2})
    assert where(flt, view) == [1]
    view.payloads[0] = {"a": 2}
    view.payload_version += 1
    assert where(flt, view) == [0, 1]
    view.payloads.append({"a": 2})
    view.ids.append(2)
    view.size += 1
    assert where(flt, view) == [0, 1, 2]


def test_filters_cardinality_from_indexes_and_exact_leaves():
    payloads = [{"k": "a" if i < 30 else "b", "n": i} for i in range(100)]
    view = View(payloads, ids=list(range(100)), vectors={"v": np.arange(100) < 10},
                indexes={"k": create_payload_index("keyword", "k", payloads)})
    assert cardinality(None, view) == (100, 100, 100)
    assert cardinality(must(key="k", match={"value": "a"}), view) == (30, 30, 30)
    assert cardinality({"must_not": [{"key": "k", "match": {"value": "a"}}]}, view) == (70, 70, 70)
    assert cardinality({"must": [{"has_id": [1, 2, 500]}]}, view) == (2, 2, 2)
    assert cardinality({"must": [{"has_vector": "v"}]}, view) == (10, 10, 10)
    assert cardinality(must(key="n", range={"gte": 50}), view) == (0, 50, 100)  # unindexed: unknown
    low, exp, high = cardinality({"must": [{"key": "k", "match": {"value": "a"}}, {"has_vector": "v"}]}, view)
    assert (low, exp, high) == (0, 3, 10)
    low, exp, high = cardinality({"should": [{"key": "k", "match": {"value": "a"}}, {"has_vector": "v"}]}, view)
    assert low == 30 and high == 40 and low <= exp <= high


def test_filters_facet_with_and_without_index():
    payloads = [{"c": "x"}, {"c": ["x", "x", "y"]}, {"c": [True, 2]}, {"c": 2}, {"c": UUID.upper()}, {"c": 1.5}, None]
    view = View(payloads)
    assert facet("c", view) == [(2, 2), ("x", 2), (True, 1), ("550e8400-e29b-41d4-a716-446655440000", 1), ("y", 1)]
    assert facet("c", view, allowed=np.array([0, 1, 1, 0, 0, 0, 0], bool), limit=2) == [(True, 1), (2, 1)]
    indexed = View(payloads, indexes={"c": create_payload_index("keyword", "c", payloads)})
    assert facet("c", indexed) == [("x", 2), (UUID.upper(), 1), ("y", 1)]


def test_filters_order_values_and_pairs():
    payloads = [{"o": 3}, {"o": [1.5, 7]}, {"o": "2021-01-01T00:00:00Z"}, {"o": True}, {"o": [2, 2]}, {}]
    view = View(payloads)
    owners, values = order_pairs("o", view)
    day = float(parse_micros("2021-01-01"))
    assert owners.tolist() == [1, 4, 0, 1, 2] and values.tolist() == [1.5, 2.0, 3.0, 7.0, day]
    ascending = order_values("o", view)
    assert ascending[:3].tolist() == [3.0, 1.5, day] and np.isnan(ascending[[3, 5]]).all()
    assert order_values("o", view, descending=True)[1] == 7.0
    indexed = View(payloads, indexes={"o": create_payload_index("integer", "o", payloads)})
    owners, values = order_pairs("o", indexed)
    assert owners.tolist() == [4, 0, 1] and values.tolist() == [2.0, 3.0, 7.0]


def test_filters_slices_partition_ids_like_qdrant():
    ids = list(range(40)) + [str(uuid.UUID(int=7 * k + 1)) for k in range(40)] + [None]
    view = View([{}] * len(ids), ids=ids)
    seen = np.zeros(len(ids), dtype=int)
    for index in range(3):
        mask = evaluate({"must": [{"slice": {"total": 3, "index": index}}]}, view)
        assert mask.tolist() == [i is not None and point_id_slice(i, 3) == index for i in ids]
        seen += mask
    assert seen[:-1].tolist() == [1] * (len(ids) - 1) and seen[-1] == 0
    assert cardinality({"must": [{"slice": {"total": 1, "index": 0}}]}, view) == (80, 80, 80)


def test_filters_evaluate_accepts_parsed_and_raw_filters():
    view = View([{"a": 1}, {"a": 2}])
    raw = must(key="a", match={"value": 2})
    assert evaluate(parse_filter(raw), view).tolist() == evaluate(raw, view).tolist() == [False, True]
