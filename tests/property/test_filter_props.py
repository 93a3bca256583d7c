"""Property tests: the vectorised evaluator equals the plain-Python reference and Qdrant's own
local-mode checker (qdrant_client.local.payload_filters) on random payloads and filters, with and
without payload indexes; cardinality bounds always contain the true count; and a
`QdrantClient(":memory:")` collection holding the same points counts and scrolls exactly the
points `evaluate` selects."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models
from qdrant_client.local.payload_filters import check_filter

from hybrid.filters import cardinality, evaluate, parse_filter, reference_match
from indexes.payload import FieldColumns, create_payload_index
from indexes.payload.jsonpath import parse_path, values_at

STRINGS = [
    "red", "hello world", "2021-06-15 12:30:00", "550e8400-e29b-41d4-a716-446655440000", "Red", "World of hello",
    "2022-01-01", "foo-bar baz", "", "2021-03-04T05:06:07.123456789+01:00", "550E8400E29B41D4A716446655440000",
    "not a date", "2021-01-01T00:00:00Z",
]
GEO = [{"lat": la, "lon": lo} for la, lo in [(52.5, 13.4), (52.52, 13.41), (48.85, 2.35), (0.0, 179.9), (1.0, 1.0), (0.5, 0.5)]]
KEYS = ["a", "b", "o", "arr"]
FIELD_KEYS = ["a", "o.x", "arr[].x", "b", "a[]", "o.y", "a[0]", "a.x", "a[].x", "arr[1].y", "o"]
IDS = [0, 1, 2, 3, 7, 10**12, "550e8400-e29b-41d4-a716-446655440000", "00000000-0000-0000-0000-00000000002a"]

scalars = st.one_of(
    st.integers(-2, 2), st.sampled_from(STRINGS), st.none(), st.booleans(), st.sampled_from([0.0, 1.0, 1.5, -2.5]),
    st.sampled_from(GEO),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2),
    max_leaves=6,
)
objects = st.dictionaries(st.sampled_from(["x", "y"]), scalars | st.lists(scalars, max_size=3), min_size=1)
structured = st.fixed_dictionaries(
    {}, optional={"a": scalars | st.lists(scalars | objects, max_size=3), "b": scalars, "o": objects, "arr": st.lists(objects | scalars, max_size=3)},
)
payloads = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=4), structured, structured)

bound_names = st.sampled_from(["lt", "lte", "gt", "gte"])
number_ranges = st.dictionaries(bound_names, st.sampled_from([0, 1, -1, 1.5, -2.5, 2, 3]), max_size=2)
date_ranges = st.dictionaries(
    bound_names, st.sampled_from(["2021-06-15T12:30:00Z", "2021-01-01T00:00:00Z", "2021-12-31T23:59:59+02:00"]),
    min_size=1, max_size=2,
)
matches = st.one_of(
    st.builds(lambda v: {"value": v}, st.one_of(st.integers(-2, 2), st.sampled_from(STRINGS), st.booleans())),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["any", "except"]),
              st.lists(st.integers(-2, 2), max_size=3, unique=True) | st.lists(st.sampled_from(STRINGS), max_size=3, unique=True)),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["text", "text_any", "phrase"]),
              st.sampled_from(["hello", "world hello", "RED", "of hello", "foo", "bar baz", "", "hello world", "x"])),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["prefix", "substring"]), st.sampled_from(["re", "", "R", "hello w", "-bar"])),
)
geo_tests = st.one_of(
    st.builds(lambda c, r: {"geo_radius": {"center": c, "radius": r}}, st.sampled_from(GEO), st.sampled_from([1000.0, 5e4, 2e6])),
    st.sampled_from([
        {"geo_bounding_box": {"top_left": {"lat": 53, "lon": 13}, "bottom_right": {"lat": 52, "lon": 14}}},
        {"geo_bounding_box": {"top_left": {"lat": 10, "lon": 179}, "bottom_right": {"lat": -10, "lon": -179}}},
        {"geo_polygon": {"exterior": {"points": [{"lat": 0, "lon": 0}, {"lat": 2, "lon": 0}, {"lat": 2, "lon": 2}, {"lat": 0, "lon": 0}]}}},
        {"geo_polygon": {
            "exterior": {"points": [{"lat": -1, "lon": -1}, {"lat": 60, "lon": -1}, {"lat": 60, "lon": 20}, {"lat": -1, "lon": 20}, {"lat": -1, "lon": -1}]},
            "interiors": [{"points": [{"lat": 0.5, "lon": 0}, {"lat": 1, "lon": 0.5}, {"lat": 0.5, "lon": 1}, {"lat": 0, "lon": 0.5}, {"lat": 0.5, "lon": 0}]}]}},
    ]),
)
field_tests = st.one_of(
    st.builds(lambda m: {"match": m}, matches),
    st.builds(lambda r: {"range": r}, number_ranges | date_ranges),
    geo_tests,
    st.builds(lambda r: {"values_count": r}, st.dictionaries(bound_names, st.integers(0, 3), max_size=2)),
    st.builds(lambda k, b: {k: b}, st.sampled_from(["is_empty", "is_null"]), st.booleans()),
)
field_conditions = st.builds(lambda key, test: {"key": key, **test}, st.sampled_from(FIELD_KEYS), field_tests)
leaf_conditions = st.one_of(
    field_conditions,
    st.builds(lambda k, key: {k: {"key": key}}, st.sampled_from(["is_empty", "is_null"]), st.sampled_from(FIELD_KEYS)),
    st.builds(lambda ids: {"has_id": ids}, st.lists(st.sampled_from(IDS), max_size=3, unique=True)),
    st.builds(lambda name: {"has_vector": name}, st.sampled_from(["v", "w", "missing"])),
    st.builds(lambda total, index: {"slice": {"total": total, "index": index % total}}, st.integers(1, 3), st.integers(0, 2)),
)


def _filters(conditions: st.SearchStrategy) -> st.SearchStrategy:
    clause = st.lists(conditions, min_size=1, max_size=2)
    return st.builds(
        lambda must, should, must_not, min_should: {
            k: v for k, v in {"must": must, "should": should, "must_not": must_not, "min_should": min_should}.items()
            if v is not None
        },
        st.none() | clause, st.none() | clause, st.none() | clause,
        st.none() | st.none() | st.builds(lambda c, k: {"conditions": c, "min_count": k}, st.lists(conditions, min_size=1, max_size=3), st.integers(1, 2)),
    )


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    nested = st.builds(lambda key, f: {"nested": {"key": key, "filter": f}}, st.sampled_from(["arr", "arr[]", "a", "o"]), _filters(children))
    return _filters(children) | nested


filters = _filters(st.recursive(leaf_conditions, _extend, max_leaves=5))


class View:
    """Minimal FilterView over a list of payloads."""

    def __init__(self, payloads: list, ids: list, vectors: dict[str, np.ndarray], indexes: dict | None = None) -> None:
        self.payloads, self.size, self.payload_version, self.cache = payloads, len(payloads), 0, {}
        self._ids, self._vectors, self._indexes = ids, vectors, indexes or {}
        self.index_lock = contextlib.nullcontext()

    def point_ids(self) -> list:
        return self._ids

    def vector_present(self, name: str) -> np.ndarray:
        return self._vectors.get(name, np.zeros(self.size, dtype=bool))

    def payload_index(self, key: str):
        return self._indexes.get(key)

    def text_match(self, key: str, kind: str, text: str):
        return None


def _scenario(points: list, has_w: list[bool]) -> tuple[View, list, list[set[str]]]:
    ids = [IDS[i % len(IDS)] if i < len(IDS) else i * 11 for i in range(len(points))]
    vectors = {"v": np.ones(len(points), dtype=bool), "w": np.array(has_w[: len(points)] + [False] * (len(points) - len(has_w)), dtype=bool)}
    names = [{"v"} | ({"w"} if vectors["w"][i] else set()) for i in range(len(points))]
    return View(points, ids, vectors), ids, names


def _local_mode(flt: dict, payload: dict | None, point_id, names: set[str]) -> bool:
    model = models.Filter.model_validate(flt)
    return check_filter(model, payload or {}, point_id, {n: True for n in names})


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@settings(SETTINGS, max_examples=250)
@given(st.lists(payloads, min_size=3, max_size=12), st.lists(st.booleans(), max_size=12), leaf_conditions)
def test_filter_each_condition_equals_reference_and_local_mode(points, has_w, condition):
    flt = {"must": [condition]}
    view, ids, names = _scenario(points, has_w)
    local = [_local_mode(flt, p, i, n) for p, i, n in zip(points, ids, names)]
    assert [reference_match(flt, p, i, n) for p, i, n in zip(points, ids, names)] == local
    assert evaluate(flt, view).tolist() == local


def _targeted_condition(data: st.DataObject, points: list) -> dict:
    """A field condition whose operands come from values present in `points` (so it matches some)."""
    keys = [k for k in ("a", "b", "o.x", "arr[].x", "a[]", "a[].x") if any(values_at(p or {}, parse_path(k)) for p in points)]
    key = data.draw(st.sampled_from(keys or ["a"]))
    present = [v for p in points for v in values_at(p or {}, parse_path(key))]
    strings = [v for v in present if type(v) is str]
    ints = [v for v in present if type(v) is int]
    numbers = [v for v in present if type(v) in (int, float)]
    bound = st.sampled_from(["gt", "gte", "lt", "lte"])
    tests = [{"values_count": {data.draw(bound): data.draw(st.integers(0, 2))}}]
    if strings:
        text = data.draw(st.sampled_from(strings))
        words = text.split() or [""]
        tests += [
            {"match": {"value": text}},
            {"match": {"except": data.draw(st.lists(st.sampled_from(strings), min_size=1, max_size=2, unique=True))}},
            {"match": {"text": data.draw(st.sampled_from(words))}},
            {"match": {"phrase": " ".join(words[-2:])}},
            {"match": {"phrase": " ".join(words[::-1][-2:])}},
            {"match": {"text_any": " ".join(words[:1] + ["zzz"])}},
            {"match": {"prefix": text[: data.draw(st.integers(0, 3))]}},
        ]
    if ints:
        tests += [
            {"match": {"value": data.draw(st.sampled_from(ints))}},
            {"match": {"any": data.draw(st.lists(st.sampled_from(ints), min_size=1, max_size=2, unique=True))}},
            {"match": {"except": data.draw(st.lists(st.sampled_from(ints), min_size=1, max_size=2, unique=True))}},
        ]
    if numbers:
        tests += [{"range": {data.draw(bound): data.draw(st.sampled_from(numbers))}}]
    if any(type(v) is bool for v in present):
        tests += [{"match": {"value": data.draw(st.booleans())}}]
    test = data.draw(st.sampled_from(tests[::-1]))
    return {"key": key, **test}


@settings(SETTINGS, max_examples=200)
@given(st.lists(payloads, min_size=3, max_size=12), st.data())
def test_filter_targeted_conditions_equal_local_mode(points, data):
    flt = {"must": [_targeted_condition(data, points)]}
    view, ids, names = _scenario(points, [])
    local = [_local_mode(flt, p, i, n) for p, i, n in zip(points, ids, names)]
    assert evaluate(flt, view).tolist() == local


@SETTINGS
@given(st.lists(payloads, max_size=12), st.lists(st.booleans(), max_size=12), filters)
def test_filter_evaluate_equals_reference_and_local_mode(points, has_w, flt):
    view, ids, names = _scenario(points, has_w)
    got = evaluate(flt, view)
    reference = [reference_match(flt, p, i, n) for p, i, n in zip(points, ids, names)]
    local = [_local_mode(flt, p, i, n) for p, i, n in zip(points, ids, names)]
    assert reference == local
    assert got.tolist() == reference


@SETTINGS
@given(st.lists(payloads, max_size=12), filters)
def test_filter_cardinality_bounds_contain_true_count(points, flt):
    view, _, _ = _scenario(points, [])
    low, expected, high = cardinality(flt, view)
    count = int(evaluate(flt, view).sum())
    assert 0 <= low <= expected <= high <= view.size
    assert low <= count <= high


INDEXED_KEYS = {"a": "keyword", "b": "integer", "o.x": "float", "a[]": "bool", "o.y": "datetime", "arr[].x": "geo", "o": "uuid"}
index_conditions = st.builds(lambda key, test: {"key": key, **test}, st.sampled_from(sorted(INDEXED_KEYS)), field_tests)


@SETTINGS
@given(st.lists(payloads, max_size=12), _filters(index_conditions))
def test_filter_indexes_agree_with_scan_on_values_of_their_type(points, flt):
    """An index answers only from values of its own type (as in Qdrant), so it must equal the
    column scan over payloads reduced to that type; and equal itself after incremental updates."""
    parsed = parse_filter(flt)
    conditions = [c for c in parsed.must + parsed.should + parsed.must_not if hasattr(c, "check")]
    for key, kind in INDEXED_KEYS.items():
        built = create_payload_index(kind, key, points)
        grown = create_payload_index(kind, key)
        for offset, payload in enumerate(points):  # insert, overwrite, remove, re-add
            grown.add(offset, {"a": "junk", "b": 99, "o": {"x": 9.5, "y": "2020-01-01"}})
            grown.add(offset, payload)
            grown.remove(offset)
            grown.add(offset, payload)
        typed = FieldColumns([_only_type(p, key, kind) for p in points], parse_path("k"))
        for cond in [c for c in conditions if c.key == key]:
            a, b = built.match(cond, len(points)), grown.match(cond, len(points))
            assert (a is None) == (b is None)
            if a is None:
                continue
            assert a.tolist() == b.tolist()
            low, _, high = built.cardinality(cond)
            assert low <= int(a.sum()) <= high
            if kind != "uuid":  # uuid compares by value, not spelling: see the unit tests
                assert a.tolist() == typed.match(cond.check).tolist()


def _only_type(payload: dict | None, key: str, kind: str) -> dict:
    """{"k": values at `key` the `kind` index would look at}."""
    kept = {
        "keyword": (str,), "uuid": (str,), "datetime": (str,), "integer": (int,), "bool": (bool,), "float": (int, float), "geo": (dict,),
    }[kind]
    return {"k": [v for v in values_at(payload or {}, parse_path(key)) if type(v) in kept]}


# ---------------------------------------------------------------- qdrant-client local mode, end to end
@functools.cache
def _client() -> QdrantClient:
    return QdrantClient(":memory:")


def _collection(points: list, has_w: list[bool]) -> tuple[str, list, np.ndarray]:
    name, client = "filters", _client()
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config={
        "v": models.VectorParams(size=2, distance=models.Distance.DOT),
        "w": models.VectorParams(size=2, distance=models.Distance.DOT),
    })
    ids = [IDS[i] if i < len(IDS) else 1000 + i for i in range(len(points))]
    with_w = np.array([i < len(has_w) and has_w[i] for i in range(len(points))], dtype=bool)
    client.upsert(name, [
        models.PointStruct(id=pid, payload=payload or {}, vector={"v": [1.0, 0.0], **({"w": [0.0, 1.0]} if w else {})})
        for pid, payload, w in zip(ids, points, with_w)
    ])
    return name, ids, with_w


@settings(SETTINGS, max_examples=40)
@given(st.lists(payloads, min_size=1, max_size=10), st.lists(st.booleans(), max_size=10), filters)
def test_filter_congruent_with_qdrant_local_mode_count_and_scroll(points, has_w, flt):
    name, ids, with_w = _collection(points, has_w)
    view = View(points, ids, {"v": np.ones(len(points), dtype=bool), "w": with_w})
    mask = evaluate(flt, view)
    model = models.Filter.model_validate(flt)
    assert _client().count(name, count_filter=model, exact=True).count == int(mask.sum())
    records, _ = _client().scroll(name, scroll_filter=model, limit=100)
    assert sorted(map(str, (r.id for r in records))) == sorted(str(ids[i]) for i in np.flatnonzero(mask))
