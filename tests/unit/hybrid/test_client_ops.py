"""Each Client operation, for each vector kind, in both storage modes."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import Client
from hybrid.errors import AlreadyExists, CollectionNotFound, ValidationError

CONFIG = dict(
    vectors_config={"d": {"size": 3, "distance": "Dot"}, "m": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
    sparse_vectors_config={"s": {}},
)


def _point(i: int, **extra) -> dict:
    return {"id": i, "vector": {"d": [i, 1.0, 0.0], "m": [[i, 0.0], [0.0, 1.0]], "s": {"indices": [i % 4, 9], "values": [1.0, 0.5]}},
            "payload": {"n": i, **extra}}


@pytest.fixture
def coll(client: Client) -> Client:
    client.create_collection("c", **CONFIG)
    client.upsert("c", [_point(i) for i in range(10)])
    return client


def test_collection_lifecycle(client: Client) -> None:
    assert not client.collection_exists("c")
    client.create_collection("c", **CONFIG)
    assert client.collection_exists("c")
    with pytest.raises(AlreadyExists):
        client.create_collection("c", **CONFIG)
    info = client.get_collection("c")
    assert info.status == "green" and info.points_count == 0 and info.segments_count == 1
    assert set(info.config.params.vectors) == {"d", "m"}
    assert [c.name for c in client.get_collections().collections] == ["c"]
    assert client.delete_collection("c") and not client.collection_exists("c")
    with pytest.raises(CollectionNotFound):
        client.get_collection("c")


@pytest.mark.parametrize("using,query,best", [
    ("d", [1.0, 0.0, 0.0], 9),
    ("m", [[1.0, 0.0]], 9),
    ("s", {"indices": [3], "values": [1.0]}, 3),
])
def test_query_each_kind(coll: Client, using, query, best) -> None:
    hits = coll.query_points("c", query=query, using=using, limit=3).points
    assert hits[0].id == best
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)


def test_upsert_is_idempotent_and_replaces(coll: Client) -> None:
    coll.upsert("c", [_point(3, tag="x")])
    coll.upsert("c", [_point(3, tag="x")])
    assert coll.count("c").count == 10
    rec = coll.retrieve("c", [3], with_vectors=True)[0]
    assert rec.payload == {"n": 3, "tag": "x"} and rec.vector["d"] == [3.0, 1.0, 0.0]
    coll.upsert("c", [{"id": 3, "vector": {"d": [0.0, 0.0, 1.0]}}])  # replaces the whole point
    rec = coll.retrieve("c", [3], with_vectors=True)[0]
    assert rec.payload == {} and set(rec.vector) == {"d"}


def test_batch_form(client: Client) -> None:
    client.create_collection("b", vectors_config={"size": 2, "distance": "Euclid"})
    client.upsert("b", {"ids": [1, 2], "vectors": [[0.0, 0.0], [3.0, 4.0]], "payloads": [{"a": 1}, None]})
    hit = client.query_points("b", query=[0.0, 0.0], limit=2).points
    assert [h.id for h in hit] == [1, 2] and hit[1].score == pytest.approx(5.0)
    assert client.retrieve("b", [2], with_vectors=True)[0].vector == [3.0, 4.0]


def test_delete_retrieve_scroll_count(coll: Client) -> None:
    coll.delete("c", [1, 2, 123])
    assert coll.count("c").count == 8
    assert [r.id for r in coll.retrieve("c", [1, 3])] == [3]
    page, nxt = coll.scroll("c", limit=4)
    assert [r.id for r in page] == [0, 3, 4, 5] and nxt == 6
    page, nxt = coll.scroll("c", limit=4, offset=nxt)
    assert [r.id for r in page] == [6, 7, 8, 9] and nxt is None


def test_payload_operations(coll: Client) -> None:
    coll.set_payload("c", {"a": {"b": 1}}, points=[0])
    coll.set_payload("c", {"c": 2}, points=[0], key="a")
    assert coll.retrieve("c", [0])[0].payload == {"n": 0, "a": {"b": 1, "c": 2}}
    coll.delete_payload("c", ["a.b"], points=[0])
    assert coll.retrieve("c", [0])[0].payload == {"n": 0, "a": {"c": 2}}
    coll.overwrite_payload("c", {"only": 1}, points=[0, 1])
    assert coll.retrieve("c", [1])[0].payload == {"only": 1}
    coll.clear_payload("c", [0])
    assert coll.retrieve("c", [0])[0].payload == {}
    assert coll.retrieve("c", [2], with_payload=["n"])[0].payload == {"n": 2}
    assert coll.retrieve("c", [2], with_payload={"exclude": ["n"]})[0].payload == {}


def test_update_and_delete_vectors(coll: Client) -> None:
    coll.update_vectors("c", [{"id": 4, "vector": {"d": [100.0, 0.0, 0.0]}}])
    assert coll.query_points("c", query=[1.0, 0, 0], using="d", limit=1).points[0].id == 4
    rec = coll.retrieve("c", [4], with_vectors=True)[0]
    assert rec.payload == {"n": 4} and rec.vector["s"] == {"indices": [0, 9], "values": [1.0, 0.5]}
    coll.delete_vectors("c", ["d"], points=[4])
    assert "d" not in coll.retrieve("c", [4], with_vectors=True)[0].vector
    assert 4 not in [h.id for h in coll.query_points("c", query=[1.0, 0, 0], using="d", limit=20).points]
    with pytest.raises(ValidationError):
        coll.update_vectors("c", [{"id": 999, "vector": {"d": [1.0, 0, 0]}}])


@pytest.mark.parametrize("bad,field", [
    ({"id": 1, "vector": {"d": [1.0, 2.0]}}, "points[1].vector.d"),
    ({"id": 1, "vector": {"nope": [1.0]}}, "points[1].vector.nope"),
    ({"id": 1, "vector": {"d": [float("nan"), 0, 0]}}, "points[1].vector"),
    ({"id": 1, "vector": {"s": {"indices": [1, 1], "values": [1.0, 2.0]}}}, "points[1].vector.s.indices"),
    ({"id": 1, "vector": {"m": []}}, "points[1].vector.m"),
    ({"id": -5, "vector": {"d": [1.0, 2.0, 3.0]}}, "points[1].id"),
    ({"id": "not-a-uuid", "vector": {"d": [1.0, 2.0, 3.0]}}, "points[1].id"),
])
def test_rejected_batch_changes_nothing(coll: Client, bad, field) -> None:
    before = coll.count("c").count
    with pytest.raises(ValidationError) as err:
        coll.upsert("c", [_point(50), bad])
    assert err.value.field.startswith(field)
    assert coll.count("c").count == before and coll.retrieve("c", [50]) == []


def test_uuid_ids_order_after_integers(client: Client) -> None:
    client.create_collection("u", vectors_config={"size": 1, "distance": "Dot"})
    u = "550E8400-E29B-41D4-A716-446655440000"
    client.upsert("u", [{"id": u, "vector": [1.0]}, {"id": 7, "vector": [1.0]}])
    page, _ = client.scroll("u")
    assert [r.id for r in page] == [7, u.lower()]
    hits = client.query_points("u", query=[1.0]).points
    assert [h.id for h in hits] == [7, u.lower()]  # equal scores: ties by point id


def test_query_errors_name_the_field(coll: Client) -> None:
    with pytest.raises(ValidationError, match="using"):
        coll.query_points("c", query=[1.0, 0, 0], using="zzz")
    with pytest.raises(ValidationError, match="dimension"):
        coll.query_points("c", query=[1.0], using="d")
    with pytest.raises(ValidationError):
        coll.query_points("c", query=[1.0, 0.0, 0.0], using="d", limit=-1)


def test_query_batch_points(coll: Client) -> None:
    res = coll.query_batch_points("c", [{"query": [1.0, 0, 0], "using": "d", "limit": 2},
                                        {"query": {"indices": [2], "values": [1.0]}, "using": "s", "limit": 1}])
    assert [p.id for p in res[0].points] == [9, 8] and res[1].points[0].id == 2


def test_dense_scores_for_each_distance(client: Client) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(50, 4)).astype(np.float32)
    q = rng.normal(size=4).astype(np.float32)
    for dist in ("Cosine", "Dot", "Euclid", "Manhattan"):
        client.create_collection(dist, vectors_config={"size": 4, "distance": dist})
        client.upsert(dist, {"ids": list(range(50)), "vectors": data.tolist()})
        hit = client.query_points(dist, query=q.tolist(), limit=1).points[0]
        x = data[hit.id]
        want = {"Cosine": x @ q / np.linalg.norm(x) / np.linalg.norm(q), "Dot": x @ q,
                "Euclid": np.linalg.norm(x - q), "Manhattan": np.abs(x - q).sum()}[dist]
        assert hit.score == pytest.approx(float(want), rel=1e-4)


def test_sparse_query_indices_in_any_order_give_the_same_hits():
    with Client() as client:
        client.create_collection("s", sparse_vectors_config={"t": {"modifier": "idf"}})
        client.upsert("s", [{"id": i, "vector": {"t": {"indices": [i % 3, 5], "values": [1.0 + i, 0.5]}}}
                            for i in range(6)])
        ordered = client.query_points("s", query={"indices": [1, 5], "values": [2.0, 1.0]}, using="t").points
        shuffled = client.query_points("s", query={"indices": [5, 1], "values": [1.0, 2.0]}, using="t").points
        assert [(p.id, p.score) for p in ordered] == [(p.id, p.score) for p in shuffled] and ordered
        with pytest.raises(ValidationError, match="indices"):
            client.query_points("s", query={"indices": [5, 1, 5], "values": [1.0, 2.0, 3.0]}, using="t")


def test_create_collection_names_unknown_and_unsupported_arguments() -> None:
    with Client() as c:
        with pytest.raises(TypeError):
            c.create_collection("a", vectors_config={"size": 2, "distance": "Dot"}, shard_nuber=2)
        with pytest.raises(ValidationError, match="sharding_method"):
            c.create_collection("a", vectors_config={"size": 2, "distance": "Dot"}, sharding_method="custom")
        with pytest.raises(ValidationError, match="shard_number"):
            c.create_collection("a", vectors_config={"size": 2, "distance": "Dot"}, shard_number=0)
        assert c.create_collection("a", vectors_config={"size": 2, "distance": "Dot"}, shard_number=2,
                                   replication_factor=1, timeout=5, sharding_method="auto")
        with pytest.raises(TypeError):
            c.list_snapshots("a", bogus=True)


def test_read_options_are_checked_on_one_node() -> None:
    """`consistency` and `timeout` are met by one node whatever they are, but a value that is
    none of Qdrant's is refused naming the argument, never ignored."""
    from hybrid.errors import ValidationError

    client = Client()
    client.create_collection("r", vectors_config={"size": 2, "distance": "Dot"})
    client.upsert("r", [{"id": 1, "vector": [1.0, 0.0], "payload": {"k": "a"}}])
    reads = {
        "query_points": lambda **o: client.query_points("r", query=[1.0, 0.0], **o).points,
        "query_batch_points": lambda **o: client.query_batch_points("r", [{"query": [1.0, 0.0]}], **o)[0].points,
        "query_points_groups": lambda **o: client.query_points_groups("r", "k", query=[1.0, 0.0], **o).groups,
        "retrieve": lambda **o: client.retrieve("r", [1], **o),
        "scroll": lambda **o: client.scroll("r", **o)[0],
        "count": lambda **o: client.count("r", **o).count,
        "facet": lambda **o: client.facet("r", "k", **o).hits,
    }
    for name, read in reads.items():
        want = read()
        for ok in ({"consistency": 2}, {"consistency": "majority"}, {"consistency": {"type": "quorum"}},
                   {"consistency": "all", "timeout": 3}):
            assert read(**ok) == want, (name, ok)
        for bad, field in (({"consistency": "most"}, "consistency"), ({"consistency": 0}, "consistency"),
                           ({"timeout": 0}, "timeout"), ({"timeout": True}, "timeout")):
            with pytest.raises(ValidationError, match=field):
                read(**bad)
