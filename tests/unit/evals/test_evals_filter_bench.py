"""evals.filter_bench: filtered recall/QPS benchmark on a tiny gen_vectors-shaped dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals import filter_bench as fb
from hybrid.filters import evaluate


class _Payloads:
    """The smallest FilterView: payload dicts, no indexes."""

    def __init__(self, payloads):
        self.payloads, self.size, self.payload_version, self.cache = payloads, len(payloads), 0, {}

    def point_ids(self):
        return list(range(self.size))

    def vector_present(self, name):
        return np.ones(self.size, dtype=bool)

    def payload_index(self, key):
        return None

    def text_match(self, key, kind, text):
        return None


@pytest.fixture()
def dataset(tmp_path):
    rng = np.random.default_rng(43)
    points = rng.standard_normal((2030, 16)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    np.save(tmp_path / "base.npy", points[:2000])
    np.save(tmp_path / "queries.npy", points[2000:])
    weights = 1.0 / np.arange(1, 101)
    np.save(tmp_path / "category.npy", rng.choice(100, 2000, p=weights / weights.sum()).astype(np.int16))
    np.save(tmp_path / "price.npy", rng.uniform(0, 1000, 2000).astype(np.float32))
    np.save(tmp_path / "tenant.npy", rng.integers(0, 1000, 2000).astype(np.int32))
    return tmp_path


def test_filters_mean_the_same_to_numpy_and_to_the_engine(dataset):
    data = fb.load_filtered(dataset, n_queries=5)
    view = _Payloads(data.columns.payloads(0, 2000))
    for specs in data.cases.values():
        for spec in specs:
            assert np.array_equal(evaluate(spec.ours(), view), spec.mask(data.columns))
    assert 0.3 < data.selectivity["50%"] < 0.7 and data.selectivity["0.1%"] < 0.005


def test_truth_is_the_exact_filtered_top_k(dataset):
    data = fb.load_filtered(dataset, n_queries=4, limit=5)
    for case, specs in data.cases.items():
        for q, spec in enumerate(specs):
            allowed = np.flatnonzero(spec.mask(data.columns))
            scores = data.base[allowed] @ data.queries[q]
            expected = allowed[np.argsort(-scores, kind="stable")[:5]]
            found = data.truth[case][q]
            assert np.array_equal(found[found >= 0], expected), case


def test_both_engines_rows_summary_and_json(dataset, tmp_path):
    pytest.importorskip("qdrant_edge")
    out = tmp_path / "result.json"
    result = fb.main(["--data", str(dataset), "--queries", "6", "--json", str(out),
                      "--workdir", str(tmp_path / "builds")])
    rows = result["rows"]
    assert {(r["selectivity"], r["engine"]) for r in rows} == {
        (case, engine) for case in ("50%", "10%", "1%", "0.1%") for engine in ("ours", "qdrant-edge")}
    for row in rows:  # every filter is under full_scan_threshold here: both engines are exact
        assert row["recall"] == pytest.approx(1.0) and row["qps"] > 0 and row["p99_ms"] >= row["p50_ms"]
    assert all(r["ratio"] > 0 for r in result["summary"] if r["engine"] == "ours")
    assert json.loads(out.read_text())["n"] == 2000
    again = fb.main(["--data", str(dataset), "--queries", "2", "--engines", "ours", "--ef", "8",
                     "--workdir", str(tmp_path / "builds")])  # reopens the build
    assert [r["ef"] for r in again["rows"]] == [8] * 4
    only = fb.main(["--data", str(dataset), "--queries", "2", "--engines", "ours", "--cases", "0.1%,10%",
                    "--workdir", str(tmp_path / "builds")])
    assert [r["selectivity"] for r in only["rows"]] == ["0.1%", "10%"]
    with pytest.raises(SystemExit):
        fb.main(["--data", str(dataset), "--cases", "5%"])


def test_summary_takes_the_fastest_row_reaching_the_target():
    rows = [{"selectivity": "1%", "engine": "ours", "recall": 0.99, "qps": 10.0},
            {"selectivity": "1%", "engine": "ours", "recall": 0.96, "qps": 30.0},
            {"selectivity": "1%", "engine": "ours", "recall": 0.90, "qps": 90.0},
            {"selectivity": "1%", "engine": "qdrant-edge", "recall": 0.80, "qps": 50.0},
            {"selectivity": "1%", "engine": "qdrant-edge", "recall": 0.85, "qps": 40.0}]
    summary = {r["engine"]: r for r in fb.summarize(rows, 0.95)}
    assert summary["ours"]["qps"] == 30.0 and summary["qdrant-edge"]["recall"] == 0.85
    assert summary["ours"]["ratio"] == pytest.approx(30.0 / 40.0) and summary["qdrant-edge"]["ratio"] is None
    assert fb.worst_case(list(summary.values())) == {"ours": 30.0, "qdrant-edge": 40.0}
    assert "0.7500" not in fb.format_table(list(summary.values())) and "0.75" in fb.format_table([summary["ours"]])


def test_filtered_recall_counts_only_ids_the_filter_allows():
    assert fb.filtered_recall(np.array([4, 7]), np.array([7, 4, -1, -1]), 4) == 1.0
    assert fb.filtered_recall(np.array([4, 9]), np.array([7, 4, 5]), 2) == 0.5
    assert fb.filtered_recall(np.array([], dtype=np.int64), np.array([-1, -1]), 2) == 1.0
