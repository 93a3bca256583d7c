"""The runner's results document, the BM25 parity checks and the two-plan significance test.

``results.json`` is ``{"dataset": ..., "plans": {NAME: {"ndcg@10": .., "recall@100": ..,
"mrr@10": .., "p50_ms": .., "p99_ms": .., "ci": {metric: [low, high]}, "vs_baseline": {metric:
{"mean_difference", "p_value"}}, "per_query": {metric: {query_id: value}}, "request": ..}},
"best": .., "checks": .., "comparison": .., "tuning": .., "indexing_s": ..}``.

A plan is *hybrid* when its request has a ``prefetch`` (fusion or multi-stage), else a *single*
retriever; ``best`` compares the best of each on the first metric (nDCG@10 by default).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import msgspec

from evals.beir import BeirDataset
from evals.metrics import evaluate_run
from evals.report import EvalReport
from evals.runner import Embedders, IndexedCollection, PlanRun
from evals.stats import paired_randomization_test

#: Targets of the parity checks: equal to 3 decimals, and sparse within 0.02 of BM25.
BM25_TOLERANCE = 0.0005
SPARSE_TOLERANCE = 0.02


def _check(metric: str, name: str, value: float, reference_name: str, reference: float, tolerance: float) -> dict:
    difference = value - reference
    passed = abs(difference) <= tolerance
    return {
        "metric": metric, name: value, reference_name: reference, "difference": difference,
        "tolerance": tolerance, "passed": passed,
        "summary": f"{metric} {name} {value:.4f} vs {reference_name} {reference:.4f} "
                   f"(diff {difference:+.4f}, target |diff| <= {tolerance:g}: {'ok' if passed else 'MISSED'})",
    }


def parity_checks(
    dataset: BeirDataset, runs: Mapping[str, PlanRun], query_ids: Sequence[str], depth: int, metric: str = "ndcg@10"
) -> dict[str, dict]:
    """``bm25`` plan vs plain tantivy (same analyzer) and ``sparse`` vs ``bm25``, when run."""
    checks: dict[str, dict] = {}
    if "bm25" not in runs:
        return checks
    from evals.bm25_parity import tantivy_direct_run

    def score(run: Any) -> float:
        return evaluate_run(dataset.qrels, run, (metric,), query_ids=query_ids).means()[metric]

    bm25 = score(runs["bm25"].run)
    direct = score(tantivy_direct_run(dataset, query_ids, depth=depth))
    checks["bm25_vs_tantivy"] = _check(metric, "bm25_query_api", bm25, "tantivy_direct", direct, BM25_TOLERANCE)
    if "sparse" in runs:
        checks["sparse_vs_bm25"] = _check(metric, "sparse", score(runs["sparse"].run), "bm25", bm25, SPARSE_TOLERANCE)
    return checks


def comparison(report: EvalReport, a: str, b: str, *, n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Paired sign-flip test and bootstrap CI of ``mean(a - b)`` for every metric of the report."""
    plans = {plan.name: plan for plan in report.plans}
    for name in (a, b):
        if name not in plans:
            raise ValueError(f"--compare: unknown plan {name!r}; evaluated: {sorted(plans)}")
    rows = {}
    for metric in report.metrics:
        first = [plans[a].per_query[metric][qid] for qid in report.query_ids]
        second = [plans[b].per_query[metric][qid] for qid in report.query_ids]
        test = paired_randomization_test(first, second, n_resamples=n_resamples, seed=seed)
        rows[metric] = {
            "mean_difference": test.mean_difference, "p_value": test.p_value,
            "low": test.interval.low, "high": test.interval.high,
        }
    return {"a": a, "b": b, "n_queries": len(report.query_ids), "metrics": rows}


def _is_hybrid(plan_run: PlanRun) -> bool:
    return "prefetch" in plan_run.plan.request


def best_plans(report: EvalReport, runs: Mapping[str, PlanRun]) -> dict[str, Any] | None:
    """Best single retriever and best hybrid plan on the report's first metric, and the gap."""
    metric = report.metrics[0]
    means = {plan.name: plan.metrics[metric].mean for plan in report.plans}
    single = [name for name in means if not _is_hybrid(runs[name])]
    hybrid = [name for name in means if _is_hybrid(runs[name])]
    if not single or not hybrid:
        return None
    best_single = max(single, key=means.__getitem__)
    best_hybrid = max(hybrid, key=means.__getitem__)
    margin = means[best_hybrid] - means[best_single]
    return {
        "metric": metric, "single": best_single, "hybrid": best_hybrid, "margin": margin,
        "summary": f"best hybrid {best_hybrid} {means[best_hybrid]:.4f} vs best single {best_single} "
                   f"{means[best_single]:.4f} on {metric}: {margin:+.4f}",
    }


def results_document(
    report: EvalReport,
    runs: Mapping[str, PlanRun],
    dataset: BeirDataset,
    indexed: IndexedCollection,
    embedders: Embedders,
    checks: Mapping[str, dict],
    compared: Mapping[str, Any] | None = None,
    tuning: Any = None,
) -> dict[str, Any]:
    """The JSON document described in the module docstring."""
    plans: dict[str, Any] = {}
    for plan in report.plans:
        row: dict[str, Any] = {metric: summary.mean for metric, summary in plan.metrics.items()}
        if plan.latency is not None:
            row.update(p50_ms=plan.latency.p50_ms, p99_ms=plan.latency.p99_ms, mean_ms=plan.latency.mean_ms,
                       qps=plan.latency.qps)
        row["ci"] = {metric: [summary.low, summary.high] for metric, summary in plan.metrics.items()}
        row["vs_baseline"] = {
            metric: {"baseline": c.baseline, "mean_difference": c.mean_difference, "p_value": c.p_value}
            for metric, c in plan.comparisons.items()
        }
        row["description"] = runs[plan.name].plan.description
        row["request"] = runs[plan.name].plan.request
        row["per_query"] = plan.per_query
        plans[plan.name] = row
    document: dict[str, Any] = {
        "dataset": dataset.name, "split": dataset.split, "n_documents": len(dataset.corpus),
        "n_queries": len(report.query_ids), "metrics": report.metrics, "baseline": report.baseline,
        "embedder": getattr(embedders.dense, "model_id", str(embedders.dense)),
        "sparse_avg_len": getattr(embedders.sparse, "avg_len", None),
        "indexing_s": indexed.timings_s, "plans": plans,
    }
    best = best_plans(report, runs)
    if best is not None:
        document["best"] = best
    if checks:
        document["checks"] = dict(checks)
    if compared is not None:
        document["comparison"] = dict(compared)
    if tuning is not None:
        document["tuning"] = msgspec.to_builtins(tuning)
    return document
