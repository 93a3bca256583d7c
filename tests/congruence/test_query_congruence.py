"""Universal Query API against qdrant-client local mode: the same seeded scenarios, same answers.

Scores within 1e-4 relative; ties are compared as sets (`same_up_to_ties`, conftest.py). Sparse
values are not rounded: exact ties inside a prefetch branch would make a fused score depend on
the witness's arbitrary tie order (a tied pair swaps RRF ranks r and r+1).
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from hybrid import Client

N = 300
TAGS = ["red", "green", "blue", "black"]


def _payload(rng: np.random.Generator, i: int) -> dict:
    payload = {"g": i % 7, "tag": TAGS[i % 4], "price": round(float(rng.uniform(1, 100)), 2),
               "loc": {"lat": round(float(rng.uniform(40, 60)), 4), "lon": round(float(rng.uniform(-5, 20)), 4)},
               "when": f"2024-0{1 + i % 9}-{10 + i % 18}T{i % 24:02d}:00:00Z",
               "tags": [TAGS[j] for j in range(4) if (i >> j) & 1]}
    if i % 11 == 0:
        del payload["price"]
    return payload


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(5)
    points = []
    for i in range(N):
        k = int(rng.integers(1, 5))
        points.append(models.PointStruct(id=i, payload=_payload(rng, i), vector={
            "d": rng.normal(size=8).round(3).tolist(),
            "e": rng.normal(size=4).round(3).tolist(),
            "s": models.SparseVector(indices=rng.choice(40, k, replace=False).tolist(), values=rng.random(k).tolist()),
            "m": rng.normal(size=(int(rng.integers(1, 4)), 4)).round(3).tolist()}))
    others = [models.PointStruct(id=i, vector={"d2": rng.normal(size=8).round(3).tolist()}, payload={"name": f"group {i}"})
              for i in range(10)]
    ours, ref = Client(), QdrantClient(":memory:")
    for client in (ours, ref):
        client.create_collection("c", vectors_config={
            "d": models.VectorParams(size=8, distance=models.Distance.COSINE),
            "e": models.VectorParams(size=4, distance=models.Distance.EUCLID),
            "m": models.VectorParams(size=4, distance=models.Distance.DOT,
                                     multivector_config=models.MultiVectorConfig(comparator="max_sim"))},
            sparse_vectors_config={"s": models.SparseVectorParams()})
        client.upsert("c", points)
        client.create_collection("other", vectors_config={"d2": models.VectorParams(size=8, distance=models.Distance.COSINE)})
        client.upsert("other", others)
    yield ours, ref
    ours.close()


def both(pair, **kwargs):
    ours, ref = pair
    return ours.query_points("c", **kwargs).points, ref.query_points("c", **kwargs).points


def dense(rng, size=8):
    return rng.normal(size=size).tolist()


def sparse(rng):
    return models.SparseVector(indices=rng.choice(40, 5, replace=False).tolist(), values=rng.random(5).tolist())


F_TAG = models.Filter(must=[models.FieldCondition(key="tag", match=models.MatchAny(any=["red", "blue", "black"]))])
F_G = models.Filter(must_not=[models.FieldCondition(key="g", match=models.MatchValue(value=3))],
                    should=[models.FieldCondition(key="price", range=models.Range(gte=20)),
                            models.FieldCondition(key="g", match=models.MatchValue(value=1))])


@pytest.mark.parametrize("fusion", [models.FusionQuery(fusion=models.Fusion.RRF), models.FusionQuery(fusion=models.Fusion.DBSF),
                                    models.RrfQuery(rrf=models.Rrf(k=10, weights=[3.0, 1.0, 0.5]))])
def test_nested_prefetch_with_filters_and_fusion(pair, fusion, same_up_to_ties) -> None:
    rng = np.random.default_rng(1)
    for _ in range(4):
        fused = models.Prefetch(prefetch=[models.Prefetch(query=dense(rng), using="d", limit=40, filter=F_G),
                                          models.Prefetch(query=sparse(rng), using="s", limit=40)],
                                query=models.FusionQuery(fusion=models.Fusion.RRF), limit=80)  # no cut in RRF ties
        # a MaxSim rerank of the fused list: RRF ties (ordered by chance in local mode) end here
        inner = models.Prefetch(prefetch=fused, query=rng.normal(size=(2, 4)).tolist(), using="m", limit=30, filter=F_TAG)
        prefetch = [inner, models.Prefetch(query=dense(rng, 4), using="e", limit=25),
                    models.Prefetch(query=rng.normal(size=(2, 4)).tolist(), using="m", limit=25, filter=F_G)]
        same_up_to_ties(*both(pair, prefetch=prefetch, query=fusion, limit=15, query_filter=F_G))


def test_score_threshold_offset_and_rescore(pair, same_up_to_ties) -> None:
    rng = np.random.default_rng(2)
    for _ in range(4):
        prefetch = [models.Prefetch(query=dense(rng), using="d", limit=50, score_threshold=0.1),
                    models.Prefetch(query=sparse(rng), using="s", limit=50)]
        same_up_to_ties(*both(pair, prefetch=prefetch, query=dense(rng, 4), using="e", limit=10, offset=3))
        same_up_to_ties(*both(pair, prefetch=prefetch, query=sparse(rng), using="s", limit=10))
        same_up_to_ties(*both(pair, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.RRF),
                              score_threshold=0.3, limit=20))


@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
@pytest.mark.parametrize("using", ["d", "e", "s", "m"])
def test_recommend(pair, strategy, using, same_up_to_ties) -> None:
    rng = np.random.default_rng(3)
    raw = {"d": lambda: dense(rng), "e": lambda: dense(rng, 4), "s": lambda: sparse(rng),
           "m": lambda: rng.normal(size=(2, 4)).tolist()}[using]
    for _ in range(3):
        query = models.RecommendQuery(recommend=models.RecommendInput(
            positive=[int(rng.integers(N)), raw()], negative=[int(rng.integers(N))], strategy=strategy))
        same_up_to_ties(*both(pair, query=query, using=using, limit=10, query_filter=F_TAG))
        prefetch = models.Prefetch(query=raw(), using=using, limit=60)
        same_up_to_ties(*both(pair, prefetch=prefetch, query=query, using=using, limit=10))


@pytest.mark.parametrize("using", ["d", "e", "s", "m"])
def test_discover_and_context(pair, using, same_up_to_ties) -> None:
    rng = np.random.default_rng(4)
    ids = lambda: int(rng.integers(N))  # noqa: E731
    for _ in range(3):
        pairs = [models.ContextPair(positive=ids(), negative=ids()) for _ in range(2)]
        discover = models.DiscoverQuery(discover=models.DiscoverInput(target=ids(), context=pairs))
        same_up_to_ties(*both(pair, query=discover, using=using, limit=10))
        same_up_to_ties(*both(pair, query=models.ContextQuery(context=pairs), using=using, limit=10, query_filter=F_G))


@pytest.mark.parametrize("using", ["d", "e", "s", "m"])
def test_mmr(pair, using, same_up_to_ties) -> None:
    rng = np.random.default_rng(6)
    raw = {"d": lambda: dense(rng), "e": lambda: dense(rng, 4), "s": lambda: sparse(rng),
           "m": lambda: rng.normal(size=(2, 4)).tolist()}[using]
    for diversity in (0.0, 0.5, 0.9):
        query = models.NearestQuery(nearest=raw(), mmr=models.Mmr(diversity=diversity, candidates_limit=30))
        # MMR breaks exact ties by the last candidate in search order (ours: id order)
        same_up_to_ties(*both(pair, query=query, using=using, limit=8), id_order=False)
        prefetch = models.Prefetch(query=raw(), using=using, limit=50)
        same_up_to_ties(*both(pair, prefetch=prefetch, query=query, using=using, limit=8, offset=2), id_order=False)


def test_formula_with_decays_conditions_and_defaults(pair, same_up_to_ties) -> None:
    rng = np.random.default_rng(7)
    formula = models.SumExpression(sum=[
        "$score",
        models.MultExpression(mult=[0.5, "$score[1]"]),
        models.MultExpression(mult=[0.3, models.FieldCondition(key="tag", match=models.MatchAny(any=["red", "green"]))]),
        models.ExpDecayExpression(exp_decay=models.DecayParamsExpression(
            x=models.GeoDistance(geo_distance=models.GeoDistanceParams(origin=models.GeoPoint(lat=50.0, lon=8.0), to="loc")),
            scale=500_000.0)),
        models.GaussDecayExpression(gauss_decay=models.DecayParamsExpression(
            x=models.DatetimeKeyExpression(datetime_key="when"), target=models.DatetimeExpression(datetime="2024-05-01T00:00:00Z"),
            scale=86400.0 * 60, midpoint=0.3)),
        models.LinDecayExpression(lin_decay=models.DecayParamsExpression(x="price", target=50.0, scale=100.0)),
        models.DivExpression(div=models.DivParams(left=1.0, right="g", by_zero_default=2.0)),
    ])
    query = models.FormulaQuery(formula=formula, defaults={"price": 10.0, "$score[1]": -1.0})
    for _ in range(4):
        prefetch = [models.Prefetch(query=dense(rng), using="d", limit=40),
                    models.Prefetch(query=sparse(rng), using="s", limit=40)]
        same_up_to_ties(*both(pair, prefetch=prefetch, query=query, limit=15))
        same_up_to_ties(*both(pair, prefetch=prefetch, query=query, limit=15, query_filter=F_TAG, score_threshold=1.0))


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_order_by(pair, direction) -> None:
    for key, start in (("price", 30.0), ("g", None), ("when", "2024-03-01T00:00:00Z")):
        query = models.OrderByQuery(order_by=models.OrderBy(key=key, direction=direction, start_from=start))
        a, b = both(pair, query=query, limit=25, query_filter=F_TAG)
        assert [(p.id, p.order_value) for p in a] == [(p.id, p.order_value) for p in b]
    prefetch = models.Prefetch(query=dense(np.random.default_rng(8)), using="d", limit=40)
    query = models.OrderByQuery(order_by=models.OrderBy(key="price", direction=direction))
    a, b = both(pair, prefetch=prefetch, query=query, limit=10)
    assert [(p.id, p.order_value) for p in a] == [(p.id, p.order_value) for p in b]


def test_sample_draws_distinct_matching_points(pair) -> None:
    ours, ref = pair
    matching = {p.id for p in ref.scroll("c", scroll_filter=F_TAG, limit=N)[0]}
    drawn = ours.query_points("c", query=models.SampleQuery(sample=models.Sample.RANDOM), query_filter=F_TAG, limit=50).points
    ids = [p.id for p in drawn]
    assert len(ids) == 50 == len(set(ids)) and set(ids) <= matching
    prefetch = models.Prefetch(query=dense(np.random.default_rng(9)), using="d", limit=20)
    pool = {p.id for p in ref.query_points("c", query=prefetch.query, using="d", limit=20).points}
    drawn = ours.query_points("c", prefetch=prefetch, query=models.SampleQuery(sample=models.Sample.RANDOM), limit=50).points
    assert {p.id for p in drawn} == pool


def test_relevance_feedback(pair, same_up_to_ties) -> None:
    rng = np.random.default_rng(10)
    feedback = [models.FeedbackItem(example=int(rng.integers(N)), score=float(s)) for s in (0.9, 0.2, 0.5)]
    query = models.RelevanceFeedbackQuery(relevance_feedback=models.RelevanceFeedbackInput(
        target=dense(rng), feedback=feedback,
        strategy=models.NaiveFeedbackStrategy(naive=models.NaiveFeedbackStrategyParams(a=1.0, b=1.5, c=0.7))))
    same_up_to_ties(*both(pair, query=query, using="d", limit=10))


@pytest.mark.parametrize("group_by", ["g", "tag", "tags"])
def test_groups_with_lookup(pair, group_by, same_up_to_ties) -> None:
    ours, ref = pair
    rng = np.random.default_rng(11)
    for _ in range(3):
        kwargs = dict(group_by=group_by, query=dense(rng), using="d", limit=4, group_size=3, query_filter=F_G,
                      with_lookup=models.WithLookup(collection="other", with_payload=True, with_vectors=False))
        a, b = ours.query_points_groups("c", **kwargs).groups, ref.query_points_groups("c", **kwargs).groups
        assert [g.id for g in a] == [g.id for g in b]
        for ga, gb in zip(a, b):
            same_up_to_ties(ga.hits, gb.hits)
            assert (ga.lookup is None) == (gb.lookup is None)
            if ga.lookup is not None:
                assert ga.lookup.id == gb.lookup.id and ga.lookup.payload == gb.lookup.payload


def test_groups_over_fused_prefetch(pair, same_up_to_ties) -> None:
    ours, ref = pair
    rng = np.random.default_rng(12)
    prefetch = [models.Prefetch(query=dense(rng), using="d", limit=N), models.Prefetch(query=sparse(rng), using="s", limit=N)]
    kwargs = dict(group_by="g", prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.RRF), limit=5, group_size=2)
    a, b = ours.query_points_groups("c", **kwargs).groups, ref.query_points_groups("c", **kwargs).groups
    assert [g.id for g in a] == [g.id for g in b]
    for ga, gb in zip(a, b):
        same_up_to_ties(ga.hits, gb.hits)


def test_lookup_from_and_batch(pair, same_up_to_ties) -> None:
    from hybrid.query.request import QueryRequest, run_query

    ours, ref = pair
    rng = np.random.default_rng(13)
    lookup = models.LookupLocation(collection="other", vector="d2")
    for pid in (1, 4):
        query = models.RecommendQuery(recommend=models.RecommendInput(positive=[pid, dense(rng)], strategy="best_score"))
        b = ref.query_points("c", query=query, using="d", lookup_from=lookup, limit=10).points
        req = QueryRequest(query=query, using="d", lookup_from=lookup, limit=10)
        same_up_to_ties(run_query(ours.collection("c").view(), req, lookup=lambda name: ours.collection(name).view()), b)
    requests = [models.QueryRequest(query=dense(rng), using="d", limit=5, filter=F_TAG),
                models.QueryRequest(query=models.RecommendQuery(recommend=models.RecommendInput(positive=[7], negative=[8])),
                                    using="d", limit=5),
                models.QueryRequest(query=models.OrderByQuery(order_by="price"), limit=5)]
    for a, b in zip(ours.query_batch_points("c", requests), ref.query_batch_points("c", requests)):
        assert [p.id for p in a.points] == [p.id for p in b.points]
