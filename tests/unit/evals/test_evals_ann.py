"""evals.ann: the ANN benchmark runs end to end on a tiny gen_vectors-shaped dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals import ann


@pytest.fixture()
def dataset(tmp_path):
    rng = np.random.default_rng(41)
    points = rng.standard_normal((620, 16)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    base, queries = points[:600], points[600:]
    truth = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :100].astype(np.int32)
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "queries.npy", queries)
    np.save(tmp_path / "gt_ids.npy", truth)
    return tmp_path


def test_ours_rows_and_json(dataset, tmp_path):
    out = tmp_path / "result.json"
    rows = ann.main(["--data", str(dataset), "--engines", "ours", "--ef", "8,64", "--batch",
                     "--batch-size", "7", "--json", str(out)])
    assert [row["ef"] for row in rows] == [8, 64]
    assert rows[1]["recall"] >= 0.95 and rows[1]["batch_recall"] == pytest.approx(rows[1]["recall"])
    for key in ("qps", "p50_ms", "p99_ms", "build_s", "build_cpu_s"):
        assert rows[0][key] >= 0
    assert rows[0]["ratio"] == 1.0  # a lone engine is its own reference
    saved = json.loads(out.read_text())
    assert saved["n"] == 600 and len(saved["rows"]) == 2


def test_quantized_on_disk_and_subset(dataset):
    rows = ann.main(["--data", str(dataset), "--engines", "ours", "--ef", "64", "--n", "300",
                     "--quantization", "int8", "--on-disk", "--oversampling", "3"])
    assert rows[0]["recall"] >= 0.95


def test_qdrant_edge_engine(dataset):
    pytest.importorskip("qdrant_edge")
    rows = ann.main(["--data", str(dataset), "--engines", "qdrant-edge", "--ef", "64", "--batch"])
    assert rows[0]["recall"] >= 0.9 and rows[0]["batch_recall"] >= 0.9


def test_recall_and_table():
    truth = np.array([[1, 2], [3, 4]])
    assert ann.recall_at([np.array([2, 9]), np.array([3, 4])], truth, 2) == 0.75
    table = ann.format_table([{"engine": "x", "ef": 4, "recall": 0.5}])
    assert table.splitlines()[0].split()[0] == "engine" and "0.5000" in table


def test_unknown_engine_is_rejected(dataset):
    with pytest.raises(SystemExit):
        ann.main(["--data", str(dataset), "--engines", "nope"])


def test_hybrid_engine_single_queries(dataset):
    pytest.importorskip("hybrid")
    rows = ann.main(["--data", str(dataset), "--engines", "hybrid", "--ef", "64"])
    assert rows[0]["engine"] == "hybrid" and rows[0]["recall"] >= 0.9


def test_hybrid_auto_engine_leaves_the_optimizer_to_finish(dataset):
    """`hybrid-auto` measures the engine as a user gets it: default optimizer settings, the
    automatic optimizer finishing by itself (the collection green before any query)."""
    pytest.importorskip("hybrid")
    rows = ann.main(["--data", str(dataset), "--engines", "hybrid-auto", "--ef", "64", "--batch"])
    assert rows[0]["engine"] == "hybrid-auto" and rows[0]["recall"] >= 0.9 and rows[0]["batch_recall"] >= 0.9
    assert ann.HybridAutoEngine.optimizers is None  # Qdrant's defaults, nothing forced


def test_engines_side_by_side_with_serving_memory(dataset):
    pytest.importorskip("qdrant_edge")
    rows = ann.main(["--data", str(dataset), "--engines", "qdrant-edge,hybrid", "--ef", "64", "--batch",
                     "--memory", "--n", "400", "--queries", "10"])
    assert [row["engine"] for row in rows] == ["hybrid", "qdrant-edge"]  # the reference comes last
    ours, edge = rows
    assert ours["recall"] >= 0.9 and edge["recall"] >= 0.9
    assert ours["ratio"] == pytest.approx(ours["qps"] / edge["qps"]) and edge["ratio"] == 1.0
    assert ours["batch_ratio"] == pytest.approx(ours["batch_qps"] / edge["batch_qps"])
    for row in rows:  # a separate serving process opened the index and kept it resident
        assert row["serve_rss_mb"] > row["baseline_mb"] > 0
        assert row["serve_index_mb"] == pytest.approx(row["serve_rss_mb"] - row["baseline_mb"])
