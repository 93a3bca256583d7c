"""The optimizer finishes the job: bulk loads end indexed, merged and green; failures are retried."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hybrid import Client
from hybrid.optimizations import SegmentStat, Thresholds, plan
from hybrid.storage.files import FAULTS

DIM = 8
HNSW = {"m": 8, "ef_construct": 32, "full_scan_threshold": 1}
SMALL = {"indexing_threshold": 4, "default_segment_number": 2}  # 4 KB: a segment every 128 points
GREEN_WITHIN = 60.0  # seconds: a bound, not a speed claim (the machine is shared)


def _client(path=None, **optimizers) -> Client:
    client = Client() if path is None else Client(path=path)
    client.create_collection("c", vectors_config={"size": DIM, "distance": "Dot"}, hnsw_config=HNSW,
                             optimizers_config={**SMALL, **optimizers})
    return client


def _load(client: Client, n: int, batch: int = 100, seed: int = 0) -> np.ndarray:
    data = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    for s in range(0, n, batch):
        client.upsert("c", {"ids": list(range(s, min(s + batch, n))), "vectors": data[s:s + batch],
                            "payloads": [{"i": i} for i in range(s, min(s + batch, n))]})
    return data


def _wait_green(client: Client) -> list[str]:
    seen, deadline = [], time.monotonic() + GREEN_WITHIN
    while time.monotonic() < deadline:
        status = client.get_collection("c").status
        seen.append(status)
        if status == "green":
            return seen
        time.sleep(0.02)
    raise AssertionError(f"not green within {GREEN_WITHIN} s: {seen[-5:]}")


def _assert_finished(client: Client, n: int) -> None:
    info = client.get_collection("c")
    coll = client.collection("c")
    sealed = [s for s in coll.segments if not s.appendable]
    assert info.points_count == n and client.count("c").count == n
    assert all(s.name in coll.optimizer.indexed for s in sealed)  # every sealed segment is indexed
    assert info.indexed_vectors_count == sum(s.live_count for s in sealed)
    assert coll.appendable.live_count * 4 * DIM < SMALL["indexing_threshold"] * 1024  # nothing left to seal
    assert info.segments_count <= SMALL["default_segment_number"] + 1  # merged towards the target
    assert coll.optimizer.pending() == [] and coll.optimizer.running == []


# ---------------------------------------------------------------- the planners alone
def _stat(name: str, points: int, indexed: bool = False, total: int = 0, appendable: bool = False) -> SegmentStat:
    return SegmentStat(name, name, points, total or points, points * 100, indexed, appendable)


TH = Thresholds(indexing_bytes=10_000, max_segment_bytes=1_000_000, segments_target=2, deleted_threshold=0.2,
                vacuum_min=50)


def test_merge_plans_the_smallest_segments_down_to_the_target() -> None:
    segments = [_stat(f"s{i}", 10 + i, indexed=True) for i in range(6)] + [_stat("app", 0, appendable=True)]
    (merge,) = plan(segments, 0, TH)
    assert merge.optimizer == "merge" and len(merge.segments) == 7  # 7 -> 1 (+ a new appendable)


def test_merge_holds_a_pair_that_would_not_lower_the_count() -> None:
    assert plan([_stat("a", 1, True), _stat("b", 2, True), _stat("c", 3, True)], 0,
                Thresholds(10_000, 1_000_000, 2, 0.2, 50))[0].segments[0].name == "a"
    assert plan([_stat("a", 1, True), _stat("b", 2, True)], 0, TH) == []


def test_indexing_takes_a_big_unindexed_segment_with_the_smallest_partner() -> None:
    segments = [_stat("big", 500), _stat("idx", 300, indexed=True)]
    (job,) = plan(segments, 0, TH)
    assert job.optimizer == "indexing" and [s.name for s in job.segments] == ["big", "idx"]
    (alone,) = plan([_stat("big", 500)], 0, TH)  # fewer segments than the target: indexed alone
    assert [s.name for s in alone.segments] == ["big"]


def test_vacuum_takes_littered_segments_worst_first() -> None:
    segments = [_stat("a", 60, True, total=100), _stat("b", 30, True, total=100), _stat("c", 10, True, total=20)]
    jobs = plan(segments, 0, Thresholds(10_000, 1_000_000, 10, 0.2, 50))  # target 10: no merge
    assert [(j.optimizer, j.segments[0].name) for j in jobs] == [("vacuum", "b"), ("vacuum", "a")]


# ---------------------------------------------------------------- the whole job
@pytest.mark.parametrize("on_disk,jobs", [(False, None), (True, None), (True, 2)])
def test_bulk_load_ends_indexed_merged_and_green(tmp_path, on_disk: bool, jobs) -> None:
    client = _client(tmp_path / "d" if on_disk else None, max_optimization_threads=jobs)  # 2: rounds overlap
    _load(client, 3000)
    _wait_green(client)
    _assert_finished(client, 3000)
    if on_disk:  # a restart keeps the shape: the points of the last round stay indexed, the
        # few the last batches left in the appendable segment (below the threshold) stay there
        info = client.get_collection("c")
        client.close()
        with Client(path=tmp_path / "d") as again:
            reopened = again.get_collection("c")
            assert again.count("c").count == 3000
            assert (reopened.status, reopened.segments_count, reopened.indexed_vectors_count) == \
                ("green", info.segments_count, info.indexed_vectors_count)
    else:
        client.close()


def test_status_is_yellow_while_an_optimization_runs() -> None:
    client = _client()
    coll = client.collection("c")
    release, build = threading.Event(), coll.optimizer.build_indexes

    def held_build(seg, extend):
        release.wait(GREEN_WITHIN)
        build(seg, extend)

    coll.optimizer.build_indexes = held_build
    _load(client, 1000)
    assert client.get_collection("c").status == "yellow"  # pending or running: never green
    deadline = time.monotonic() + GREEN_WITHIN
    while not coll.optimizer.running and time.monotonic() < deadline:
        time.sleep(0.01)  # the driver thread starts it
    assert coll.optimizer.running and client.get_collection("c").status == "yellow"
    report = client.get_optimizations("c", with_=["queued", "idle_segments"])
    assert report.running and report.running[0].status == "optimizing"
    release.set()
    _wait_green(client)
    _assert_finished(client, 1000)
    done = client.get_optimizations("c", with_=["completed"]).completed
    assert done and all(job.status == "done" for job in done)
    client.close()


def test_a_tiny_threshold_merges_instead_of_piling_up_segments() -> None:
    client = _client(indexing_threshold=1)  # a segment every 32 points
    _load(client, 2000, batch=50)
    _wait_green(client)
    coll = client.collection("c")
    assert len(coll.segments) <= 3 and client.count("c").count == 2000
    assert client.get_collection("c").indexed_vectors_count == sum(s.live_count for s in coll.segments if not s.appendable)
    client.close()


def test_reads_succeed_during_the_whole_run() -> None:
    client = _client()
    errors: list[BaseException] = []
    acknowledged = [0]
    stop = threading.Event()

    def reader() -> None:
        query = np.ones(DIM, dtype=np.float32)
        while not stop.is_set():
            try:
                floor = acknowledged[0]
                assert client.count("c").count >= floor
                hits = client.query_points("c", query=query, limit=10).points
                assert len(hits) == min(10, max(floor, len(hits)))
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    data = np.random.default_rng(3).normal(size=(3000, DIM)).astype(np.float32)
    for s in range(0, 3000, 100):
        client.upsert("c", {"ids": list(range(s, s + 100)), "vectors": data[s:s + 100]})
        acknowledged[0] = s + 100
    _wait_green(client)
    stop.set()
    thread.join()
    assert not errors, errors[0]
    _assert_finished(client, 3000)
    client.close()


def test_disabled_optimizations_report_grey_then_finish_when_enabled() -> None:
    client = _client(max_optimization_threads=0)
    _load(client, 1000)
    assert client.get_collection("c").status == "grey"
    assert len(client.collection("c").segments) == 1  # nothing ran
    client.update_collection("c", optimizers_config={"max_optimization_threads": 1})
    _wait_green(client)
    _assert_finished(client, 1000)
    client.close()


# ---------------------------------------------------------------- failures are contained
def test_a_failing_disk_is_reported_red_retried_and_loses_nothing(tmp_path, monkeypatch) -> None:
    failures, lock = [3], threading.Lock()

    def full_disk(op, path, size):  # the first write of the next 3 segment folders: ENOSPC
        if op == "write" and path.parent.name.endswith(".building") and path.parent.parent.name == "segments":
            with lock:
                if failures[0] > 0:
                    failures[0] -= 1
                    raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FAULTS, "hook", full_disk)
    client = _client(tmp_path / "d")
    data = _load(client, 1500)
    reasons = set()
    deadline = time.monotonic() + GREEN_WITHIN
    while time.monotonic() < deadline:
        info = client.get_collection("c")
        if info.status == "red":
            reasons.add(info.optimizer_status["error"])
        if info.status == "green":
            break
        time.sleep(0.005)
    assert info.status == "green" and failures[0] == 0
    assert any("No space left on device" in r for r in reasons)
    _assert_finished(client, 1500)
    wal_files = list((tmp_path / "d" / "collections" / "c" / "wal").iterdir())
    assert len(wal_files) == 1  # the checkpoints after the failures dropped the covered WAL
    client.close()
    with Client(path=tmp_path / "d") as again:
        got = again.retrieve("c", list(range(1500)), with_vectors=True)
        assert len(got) == 1500
        assert np.allclose(np.array([r.vector for r in sorted(got, key=lambda r: r.id)]), data)


def test_a_failing_build_in_memory_is_retried_and_loses_nothing() -> None:
    client = _client()
    coll = client.collection("c")
    build, failures = coll.optimizer.build_indexes, [2]

    def flaky(seg, extend):
        if failures[0] > 0:
            failures[0] -= 1
            raise MemoryError("injected")
        build(seg, extend)

    coll.optimizer.build_indexes = flaky
    _load(client, 1000)
    _wait_green(client)
    assert failures[0] == 0
    _assert_finished(client, 1000)
    assert {r.payload["i"] for r in client.scroll("c", limit=2000)[0]} == set(range(1000))
    client.close()


def test_a_process_with_a_busy_optimizer_exits(tmp_path):
    """A Client dropped at interpreter exit while its optimizer thread is alive must not hang
    (its daemon driver, frozen holding its condition, used to block close() in __del__)."""
    script = (
        "import numpy as np\n"
        "from hybrid import Client\n"
        "c = Client()\n"
        "c.create_collection('x', vectors_config={'size': 64, 'distance': 'Cosine'},\n"
        "                    optimizers_config={'indexing_threshold': 1})\n"
        "rng = np.random.default_rng(0)\n"
        "c.upsert('x', [{'id': i, 'vector': v.tolist()} for i, v in enumerate(rng.random((3000, 64)))])\n"
        "print('written', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "written"
