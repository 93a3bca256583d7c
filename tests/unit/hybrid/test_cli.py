"""The command line as a user meets it: every command answers --help with all its options, and
common mistakes print one clear line and exit 2, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from hybrid import Client


def hybrid(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hybrid", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("command, options", [
    ([], ["demo", "serve", "check", "eval"]),
    (["check"], ["--data", "--upgrade"]),
    (["demo"], ["--data", "--dataset", "--rebuild", "--batch-size", "--no-serve", "--port"]),
    (["serve"], ["--data", "--host", "--port", "--api-key", "--read-only-api-key", "--threads", "--log-level",
                 "--no-warm-up"]),
    (["eval"], ["beir"]),
    (["eval", "beir"], ["--dataset", "--plans", "--cache", "--no-cache", "--tune"]),
])
def test_every_command_answers_help(command, options):
    done = hybrid(*command, "--help")
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, (command, option)


def _one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "error" in last and all(word in last for word in words), last


def test_port_out_of_range():
    _one_line_error(hybrid("serve", "--port", "70000"), "--port", "70000")
    _one_line_error(hybrid("serve", env={"HYBRID_PORT": "65536"}), "port", "65536")
    _one_line_error(hybrid("serve", env={"HYBRID_PORT": "six"}), "HYBRID_PORT", "six")


def test_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _one_line_error(hybrid("serve", "--port", str(port), "--no-warm-up"), str(port), "in use")


def test_data_folder_in_use(tmp_path):
    client = Client(path=tmp_path / "data")
    try:
        _one_line_error(hybrid("serve", "--data", str(tmp_path / "data"), "--port", "0", "--no-warm-up"),
                        "already in use")
    finally:
        client.close()


def test_missing_dataset_fails_before_writing(tmp_path):
    _one_line_error(hybrid("demo", "--no-serve", "--data", str(tmp_path / "data"), "--dataset", str(tmp_path / "nope")),
                    "corpus.jsonl", "not found")
    assert not (tmp_path / "data").exists()


def test_eval_with_a_missing_dataset():
    done = hybrid("eval", "beir", "--dataset", "/nonexistent-dataset", "--no-progress")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nonexistent-dataset" in done.stderr
