"""Tuning: seeded query split, choice on the tune split only, report on the test split."""

from __future__ import annotations

import pytest

from evals.plans import rrf_plan
from evals.tuning import format_tuning, select, split_queries, tuning_grid


def test_split_is_seeded_disjoint_and_complete():
    ids = [f"q{i}" for i in range(20)]
    first = split_queries(ids, 0.5, seed=3)
    assert first == split_queries(ids, 0.5, seed=3)
    assert first != split_queries(ids, 0.5, seed=4)
    assert len(first.tune) == 10 and not set(first.tune) & set(first.test)
    assert sorted(first.tune + first.test) == sorted(ids)
    tiny = split_queries(["a", "b"], 0.9)
    assert len(tiny.tune) == 1 and len(tiny.test) == 1


def test_split_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tune_fraction"):
        split_queries(["a", "b"], 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        split_queries(["a"])


def test_grid_has_unique_names_in_both_families():
    grid = tuning_grid()
    names = [plan.name for _, plan in grid]
    assert len(names) == len(set(names))
    assert {family for family, _ in grid} == {"rrf", "linear"}


def _runs_with_hits(hits_by_query: dict[str, bool]) -> dict[str, dict[str, float]]:
    """A run that puts the relevant doc first on the queries marked True, and nothing else."""
    return {qid: ({"rel": 1.0} if hit else {"junk": 1.0}) for qid, hit in hits_by_query.items()}


def test_select_chooses_on_tune_and_reports_test():
    ids = [f"q{i}" for i in range(8)]
    split = split_queries(ids, 0.5, seed=0)
    qrels = {qid: {"rel": 1} for qid in ids}
    good_on_tune = rrf_plan(1)
    good_on_test = rrf_plan(2)
    runs = {
        good_on_tune.name: _runs_with_hits({qid: qid in split.tune for qid in ids}),
        good_on_test.name: _runs_with_hits({qid: qid in split.test for qid in ids}),
    }
    grid = [("rrf", good_on_test), ("rrf", good_on_tune)]
    result = select(qrels, runs, grid, split, baselines={"fixed": _runs_with_hits(dict.fromkeys(ids, True))})
    assert result.chosen == {"rrf": good_on_tune.name}
    chosen = next(c for c in result.candidates if c.name == good_on_tune.name)
    assert (chosen.tune, chosen.test) == (1.0, 0.0)
    assert (result.baselines["fixed"].tune, result.baselines["fixed"].test) == (1.0, 1.0)
    text = format_tuning(result)
    assert good_on_tune.name in text and "fixed" in text and good_on_test.name not in text


def test_select_prefers_the_earlier_grid_entry_on_ties_and_needs_every_run():
    ids = ["a", "b", "c", "d"]
    split = split_queries(ids)
    qrels = {qid: {"rel": 1} for qid in ids}
    first, second = rrf_plan(1), rrf_plan(2)
    same = _runs_with_hits(dict.fromkeys(ids, True))
    result = select(qrels, {first.name: same, second.name: same}, [("rrf", first), ("rrf", second)], split)
    assert result.chosen["rrf"] == first.name
    with pytest.raises(ValueError, match="no run"):
        select(qrels, {first.name: same}, [("rrf", first), ("rrf", second)], split)
