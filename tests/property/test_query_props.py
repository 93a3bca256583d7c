"""Engine-level properties of the Query API (hypothesis): deterministic tie-breaking by point
id, insertion-order independence, prefix-consistent limits, rescoring = direct search."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid import Client

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def collections(draw):
    """Small points with integer coordinates (many exact ties) and a shuffled insertion order."""
    n = draw(st.integers(3, 25))
    coords = draw(st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=n, max_size=n))
    groups = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    sparse_dims = draw(st.lists(st.sets(st.integers(0, 4), min_size=1, max_size=3), min_size=n, max_size=n))
    ids = draw(st.permutations(range(100, 100 + n)))
    points = [{"id": ids[i], "vector": {"d": [float(x), float(y)],
                                        "s": {"indices": sorted(dims), "values": [1.0] * len(dims)}},
               "payload": {"g": groups[i], "v": float(coords[i][0])}}
              for i, (coords_i, dims) in enumerate(zip(coords, sparse_dims)) for x, y in [coords_i]]
    order = draw(st.permutations(range(n)))
    return points, [points[i] for i in order]


def _build(points: list[dict]) -> Client:
    c = Client()
    c.create_collection("c", vectors_config={"d": {"size": 2, "distance": "Dot"}}, sparse_vectors_config={"s": {}})
    c.upsert("c", points)
    return c


def _rows(hits) -> list[tuple]:
    return [(p.id, round(p.score, 5), p.order_value) for p in hits]


REQUESTS = [
    dict(query=[1.0, 0.0], using="d"),
    dict(prefetch=[{"query": [1.0, 1.0], "using": "d", "limit": 6}, {"query": {"indices": [0, 1], "values": [1.0, 1.0]},
                                                                        "using": "s", "limit": 6}],
         query={"fusion": "rrf"}),
    dict(prefetch=[{"query": [0.0, 1.0], "using": "d", "limit": 8}],
         query={"formula": {"sum": ["$score", {"key": "g", "match": {"value": 1}}]}}),
    dict(query={"order_by": "v"}),
    dict(query={"recommend": {"positive": [[1.0, 0.0]], "negative": [[0.0, 1.0]], "strategy": "best_score"}}, using="d"),
]


@SETTINGS
@given(collections(), st.integers(1, 8))
def test_results_do_not_depend_on_insertion_order(data, limit) -> None:
    in_order, shuffled = (_build(points) for points in data)
    for request in REQUESTS:
        assert _rows(in_order.query_points("c", limit=limit, **request).points) == \
            _rows(shuffled.query_points("c", limit=limit, **request).points)


@SETTINGS
@given(collections(), st.integers(1, 6), st.integers(0, 6))
def test_a_smaller_limit_is_a_prefix_and_ties_go_by_id(data, limit, extra) -> None:
    client = _build(data[1])
    for request in REQUESTS:
        short = _rows(client.query_points("c", limit=limit, **request).points)
        long = _rows(client.query_points("c", limit=limit + extra, **request).points)
        assert long[: len(short)] == short
        for (id_a, score_a, value_a), (id_b, score_b, value_b) in zip(long, long[1:]):
            if score_a == score_b and value_a == value_b:
                assert id_a < id_b


@SETTINGS
@given(collections(), st.integers(1, 8))
def test_rescoring_everything_equals_the_direct_query(data, limit) -> None:
    client = _build(data[1])
    n = len(data[0])
    for query, using in (([0.5, -1.0], "d"), ({"indices": [2, 3], "values": [0.5, 2.0]}, "s")):
        direct = client.query_points("c", query=query, using=using, limit=limit).points
        everything = {"query": [0.0, 1.0], "using": "d", "limit": n}
        rescored = client.query_points("c", prefetch=everything, query=query, using=using, limit=limit).points
        assert _rows(direct) == _rows(rescored)


@SETTINGS
@given(collections(), st.integers(1, 4), st.integers(1, 3))
def test_groups_are_ordered_and_filled_from_the_ranking(data, limit, size) -> None:
    client = _build(data[1])
    ranking = client.query_points("c", query=[1.0, -1.0], using="d", limit=len(data[0])).points
    groups = client.query_points_groups("c", "g", query=[1.0, -1.0], using="d", limit=limit, group_size=size).groups
    expected: dict = {}
    for point in ranking:
        expected.setdefault(point.payload["g"], [])
        if len(expected[point.payload["g"]]) < size:
            expected[point.payload["g"]].append(point.id)
    assert [(g.id, [h.id for h in g.hits]) for g in groups] == list(expected.items())[:limit]
