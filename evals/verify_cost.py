"""``python -m evals.verify_cost [--points 200000] [--dim 384] [--on-disk]``: what verifying
every segment checksum costs when a collection opens.

Builds one sealed segment of random float32 vectors (no HNSW: only the storage is measured),
then times `Client(path)` opening it with checksum verification and with verification
skipped, each on a warm page cache and after dropping the files from it (posix_fadvise
DONTNEED: the cold-start case, bounded by the disk's read speed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from hybrid import Client
from hybrid.storage import checksums


def _drop_cache(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _open_seconds(root: Path, cold: bool) -> float:
    if cold:
        _drop_cache(root)
    start = time.perf_counter()
    Client(path=root).close()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.verify_cost")
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--on-disk", action="store_true", help="vectors memory-mapped (on_disk)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        client = Client(path=root)
        client.create_collection("c", vectors_config={"size": args.dim, "distance": "Dot", "on_disk": args.on_disk},
                                 hnsw_config={"full_scan_threshold": 10**9},
                                 optimizers_config={"indexing_threshold": 0})
        rng = np.random.default_rng(0)
        for start in range(0, args.points, 20_000):
            n = min(20_000, args.points - start)
            client.upsert("c", {"ids": list(range(start, start + n)),
                                "vectors": rng.normal(size=(n, args.dim)).astype(np.float32).tolist()})
        client.collection("c").optimizer.optimize()
        client.close()
        size = sum(p.stat().st_size for p in (root / "collections/c/segments").rglob("*") if p.is_file())
        rows = []
        for verify in (True, False):
            original = checksums.verify_folder
            if not verify:
                checksums.verify_folder = lambda folder: None
                import hybrid.segment as segment
                segment.verify_folder = checksums.verify_folder
            try:
                _open_seconds(root, cold=False)  # warm-up
                warm = min(_open_seconds(root, cold=False) for _ in range(3))
                cold = min(_open_seconds(root, cold=True) for _ in range(2))
            finally:
                checksums.verify_folder = original
                import hybrid.segment as segment
                segment.verify_folder = original
            rows.append((verify, warm, cold))
        print(f"{args.points} x {args.dim} float32, on_disk={args.on_disk}: segment files {size / 2**20:.0f} MiB")
        for verify, warm, cold in rows:
            print(f"  open {'with' if verify else 'without'} checksum verification: warm cache {warm:.3f} s, "
                  f"cold cache {cold:.3f} s")


if __name__ == "__main__":
    main()
