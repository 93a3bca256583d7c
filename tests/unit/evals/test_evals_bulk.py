"""evals.bulk runs the whole job on a tiny dataset and reports a finished layout."""

from __future__ import annotations

import numpy as np

from evals import bulk


def test_bulk_reports_time_to_green_layout_and_recall(tmp_path) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(600, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "queries.npy", queries)
    np.save(tmp_path / "gt_ids.npy", np.argsort(-(queries @ base.T), axis=1)[:, :100])
    result = bulk.main(["--data", str(tmp_path), "--engines", "ours", "--batch", "100", "--json",
                        str(tmp_path / "out.json")])
    ours = result["ours"]
    assert ours["layout"]["points"] == 600 and ours["time_to_green_s"] >= ours["ingest_s"]
    assert ours["at_target"]["recall"] >= 0.95 and ours["peak_rss_mb"] > 0
    assert (tmp_path / "out.json").exists()
