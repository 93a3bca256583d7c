"""evals.keyword_bench: one tiny end-to-end run (Client vs bare tantivy vs qdrant-edge) and its helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals import keyword_bench


@pytest.fixture()
def dataset(tmp_path):
    rng = np.random.default_rng(3)
    words = ["river", "stone", "bridge", "garden", "music", "engine", "winter", "harbor", "candle", "forest",
             "signal", "copper", "meadow", "planet", "violin"]
    folder = tmp_path / "msmarco-tiny"
    folder.mkdir()
    with (folder / "corpus.jsonl").open("w") as corpus:
        for i in range(60):
            text = " ".join(rng.choice(words, int(rng.integers(6, 14))))
            corpus.write(json.dumps({"_id": str(i), "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as queries:
        for i in range(6):
            queries.write(json.dumps({"_id": f"q{i}", "text": " ".join(rng.choice(words, 2, replace=False))}) + "\n")
    return folder


def test_one_run_reports_every_row_and_writes_json(dataset, tmp_path):
    out = tmp_path / "rows.json"
    rows = keyword_bench.main(["--docs", "300", "--reps", "2", "--dataset", str(dataset), "--json", str(out)])
    assert [row["row"] for row in rows] == ["bm25 text", "sparse bm25", "sparse splade"]
    for row in rows:
        assert row["queries"] >= 6
        for side in ("ours", "ref"):
            assert 0 < row[side]["p50_ms"] <= row[side]["p99_ms"] and row[side]["qps"] > 0
        assert row["speedup_mean"] > 0
    # Same documents, same vectors: the engines agree, up to ties at the cut (frequent here: 15
    # words) that the references break by their internal order and we by point id.
    assert min(row["overlap"] for row in rows) >= 0.9
    assert json.loads(out.read_text())["rows"] == rows


def test_encode_bm25_rows_are_a_csr_of_the_encoder_output():
    indptr, indices, values = keyword_bench.encode_bm25(["red apple red", "", "green pear"])
    assert indptr.tolist()[0] == 0 and indptr.size == 4 and indptr[2] == indptr[1]  # empty document
    assert indices.dtype == np.uint32 and values.dtype == np.float32 and indices.size == indptr[-1]
    first = slice(indptr[0], indptr[1])
    assert indices[first].size == 2 and np.all(np.diff(indices[first]) > 0)


def test_mean_overlap_and_summary():
    found = [np.array([1, 2, 3]), np.array([4, 5])]
    expected = [np.array([3, 2, 9]), np.array([4, 5])]
    assert keyword_bench.mean_overlap(found, expected, 3) == pytest.approx((2 / 3 + 1) / 2)
    row = keyword_bench.summary("r", np.array([1e-3, 3e-3]), np.array([2e-3, 6e-3]), 1.0)
    assert row["ours"]["mean_ms"] == pytest.approx(2.0) and row["ref"]["qps"] == pytest.approx(250.0)
    assert row["speedup_mean"] == pytest.approx(2.0)
