"""Sealing with an `is_tenant` keyword index stores each tenant's points contiguously,
without changing any answer."""

from __future__ import annotations

import numpy as np

from hybrid import Client


def _fill(client: Client, tenant_index: bool) -> None:
    rng = np.random.default_rng(3)
    client.create_collection("c", vectors_config={"size": 4, "distance": "Cosine"})
    if tenant_index:
        client.create_payload_index("c", "org.name", field_schema={"type": "keyword", "is_tenant": True})
    for start in (0, 150):  # two sealed segments, merged by the final optimize
        rows = rng.standard_normal((150, 4)).astype(np.float32)
        payloads = [{"org": {"name": f"t{int(t)}"}} if t < 5 else {} for t in rng.integers(0, 6, 150)]
        client.upsert("c", {"ids": list(range(start, start + 150)), "vectors": rows, "payloads": payloads})
        client.collection("c").optimizer.optimize()
    client.delete("c", list(range(0, 300, 7)))
    client.collection("c").optimizer.optimize()


def test_tenants_are_contiguous_and_answers_unchanged():
    with Client() as ordered, Client() as plain:
        _fill(ordered, True)
        _fill(plain, False)
        (seg,) = [s for s in ordered.collection("c").segments if s.size]
        names = [(p or {}).get("org", {}).get("name", "") for p in seg.payloads]
        runs = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
        assert len(runs) == len(set(names)) == 6  # one run per tenant (and one without)
        query = [0.3, -0.2, 0.5, 0.1]
        for flt in (None, {"must": [{"key": "org.name", "match": {"value": "t2"}}]}):
            a = ordered.query_points("c", query=query, query_filter=flt, limit=20, search_params={"exact": True})
            b = plain.query_points("c", query=query, query_filter=flt, limit=20, search_params={"exact": True})
            assert [(p.id, round(p.score, 5), p.payload) for p in a.points] == \
                   [(p.id, round(p.score, 5), p.payload) for p in b.points]
        assert ordered.count("c").count == plain.count("c").count == 300 - len(range(0, 300, 7))
        assert sorted(r.id for r in ordered.scroll("c", limit=400)[0]) == sorted(r.id for r in plain.scroll("c", limit=400)[0])
