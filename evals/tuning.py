"""Fusion parameter tuning on one seeded split of the queries, reported on the other.

Choosing RRF's k, list weights or a linear alpha on the same queries that report the score
overfits (with ~50 queries, easily by a few nDCG points). :func:`split_queries` draws a seeded
permutation of the query ids and cuts it: the first ``tune_fraction`` is the *tune* split, the
rest the *test* split. :func:`select` picks, per family (``rrf``, ``linear``, ...), the candidate
with the best mean ``metric`` on the tune split (the earlier grid entry wins a tie) and reports
every candidate's mean on both splits, so the test number of the chosen parameters is an honest
estimate and can be compared with fixed baselines on the same test queries.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import msgspec
import numpy as np

from evals.metrics import Qrels, Run, evaluate_run
from evals.plans import PREFETCH_DEPTH, Plan, linear_plan, rrf_plan

RRF_KS = (1, 2, 5, 10, 20, 40, 60, 100)
RRF_WEIGHTS = ((1.0, 1.0), (1.0, 2.0), (2.0, 1.0), (1.0, 3.0), (3.0, 1.0))
LINEAR_ALPHAS = tuple(round(0.1 * step, 1) for step in range(11))
NORMALIZATIONS = ("minmax", "zscore")


class Split(NamedTuple):
    """Disjoint query id lists: parameters are chosen on ``tune`` and reported on ``test``."""

    tune: list[str]
    test: list[str]


def split_queries(query_ids: Sequence[str], tune_fraction: float = 0.5, seed: int = 0) -> Split:
    """Seeded random split; both sides get at least one query (needs >= 2 queries)."""
    if not 0.0 < tune_fraction < 1.0:
        raise ValueError(f"tune_fraction: expected a number in (0, 1), got {tune_fraction!r}")
    ids = list(query_ids)
    if len(ids) < 2:
        raise ValueError(f"query_ids: tuning needs at least 2 queries, got {len(ids)}")
    order = np.random.default_rng(seed).permutation(len(ids))
    cut = min(max(1, round(tune_fraction * len(ids))), len(ids) - 1)
    return Split([ids[i] for i in order[:cut]], [ids[i] for i in order[cut:]])


def tuning_grid(depth: int = PREFETCH_DEPTH) -> list[tuple[str, Plan]]:
    """(family, plan) candidates: RRF over k x weights, linear over alpha x normalisation."""
    grid = [("rrf", rrf_plan(k, list(weights), depth)) for k in RRF_KS for weights in RRF_WEIGHTS]
    grid += [
        ("linear", linear_plan(alpha, normalization, depth)) for normalization in NORMALIZATIONS for alpha in LINEAR_ALPHAS
    ]
    return grid


class Candidate(msgspec.Struct, frozen=True):
    """One parameter setting's mean metric on each split."""

    name: str
    family: str
    description: str
    tune: float
    test: float


class TuningResult(msgspec.Struct, frozen=True):
    """Candidates in grid order; ``chosen`` maps each family to its best candidate on tune."""

    metric: str
    seed: int
    tune_ids: list[str]
    test_ids: list[str]
    candidates: list[Candidate]
    chosen: dict[str, str]
    baselines: dict[str, Candidate] = {}  # fixed plans scored on the same splits (family "baseline")


def _split_means(qrels: Qrels, run: Run, metric: str, split: Split) -> tuple[float, float]:
    scores = evaluate_run(qrels, run, (metric,), query_ids=split.tune + split.test).per_query[metric]
    cut = len(split.tune)
    return float(scores[:cut].mean()), float(scores[cut:].mean())


def select(
    qrels: Qrels,
    runs: Mapping[str, Run],
    grid: Sequence[tuple[str, Plan]],
    split: Split,
    *,
    metric: str = "ndcg@10",
    seed: int = 0,
    baselines: Mapping[str, Run] | None = None,
) -> TuningResult:
    """Score every grid plan's run on both splits and pick each family's best on tune."""
    candidates = []
    for family, plan in grid:
        if plan.name not in runs:
            raise ValueError(f"runs: no run for grid plan {plan.name!r}")
        tune, test = _split_means(qrels, runs[plan.name], metric, split)
        candidates.append(Candidate(plan.name, family, plan.description, tune, test))
    chosen: dict[str, Candidate] = {}
    for candidate in candidates:
        best = chosen.get(candidate.family)
        if best is None or candidate.tune > best.tune:
            chosen[candidate.family] = candidate
    fixed = {
        name: Candidate(name, "baseline", "", *_split_means(qrels, run, metric, split))
        for name, run in (baselines or {}).items()
    }
    return TuningResult(
        metric, seed, list(split.tune), list(split.test), candidates,
        {family: candidate.name for family, candidate in chosen.items()}, fixed,
    )


def format_tuning(result: TuningResult) -> str:
    """Chosen parameters per family and the baselines, with their tune and test means."""
    by_name = {candidate.name: candidate for candidate in result.candidates}
    lines = [
        f"tuning {result.metric}: {len(result.tune_ids)} tune / {len(result.test_ids)} test queries "
        f"(seed {result.seed}); parameters chosen on tune, reported on test",
        f"{'plan':<28} {'tune':>7} {'test':>7}  description",
    ]
    rows = [by_name[name] for name in result.chosen.values()] + list(result.baselines.values())
    for row in rows:
        label = row.name if row.family == "baseline" else f"{row.name} (best {row.family})"
        lines.append(f"{label:<28} {row.tune:7.4f} {row.test:7.4f}  {row.description}")
    return "\n".join(lines)
