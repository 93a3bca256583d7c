"""Facets against qdrant-client local mode: the same seeded points and payload indexes, the same
(value, count) hits in the same order, for keyword and integer fields, with and without a
filter, exact and approximate (our facet is always exact; local mode ignores `exact`)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from hybrid import Client

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")

N = 400
TAGS = ["red", "green", "blue", "black", "white", "teal"]


def _payload(rng: np.random.Generator, i: int) -> dict:
    """Zipf-ish tags (ties happen), some as arrays with repeats, some missing; small ints."""
    payload: dict = {"tag": TAGS[min(int(rng.zipf(1.6)) - 1, len(TAGS) - 1)], "n": int(rng.integers(0, 7)),
                     "price": round(float(rng.uniform(0, 100)), 2), "group": int(i % 3)}
    if i % 9 == 0:
        payload["tag"] = [TAGS[i % 6], TAGS[(i + 1) % 6], TAGS[i % 6]]  # a point counts a value once
    if i % 11 == 0:
        payload["n"] = [1, 2, 2]
    if i % 13 == 0:
        del payload["tag"]
    if i % 17 == 0:
        payload["n"] = None
    return payload


@pytest.fixture(scope="module", params=["appendable", "sealed"])
def pair(request):
    rng = np.random.default_rng(17)
    points = [models.PointStruct(id=i, vector=rng.normal(size=4).round(3).tolist(), payload=_payload(rng, i))
              for i in range(N)]
    ours, ref = Client(), QdrantClient(":memory:")
    for client in (ours, ref):
        client.create_collection("c", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
        client.create_payload_index("c", "tag", models.PayloadSchemaType.KEYWORD)
        client.create_payload_index("c", "n", models.PayloadSchemaType.INTEGER)
        client.create_payload_index("c", "price", models.PayloadSchemaType.FLOAT)
        client.upsert("c", points)
        client.delete("c", models.PointIdsList(points=list(range(0, N, 29))))
    if request.param == "sealed":
        ours.collection("c").optimizer.optimize()
    yield ours, ref
    ours.close()


FILTERS = [
    None,
    models.Filter(must=[models.FieldCondition(key="price", range=models.Range(lt=40))]),
    models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=1))],
                  must_not=[models.FieldCondition(key="tag", match=models.MatchAny(any=["red"]))]),
    models.Filter(must=[models.FieldCondition(key="tag", match=models.MatchValue(value="nope"))]),
]


@pytest.mark.parametrize("key", ["tag", "n"])
@pytest.mark.parametrize("flt", range(len(FILTERS)))
@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("limit", [3, 100])
def test_facet_matches_local_mode(pair, key, flt, exact, limit):
    ours, ref = pair
    got = ours.facet("c", key, facet_filter=FILTERS[flt], limit=limit, exact=exact)
    want = ref.facet("c", key, facet_filter=FILTERS[flt], limit=limit, exact=exact)
    assert [(h.value, h.count) for h in got.hits] == [(h.value, h.count) for h in want.hits]


def test_facet_counts_follow_updates(pair):
    """A payload change moves a point between buckets in both engines."""
    ours, ref = pair
    before = {r.id: r.payload for r in ref.retrieve("c", [1, 2, 3], with_payload=True)}
    for client in (ours, ref):
        client.set_payload("c", {"tag": "violet"}, points=[1, 2, 3])
    try:
        for key in ("tag", "n"):
            got, want = ours.facet("c", key, limit=100), ref.facet("c", key, limit=100)
            assert [(h.value, h.count) for h in got.hits] == [(h.value, h.count) for h in want.hits]
        assert ("violet", 3) in [(h.value, h.count) for h in ours.facet("c", "tag", limit=100).hits]
    finally:
        for client in (ours, ref):
            for point_id, payload in before.items():
                client.overwrite_payload("c", payload, points=[point_id])
