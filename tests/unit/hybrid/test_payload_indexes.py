"""Payload indexes through the Client: same answers as column scans, kept in step with writes."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client

FILTERS = [
    {"must": [{"key": "city", "match": {"value": "paris"}}]},
    {"must": [{"key": "price", "range": {"gte": 10, "lt": 60}}]},
    {"should": [{"key": "tags", "match": {"any": ["b", "c"]}}], "must_not": [{"key": "flag", "match": {"value": True}}]},
    {"must": [{"key": "when", "range": {"gte": "2024-03-01T00:00:00Z"}}]},
    {"must": [{"key": "loc", "geo_radius": {"center": {"lat": 48.85, "lon": 2.35}, "radius": 300000}}]},
]
SCHEMAS = {"city": "keyword", "price": "integer", "tags": "keyword", "flag": "bool", "when": "datetime", "loc": "geo"}


def _payload(i: int, rng: np.random.Generator) -> dict:
    return {"city": ["paris", "rome", "oslo"][i % 3], "price": int(rng.integers(0, 100)),
            "tags": list(rng.choice(["a", "b", "c", "d"], size=int(rng.integers(0, 3)), replace=False)),
            "flag": bool(i % 2), "when": f"2024-0{1 + i % 6}-15T10:00:00Z",
            "loc": {"lat": float(rng.uniform(40, 55)), "lon": float(rng.uniform(-5, 15))}}


def _filled(indexed: bool) -> Client:
    rng = np.random.default_rng(4)
    c = Client()
    c.create_collection("c", vectors_config={"size": 4, "distance": "Dot"}, optimizers_config={"indexing_threshold": 2})
    if indexed:
        for key, kind in SCHEMAS.items():
            c.create_payload_index("c", key, kind)
    for start in range(0, 600, 100):
        c.upsert("c", [{"id": i, "vector": rng.normal(size=4).tolist(), "payload": _payload(i, rng)}
                       for i in range(start, start + 100)])
    c.set_payload("c", {"city": "paris", "price": 50}, points=list(range(0, 600, 7)))
    c.delete("c", list(range(3, 600, 11)))
    c.collection("c").optimizer.wait()
    return c


@pytest.mark.parametrize("flt", FILTERS)
def test_indexed_equals_scan(flt) -> None:
    plain, indexed = _filled(False), _filled(True)
    assert indexed.get_collection("c").segments_count >= 2
    assert plain.count("c", flt).count == indexed.count("c", flt).count > 0
    q = [1.0, 0.5, -0.2, 0.1]
    a = plain.query_points("c", query=q, query_filter=flt, limit=20).points
    b = indexed.query_points("c", query=q, query_filter=flt, limit=20).points
    assert [p.id for p in a] == [p.id for p in b]


def test_payload_schema_is_reported_and_index_dropped() -> None:
    c = _filled(True)
    schema = c.get_collection("c").payload_schema
    assert schema["city"].data_type == "keyword" and set(schema) == set(SCHEMAS)
    c.delete_payload_index("c", "city")
    assert "city" not in c.get_collection("c").payload_schema
    assert c.count("c", FILTERS[0]).count == _filled(False).count("c", FILTERS[0]).count
