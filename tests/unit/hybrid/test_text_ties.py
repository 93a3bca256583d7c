"""BM25 through the Client: tied scores go by point id, not by internal pid (insertion order)."""

from __future__ import annotations

from hybrid import Client


def test_bm25_ties_are_ordered_by_point_id() -> None:
    c = Client()
    c.create_collection("t", vectors_config={"size": 2, "distance": "Dot"})
    c.create_payload_index("t", "body", {"type": "text"})
    texts = {9: "red apple", 3: "red apple", 5: "red apple", 7: "red red apple", 1: "green pear"}
    for point_id, text in texts.items():  # one upsert each: internal pids follow this order
        c.upsert("t", [{"id": point_id, "vector": [1.0, 0.0], "payload": {"body": text}}])
    hits = c.query_points("t", query={"bm25": {"text": "red", "field": "body"}}, limit=3).points
    assert [h.id for h in hits] == [7, 3, 5]
    assert hits[1].score == hits[2].score < hits[0].score
    everything = c.query_points("t", query={"bm25": {"text": "red apple", "field": "body"}}, limit=10).points
    assert [h.id for h in everything] == [7, 3, 5, 9]


def test_bm25_hits_resolve_in_sealed_and_appendable_segments() -> None:
    c = Client()
    c.create_collection("t", vectors_config={"size": 2, "distance": "Dot"}, optimizers_config={"indexing_threshold": 0})
    c.create_payload_index("t", "body", {"type": "text"})
    texts = ["red apple", "red red apple", "green pear", "red pear", "blue sky"]
    c.upsert("t", [{"id": i, "vector": [1.0, 0.0], "payload": {"body": t}} for i, t in enumerate(texts)])
    c.collection("t").optimizer.optimize()  # everything sealed
    c.upsert("t", [{"id": 3, "vector": [1.0, 0.0], "payload": {"body": "red red red pear"}},  # moves to appendable
                   {"id": 7, "vector": [1.0, 0.0], "payload": {"body": "red"}}])  # new, appendable
    c.delete("t", [1])
    hits = c.query_points("t", query={"bm25": {"text": "red", "field": "body"}}, limit=10).points
    assert sorted(h.id for h in hits) == [0, 3, 7] and hits[0].payload["body"] in ("red red red pear", "red")
