"""PNG plots of evaluation reports and ANN benchmarks (matplotlib, headless Agg backend).

Every function takes an output folder, writes one PNG there and returns its path. Figures are
closed after saving so long benchmark sessions do not accumulate memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # report.py imports this module to draw its plots
    from evals.report import EvalReport


def _pyplot() -> Any:
    """pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "plot"


def _save(figure: Any, out_dir: str | Path, name: str) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{_file_name(name)}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    return path


def plot_metric(report: EvalReport, metric: str, out_dir: str | Path) -> Path:
    """Bar chart of one metric per plan with its bootstrap confidence interval as error bars."""
    if metric not in report.metrics:
        raise ValueError(f"metric {metric!r} is not in the report {report.metrics}")
    plt = _pyplot()
    names = [plan.name for plan in report.plans]
    means = np.array([plan.metrics[metric].mean for plan in report.plans])
    lows = np.array([plan.metrics[metric].low for plan in report.plans])
    highs = np.array([plan.metrics[metric].high for plan in report.plans])
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 4))
    positions = np.arange(len(names))
    axes.bar(positions, means, color="tab:blue", alpha=0.8)
    axes.errorbar(positions, means, yerr=[means - lows, highs - means], fmt="none", ecolor="black", capsize=4)
    axes.set_xticks(positions, names, rotation=30, ha="right")
    axes.set_ylabel(metric)
    axes.set_title(f"{report.dataset}: {metric} ({round(report.confidence * 100)}% bootstrap CI)")
    return _save(figure, out_dir, f"{report.dataset}_{metric}")


def plot_recall_curves(report: EvalReport, out_dir: str | Path) -> Path:
    """Mean Recall@k against k (log scale) for every plan."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    for plan in report.plans:
        axes.plot(report.recall_ks, plan.recall_curve, marker="o", label=plan.name)
    axes.set_xscale("log")
    axes.set_xticks(report.recall_ks, [str(k) for k in report.recall_ks])
    axes.minorticks_off()
    axes.set_xlabel("k")
    axes.set_ylabel("Recall@k")
    axes.set_ylim(0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.legend()
    axes.set_title(f"{report.dataset}: Recall@k")
    return _save(figure, out_dir, f"{report.dataset}_recall_curves")


def _check_ann_rows(rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        raise ValueError("rows must contain at least one benchmark result")
    for index, row in enumerate(rows):
        missing = {"engine", "recall", "qps"} - set(row)
        if missing:
            raise ValueError(f"rows[{index}] misses the fields {sorted(missing)}")


def plot_recall_vs_qps(
    rows: Sequence[Mapping[str, Any]], out_dir: str | Path, *, title: str = "recall vs QPS"
) -> Path:
    """ANN trade-off: one line per engine through its (recall, QPS) points, labelled with ``ef``.

    ``rows`` are dicts with ``engine``, ``recall``, ``qps`` and optionally ``ef``; QPS is on a
    log axis, as in ann-benchmarks.
    """
    _check_ann_rows(rows)
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    engines = list(dict.fromkeys(str(row["engine"]) for row in rows))
    for engine in engines:
        points = sorted((row for row in rows if str(row["engine"]) == engine), key=lambda row: row["recall"])
        recalls = [float(row["recall"]) for row in points]
        qps = [float(row["qps"]) for row in points]
        axes.plot(recalls, qps, marker="o", label=engine)
        for row, x, y in zip(points, recalls, qps):
            if "ef" in row:
                axes.annotate(str(row["ef"]), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    axes.set_yscale("log")
    axes.set_xlabel("recall")
    axes.set_ylabel("queries per second")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    axes.set_title(title)
    return _save(figure, out_dir, title)


def write_plots(report: EvalReport, out_dir: str | Path) -> list[Path]:
    """One bar chart per metric plus the recall curves."""
    paths = [plot_metric(report, metric, out_dir) for metric in report.metrics]
    paths.append(plot_recall_curves(report, out_dir))
    return paths
