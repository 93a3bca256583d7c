"""Legacy search/recommend/discover bodies -> Query API arguments."""

from __future__ import annotations

import msgspec
import pytest

from api import legacy
from api import schemas as s
from hybrid.errors import ValidationError


def body(type_, **fields):
    return msgspec.convert(fields, type_)


def test_search_named_and_plain_vectors():
    named = legacy.search_args(body(s.Search, vector={"name": "d", "vector": [1, 2]}, limit=3, filter={"must": []}))
    assert (named["query"], named["using"], named["limit"], named["query_filter"]) == ([1, 2], "d", 3, {"must": []})
    plain = legacy.search_args(body(s.Search, vector=[0.5], with_payload=True))
    assert (plain["query"], plain["using"], plain["with_payload"], plain["limit"]) == ([0.5], None, True, 10)
    sparse = legacy.search_args(body(s.Search, vector={"name": "s", "vector": {"indices": [1], "values": [2.0]}}))
    assert sparse["using"] == "s" and sparse["query"] == {"indices": [1], "values": [2.0]}


@pytest.mark.parametrize("vector", [7, "abc", None, {"name": 3, "vector": [1]}])
def test_search_rejects_non_vectors(vector):
    with pytest.raises(ValidationError, match="vector"):
        legacy.search_args(body(s.Search, vector=vector))


def test_recommend_and_groups():
    args = legacy.recommend_args(body(s.Recommend, positive=[1], negative=[2], strategy="best_score", using="d"))
    assert args["query"] == {"recommend": {"positive": [1], "negative": [2], "strategy": "best_score"}}
    groups = legacy.recommend_groups_args(body(s.RecommendGroups, positive=[1], group_by="tag", group_size=2))
    assert (groups["group_by"], groups["group_size"], groups["query"]["recommend"]) == \
        ("tag", 2, {"positive": [1], "negative": []})


def test_discover_with_and_without_target():
    pairs = [{"positive": 1, "negative": 2}]
    assert legacy.discover_args(body(s.Discover, target=5, context=pairs))["query"] == \
        {"discover": {"target": 5, "context": pairs}}
    assert legacy.discover_args(body(s.Discover, context=pairs))["query"] == {"context": pairs}
    with pytest.raises(ValidationError, match="context"):
        legacy.discover_args(body(s.Discover))


def test_query_args_rest_defaults():
    args = legacy.query_args(body(s.Query, query=[1.0]))
    assert (args["limit"], args["with_payload"], args["with_vectors"], "explain" in args) == (10, False, False, False)
    assert legacy.query_args(body(s.Query, explain=True))["explain"] is True
    grouped = legacy.query_groups_args(body(s.QueryGroups, group_by="g"))
    assert (grouped["group_size"], "offset" in grouped) == (3, False)
