"""scroll(order_by=...) as Qdrant's server: a range index is needed, values from start_from,
one record per distinct (point, value), order_value reported, no offset and no next page."""

from __future__ import annotations

import pytest

from hybrid import Client
from hybrid.errors import BadRequest

VALUES = {1: 5, 2: 3, 3: [9, 1], 4: 3, 5: None, 6: 7.5}


@pytest.fixture
def client():
    with Client() as c:
        c.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
        c.upsert("c", [{"id": i, "vector": [1.0, float(i)], "payload": {} if v is None else {"v": v, "odd": i % 2}}
                       for i, v in VALUES.items()])
        c.create_payload_index("c", "v", "float")
        yield c


def pairs(records):
    return [(r.id, r.order_value) for r in records]


def test_ascending_repeats_multi_valued_points_and_reports_values(client) -> None:
    records, nxt = client.scroll("c", order_by="v", limit=10)
    assert pairs(records) == [(3, 1), (2, 3), (4, 3), (1, 5), (6, 7.5), (3, 9)]
    assert nxt is None


def test_descending_start_from_filter_and_limit(client) -> None:
    records, _ = client.scroll("c", order_by={"key": "v", "direction": "desc", "start_from": 5}, limit=10)
    assert pairs(records) == [(1, 5), (2, 3), (4, 3), (3, 1)]
    records, _ = client.scroll("c", order_by={"key": "v", "start_from": 3}, limit=2,
                               scroll_filter={"must": [{"key": "odd", "match": {"value": 1}}]})
    assert pairs(records) == [(1, 5), (3, 9)]


def test_records_carry_payload_and_vectors(client) -> None:
    (first, *_), _ = client.scroll("c", order_by="v", limit=1, with_vectors=True)
    assert first.payload == {"v": [9, 1], "odd": 1} and first.vector == [1.0, 3.0]


@pytest.mark.parametrize("schema", [None, "keyword", {"type": "integer", "range": False}])
def test_without_a_range_index_the_key_is_named(client, schema) -> None:
    client.upsert("c", [{"id": 9, "vector": [1.0, 1.0], "payload": {"k": 1}}])
    if schema is not None:
        client.create_payload_index("c", "k", schema)
    with pytest.raises(BadRequest, match="No range index for `order_by` key: `k`"):
        client.scroll("c", order_by="k")


def test_offset_is_refused_and_bad_order_by_is_named(client) -> None:
    with pytest.raises(BadRequest, match="Cannot use an `offset`"):
        client.scroll("c", order_by="v", offset=2)
    with pytest.raises(BadRequest, match="order_by.direction"):
        client.scroll("c", order_by={"key": "v", "direction": "up"})


def test_datetime_values_are_microseconds(client) -> None:
    client.create_collection("d", vectors_config={"size": 2, "distance": "Dot"})
    client.upsert("d", [{"id": 1, "vector": [1.0, 0.0], "payload": {"t": "2024-01-02T00:00:00Z"}},
                        {"id": 2, "vector": [1.0, 0.0], "payload": {"t": "2024-01-01T00:00:00Z"}}])
    client.create_payload_index("d", "t", "datetime")
    records, _ = client.scroll("d", order_by={"key": "t", "start_from": "2024-01-01T12:00:00Z"})
    assert pairs(records) == [(1, 1704153600000000)]


def test_unknown_arguments_are_refused(client) -> None:
    with pytest.raises(TypeError, match="bogus"):
        client.scroll("c", bogus=1)
