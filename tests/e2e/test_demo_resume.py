"""`hybrid demo` killed halfway through its build: the next start says what it finds and resumes,
a complete build is reused, an incompatible one is rebuilt (never served silently)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybrid import Client

SOURCE = Path(__file__).resolve().parents[2] / "datasets" / "msmarco-5k"
DOCS, BATCH = 120, 20
PROGRESS = rb"indexing msmarco:[^\r\n]*?\| *(\d+)/6 \["  # the demo's tqdm bar: batches done of 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-dataset")
    lines = (SOURCE / "corpus.jsonl").read_text().splitlines()[:DOCS]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "queries.jsonl").write_text("\n".join((SOURCE / "queries.jsonl").read_text().splitlines()[:2]) + "\n")
    return folder


def demo_command(data: Path, dataset: Path) -> list[str]:
    return [sys.executable, "-m", "hybrid", "demo", "--no-serve", "--data", str(data), "--dataset", str(dataset),
            "--batch-size", str(BATCH)]


def run_demo(data: Path, dataset: Path, *extra: str) -> str:
    done = subprocess.run(demo_command(data, dataset) + list(extra), capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def kill_midway(data: Path, dataset: Path) -> None:
    """Start a build and SIGKILL it once its progress bar shows two finished batches."""
    proc = subprocess.Popen(demo_command(data, dataset), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdin=subprocess.DEVNULL)
    seen, deadline = b"", time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            done = [int(n) for n in re.findall(PROGRESS, seen)]
            if done and max(done) >= 2:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert {int(n) for n in re.findall(PROGRESS, seen)} & {2, 3, 4, 5}, seen.decode(errors="replace")[-2000:]


@pytest.mark.slow
def test_an_interrupted_build_is_resumed_then_reused(tmp_path, dataset):
    data = tmp_path / "data"
    kill_midway(data, dataset)
    with Client(path=data) as client:
        partial = client.count("msmarco").count
    assert 0 < partial < DOCS

    out = run_demo(data, dataset)
    assert f"holds {partial} of {DOCS} documents" in out and "resuming" in out, out
    assert f"collection 'msmarco': {DOCS} points" in out, out

    out = run_demo(data, dataset)
    assert f"collection 'msmarco' is complete ({DOCS} documents): using it" in out, out
    assert "indexed" not in out


@pytest.mark.slow
def test_an_incompatible_collection_is_rebuilt(tmp_path, dataset):
    data = tmp_path / "data"
    with Client(path=data) as client:
        client.create_collection("msmarco", vectors_config={"dense": {"size": 8, "distance": "Dot"}})
    out = run_demo(data, dataset)
    assert "collection 'msmarco' is rebuilt: its vectors differ" in out, out
    assert f"collection 'msmarco': {DOCS} points" in out, out
