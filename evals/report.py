"""Evaluation reports: per-plan metrics with bootstrap CIs, significance, latency; table/JSON/plots.

A runner feeds :func:`build_report` with ``runs = {plan_name: {query_id: {doc_id: score}}}`` and
optionally ``latencies_ms = {plan_name: [one latency per query, in milliseconds]}``. The first
plan (or ``baseline=``) is the baseline every other plan is tested against, per metric, with the
paired sign-flip test of :mod:`evals.stats`.

Latency: ``p50``/``p99`` are linear-interpolated percentiles; ``qps = 1000 / mean_ms`` is the
throughput of one sequential client.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping, Sequence, TextIO

import msgspec
import numpy as np

from evals.metrics import Qrels, Run, evaluate_run, recall_curve
from evals.stats import bootstrap_ci, paired_randomization_test

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEFAULT_RECALL_KS = (1, 2, 5, 10, 20, 50, 100)
SIGNIFICANCE_LEVEL = 0.05


class MetricSummary(msgspec.Struct, frozen=True):
    """Mean of one metric over the queries with its bootstrap interval."""

    mean: float
    low: float
    high: float


class Comparison(msgspec.Struct, frozen=True):
    """One metric of a plan against the baseline: mean(plan - baseline), CI and p-value."""

    baseline: str
    mean_difference: float
    low: float
    high: float
    p_value: float


class LatencySummary(msgspec.Struct, frozen=True):
    """Per-query latency distribution of one plan, in milliseconds."""

    n: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    qps: float


class PlanReport(msgspec.Struct, frozen=True):
    """Everything measured for one plan."""

    name: str
    metrics: dict[str, MetricSummary]
    per_query: dict[str, dict[str, float]]  # metric -> {query_id: value}
    recall_curve: list[float]  # mean Recall@k for each k in EvalReport.recall_ks
    comparisons: dict[str, Comparison] = {}  # metric -> vs baseline (empty for the baseline)
    latency: LatencySummary | None = None


class EvalReport(msgspec.Struct, frozen=True):
    """A full comparison of plans on one dataset."""

    dataset: str
    metrics: list[str]
    query_ids: list[str]
    recall_ks: list[int]
    confidence: float
    baseline: str | None
    plans: list[PlanReport]


def latency_summary(latencies_ms: Sequence[float]) -> LatencySummary:
    """p50/p99/mean latency and sequential QPS of a list of per-query latencies (ms)."""
    values = np.asarray(latencies_ms, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("latencies_ms must be a non-empty list of numbers")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("latencies_ms must be finite and non-negative")
    p50, p99 = np.percentile(values, [50, 99])
    mean = float(values.mean())
    return LatencySummary(int(values.size), mean, float(p50), float(p99), 1000.0 / mean if mean > 0 else float("inf"))


def build_report(
    qrels: Qrels,
    runs: Mapping[str, Run],
    *,
    latencies_ms: Mapping[str, Sequence[float]] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    dataset: str = "",
    baseline: str | None = None,
    query_ids: Sequence[str] | None = None,
    recall_ks: Sequence[int] = DEFAULT_RECALL_KS,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> EvalReport:
    """Score every plan on the same queries (default: all queries in ``qrels``, sorted)."""
    if not runs:
        raise ValueError("runs must contain at least one plan")
    baseline = next(iter(runs)) if baseline is None else baseline
    if baseline not in runs:
        raise ValueError(f"baseline {baseline!r} is not one of the plans {list(runs)}")
    latencies_ms = latencies_ms or {}
    unknown = set(latencies_ms) - set(runs)
    if unknown:
        raise ValueError(f"latencies_ms names unknown plans {sorted(unknown)}")
    ids = list(sorted(qrels) if query_ids is None else query_ids)
    scores = {name: evaluate_run(qrels, run, metrics, query_ids=ids).per_query for name, run in runs.items()}
    plans = [
        PlanReport(
            name=name,
            metrics=_summaries(per_query, n_resamples, confidence, seed),
            per_query={metric: dict(zip(ids, values.tolist())) for metric, values in per_query.items()},
            recall_curve=recall_curve(qrels, runs[name], recall_ks, query_ids=ids).tolist(),
            comparisons={} if name == baseline else _comparisons(
                per_query, scores[baseline], baseline, n_resamples, confidence, seed
            ),
            latency=latency_summary(latencies_ms[name]) if name in latencies_ms else None,
        )
        for name, per_query in scores.items()
    ]
    metric_names = list(scores[baseline])
    return EvalReport(dataset, metric_names, ids, [int(k) for k in recall_ks], confidence, baseline, plans)


def _summaries(
    per_query: dict[str, np.ndarray], n_resamples: int, confidence: float, seed: int
) -> dict[str, MetricSummary]:
    summaries = {}
    for metric, values in per_query.items():
        if values.size == 0:
            summaries[metric] = MetricSummary(0.0, 0.0, 0.0)
            continue
        ci = bootstrap_ci(values, n_resamples=n_resamples, confidence=confidence, seed=seed)
        summaries[metric] = MetricSummary(ci.mean, ci.low, ci.high)
    return summaries


def _comparisons(
    per_query: dict[str, np.ndarray],
    baseline_per_query: dict[str, np.ndarray],
    baseline: str,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Comparison]:
    comparisons = {}
    for metric, values in per_query.items():
        if values.size == 0:
            continue
        test = paired_randomization_test(
            values, baseline_per_query[metric], n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        interval = test.interval
        comparisons[metric] = Comparison(baseline, test.mean_difference, interval.low, interval.high, test.p_value)
    return comparisons


def _table_rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    """Header and cell strings shared by the plain and rich tables."""
    header = ["plan", *report.metrics, "p50 ms", "p99 ms", "QPS"]
    rows = []
    for plan in report.plans:
        cells = [plan.name]
        for metric in report.metrics:
            summary = plan.metrics[metric]
            cell = f"{summary.mean:.4f} [{summary.low:.3f}, {summary.high:.3f}]"
            comparison = plan.comparisons.get(metric)
            if comparison is not None:
                mark = "*" if comparison.p_value < SIGNIFICANCE_LEVEL else " "
                cell += f" {comparison.mean_difference:+.3f}{mark}"
            cells.append(cell)
        latency = plan.latency
        cells += ["-", "-", "-"] if latency is None else [
            f"{latency.p50_ms:.2f}", f"{latency.p99_ms:.2f}", f"{latency.qps:.1f}"
        ]
        rows.append(cells)
    return header, rows


def _caption(report: EvalReport) -> str:
    level = round(report.confidence * 100)
    return (
        f"{report.dataset or 'dataset'}: {len(report.query_ids)} queries; mean [{level}% bootstrap CI]; "
        f"+/- = difference vs baseline {report.baseline!r}, * = p < {SIGNIFICANCE_LEVEL} (paired sign-flip)"
    )


def format_table(report: EvalReport) -> str:
    """The report as an aligned plain-text table with a caption line."""
    header, rows = _table_rows(report)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([_caption(report), *lines])


def print_table(report: EvalReport, file: TextIO | None = None, *, use_rich: bool | None = None) -> None:
    """Print the table; with ``rich`` (when installed, unless ``use_rich=False``) as a styled table."""
    file = sys.stdout if file is None else file
    if use_rich is not False:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            if use_rich:
                raise
        else:
            header, rows = _table_rows(report)
            table = Table(caption=_caption(report))
            for name in header:
                table.add_column(name, no_wrap=True)
            for row in rows:
                table.add_row(*row)
            widest = sum(max(len(row[i]) for row in [header, *rows]) + 3 for i in range(len(header)))
            Console(file=file, width=max(80, widest + 1)).print(table)
            return
    print(format_table(report), file=file)


def report_to_json(report: EvalReport) -> bytes:
    """Indented JSON of the whole report, per-query scores included."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2)


def write_json(report: EvalReport, path: str | Path) -> Path:
    """Write :func:`report_to_json` to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(report_to_json(report))
    return path


def read_json(path: str | Path) -> EvalReport:
    """Load a report written by :func:`write_json` (e.g. to re-plot or compare runs)."""
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=EvalReport)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise ValueError(f"{path}: not an evaluation report: {error}") from None


def write_report(report: EvalReport, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Write ``report.json``, ``report.txt`` and (optionally) the PNG plots into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_json(report, out_dir / "report.json")]
    (out_dir / "report.txt").write_text(format_table(report) + "\n")
    written.append(out_dir / "report.txt")
    if plots:
        from evals.plots import write_plots  # matplotlib is slow to import: only when plotting

        written += write_plots(report, out_dir)
    return written
