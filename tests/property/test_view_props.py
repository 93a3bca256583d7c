"""Property: a view taken after k operations of any history answers every read exactly as a
collection that only ever saw those k operations, whatever follows (writes, deletes, payload
and vector updates, the optimizer sealing and merging segments)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid import Client
from hybrid.query.request import QueryRequest, run_query
from hybrid.query.search import count, parse, scroll

IDS = st.lists(st.integers(0, 11), min_size=1, max_size=4, unique=True)
OPS = st.one_of(
    st.tuples(st.just("upsert"), IDS, st.integers(0, 5)),
    st.tuples(st.just("delete"), IDS, st.just(0)),
    st.tuples(st.just("set_payload"), IDS, st.integers(0, 5)),
    st.tuples(st.just("update_vectors"), IDS, st.integers(0, 5)),
    st.tuples(st.just("optimize"), st.just([]), st.just(0)),
)


def apply(client: Client, op: tuple) -> None:
    kind, ids, value = op
    if kind == "upsert":
        client.upsert("c", [{"id": i, "vector": {"d": [float(value), float(i % 3)], "s": {"indices": [i % 4, 9],
                                                                                        "values": [1.0, float(value)]}},
                             "payload": {"v": value, "t": f"w{value} x"}} for i in ids])
    elif kind == "delete":
        client.delete("c", ids)
    elif kind == "set_payload":
        client.set_payload("c", {"v": value, "t": f"w{value} y"}, points=ids)
    elif kind == "update_vectors":
        live = [p.id for p in client.retrieve("c", ids, with_payload=False)]
        if live:
            client.update_vectors("c", [{"id": i, "vector": {"d": [float(value), -1.0]}} for i in live])
    else:
        client.collection("c").optimizer.optimize()


def reads(view) -> dict:
    records, _ = scroll(view, None, 100, None, True, True)
    dense = run_query(view, QueryRequest(query=[1.0, 2.0], using="d", limit=6))
    sparse = run_query(view, QueryRequest(query={"indices": [9, 1], "values": [1.0, 1.0]}, using="s", limit=6))
    bm25 = run_query(view, QueryRequest(query={"bm25": {"field": "t", "text": "w1"}}, limit=50))
    return {"records": [(r.id, r.payload, r.vector) for r in records],
            "dense": [(p.id, p.score) for p in dense], "sparse": [(p.id, p.score) for p in sparse],
            "bm25": sorted(p.id for p in bm25), "count": count(view, parse({"must": [{"key": "v", "range": {"gte": 2}}]}))}


def fresh() -> Client:
    client = Client()
    client.create_collection("c", vectors_config={"d": {"size": 2, "distance": "Dot"}}, sparse_vectors_config={"s": {}},
                             optimizers_config={"indexing_threshold": 1})  # seal after a few points
    client.create_payload_index("c", "v", "integer")
    client.create_payload_index("c", "t", {"type": "text"})
    return client


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=12), st.data())
def test_a_view_equals_the_prefix_of_the_history(history, data) -> None:
    k = data.draw(st.integers(0, len(history)))
    with fresh() as full, fresh() as prefix:
        for op in history[:k]:
            apply(full, op)
            apply(prefix, op)
        view = full.collection("c").view()
        for op in history[k:]:
            apply(full, op)
        prefix.collection("c").optimizer.wait()
        assert reads(view) == reads(prefix.collection("c").view())
