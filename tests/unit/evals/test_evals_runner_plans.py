"""Plans: placeholders, built-in plans, selection, plan files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals.plans import (
    DEFAULT_PLANS,
    Plan,
    builtin_plans,
    fill,
    linear_plan,
    load_plans,
    placeholders,
    rrf_plan,
    select_plans,
    vector_names,
)


def test_fill_replaces_exact_placeholders_and_copies_containers():
    dense = np.arange(3, dtype=np.float32)
    request = {"prefetch": [{"query": "$dense", "using": "dense"}, {"query": {"bm25": {"text": "$text", "field": "text"}}}],
               "query": {"rrf": {"k": 60}}, "note": "$text is not a placeholder here"}
    filled = fill(request, {"$dense": dense, "$text": "hello"})
    assert filled["prefetch"][0]["query"] is dense  # values are shared, not copied
    assert filled["prefetch"][1]["query"]["bm25"]["text"] == "hello"
    assert filled["note"] == "$text is not a placeholder here"
    filled["query"]["rrf"]["k"] = 1
    assert request["query"]["rrf"]["k"] == 60
    assert request["prefetch"][0]["query"] == "$dense"


def test_fill_without_a_value_names_the_placeholder():
    with pytest.raises(ValueError, match=r"\$tokens"):
        fill({"query": "$tokens", "using": "tokens"}, {"$text": "x"})


def test_placeholders_and_vector_names_of_builtin_plans():
    plans = builtin_plans()
    assert placeholders(plans["bm25"].request) == {"$text"}
    assert vector_names(plans["bm25"].request) == set()
    assert placeholders(plans["rrf_maxsim"].request) == {"$text", "$dense", "$tokens"}
    assert vector_names(plans["rrf_maxsim"].request) == {"dense", "tokens"}
    assert vector_names({"query": {"text": "$text", "model": "qdrant/bm25"}, "using": "sparse"}) == {"sparse"}


def test_builtin_plans_cover_the_required_names_and_fuse_bm25_with_dense():
    plans = builtin_plans(depth=50)
    for name in ("bm25", "sparse", "dense", "multivector", "rrf", "dbsf", "rrf_maxsim", "linear_0.5"):
        assert name in plans
    assert plans["dbsf"].request["query"] == {"fusion": "dbsf"}
    assert [p["limit"] for p in plans["rrf"].request["prefetch"]] == [50, 50]
    assert plans["rrf_maxsim"].request["prefetch"][0]["query"] == plans["rrf"].request["query"]
    assert plans["linear_0.3"].request["query"]["linear"]["weights"] == [0.7, 0.3]


def test_parametrised_plans_are_named_by_their_parameters():
    assert rrf_plan(10, [1.0, 2.0]).name == "rrf_k10_w1,2"
    assert rrf_plan(10, [1.0, 2.0]).request["query"] == {"rrf": {"k": 10, "weights": [1.0, 2.0]}}
    assert linear_plan(0.2, "zscore").name == "linear_0.2_zscore"
    with pytest.raises(ValueError, match="alpha"):
        linear_plan(1.5)


def test_select_plans_expands_groups_keeps_order_and_rejects_unknown_names():
    extra = Plan("mine", {"query": "$dense", "using": "dense"})
    chosen = select_plans(["dense", "linear_sweep", "dense", "mine"], [extra])
    names = [plan.name for plan in chosen]
    assert names[0] == "dense" and names[-1] == "mine"
    assert names.count("dense") == 1 and sum(name.startswith("linear_") for name in names) == 9
    assert [plan.name for plan in select_plans(["default"])] == list(DEFAULT_PLANS)
    with pytest.raises(ValueError, match="unknown plan 'nope'"):
        select_plans(["nope"])
    with pytest.raises(ValueError, match="no plan"):
        select_plans([" "])


@pytest.mark.parametrize("shape", ["object", "list", "wrapped"])
def test_load_plans_reads_every_file_shape(tmp_path, shape):
    plan = {"name": "dense_only", "request": {"query": "$dense", "using": "dense"}}
    data = {"object": plan, "list": [plan], "wrapped": {"plans": [plan]}}[shape]
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(data))
    (loaded,) = load_plans(path)
    assert loaded == Plan("dense_only", {"query": "$dense", "using": "dense"})


def test_load_plans_rejects_malformed_files(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"name": "x"}]))
    with pytest.raises(ValueError, match="bad.json"):
        load_plans(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        load_plans(path)
    with pytest.raises(ValueError, match="name"):
        Plan(" ", {})
    with pytest.raises(TypeError, match="request"):
        Plan("x", [])  # type: ignore[arg-type]
