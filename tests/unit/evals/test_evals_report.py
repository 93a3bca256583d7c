"""Report building (metrics, CIs, significance, latency), table, JSON round trip and plots."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from evals.metrics import evaluate_run
from evals.plots import plot_recall_vs_qps
from evals.report import (
    build_report,
    format_table,
    latency_summary,
    print_table,
    read_json,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def qrels_and_runs():
    rng = np.random.default_rng(0)
    qrels = {f"q{q}": {f"d{q}": 1, f"e{q}": 2} for q in range(40)}
    docs = [f"x{i}" for i in range(30)]
    perfect = {qid: {f"e{qid[1:]}": 3.0, f"d{qid[1:]}": 2.0, **{d: 1.0 for d in docs[:5]}} for qid in qrels}
    noisy = {qid: {doc: float(rng.uniform()) for doc in [*rng.choice(docs, 8), *judged]} for qid, judged in qrels.items()}
    return qrels, {"perfect": perfect, "noisy": noisy}


@pytest.fixture(scope="module")
def report(qrels_and_runs):
    qrels, runs = qrels_and_runs
    latencies = {"perfect": [1.0, 2.0, 3.0, 4.0], "noisy": list(np.linspace(0.5, 10.0, 40))}
    return build_report(
        qrels, runs, latencies_ms=latencies, metrics=["ndcg@10", "recall@5"], dataset="toy",
        recall_ks=[1, 2, 10], n_resamples=500,
    )


def test_report_means_match_metrics_and_baseline_is_first_plan(report, qrels_and_runs):
    qrels, runs = qrels_and_runs
    assert report.baseline == "perfect"
    assert [plan.name for plan in report.plans] == ["perfect", "noisy"]
    perfect, noisy = report.plans
    assert perfect.metrics["ndcg@10"].mean == pytest.approx(1.0)
    expected = evaluate_run(qrels, runs["noisy"], ["ndcg@10"]).means()["ndcg@10"]
    assert noisy.metrics["ndcg@10"].mean == pytest.approx(expected)
    assert noisy.metrics["ndcg@10"].low <= expected <= noisy.metrics["ndcg@10"].high
    assert perfect.comparisons == {}
    assert noisy.comparisons["ndcg@10"].mean_difference == pytest.approx(expected - 1.0)
    assert noisy.comparisons["ndcg@10"].p_value < 0.05
    assert perfect.recall_curve == pytest.approx([0.5, 1.0, 1.0])


def test_latency_summary_percentiles_and_qps():
    summary = latency_summary([1.0, 2.0, 3.0, 4.0])
    assert (summary.n, summary.mean_ms, summary.p50_ms) == (4, 2.5, 2.5)
    assert summary.p99_ms == pytest.approx(np.percentile([1, 2, 3, 4], 99))
    assert summary.qps == pytest.approx(400.0)
    with pytest.raises(ValueError, match="latencies_ms"):
        latency_summary([])


def test_plain_table_lists_every_plan_and_marks_significance(report):
    text = format_table(report)
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["plan", "ndcg@10", "recall@5"]
    assert lines[3].startswith("perfect") and lines[4].startswith("noisy")
    assert "*" in lines[4] and "*" not in lines[3]
    assert "2.50" in lines[3]  # p50 latency of the perfect plan


@pytest.mark.parametrize("use_rich", [False, True])
def test_print_table_writes_to_the_given_file(report, use_rich):
    out = io.StringIO()
    print_table(report, out, use_rich=use_rich)
    assert "noisy" in out.getvalue() and "ndcg@10" in out.getvalue()


def test_write_report_json_round_trip_and_pngs(report, tmp_path):
    paths = write_report(report, tmp_path / "out")
    names = sorted(path.name for path in paths)
    assert names == ["report.json", "report.txt", "toy_ndcg_10.png", "toy_recall_5.png", "toy_recall_curves.png"]
    for path in paths:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["plans"][1]["per_query"]["ndcg@10"]["q0"] == pytest.approx(report.plans[1].per_query["ndcg@10"]["q0"])
    assert data["plans"][0]["latency"]["p50_ms"] == 2.5
    assert read_json(tmp_path / "out" / "report.json") == report


def test_recall_vs_qps_plot(tmp_path):
    rows = [
        {"engine": "hnsw", "ef": ef, "recall": r, "qps": q}
        for ef, r, q in [(16, 0.8, 5000.0), (64, 0.95, 2000.0), (256, 0.99, 600.0)]
    ] + [{"engine": "exact", "recall": 1.0, "qps": 150.0}]
    path = plot_recall_vs_qps(rows, tmp_path, title="ann glove")
    assert path.name == "ann_glove.png" and path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="qps"):
        plot_recall_vs_qps([{"engine": "x", "recall": 1.0}], tmp_path)


def test_invalid_plans_raise_value_error(qrels_and_runs):
    qrels, runs = qrels_and_runs
    with pytest.raises(ValueError, match="baseline"):
        build_report(qrels, runs, baseline="missing")
    with pytest.raises(ValueError, match="latencies_ms"):
        build_report(qrels, runs, latencies_ms={"other": [1.0]})
    with pytest.raises(ValueError, match="runs"):
        build_report(qrels, {})
