"""The HNSW graph as plain arrays: construction driver and persistence.

Levels follow the usual geometric law: level(p) = floor(-ln(u) / ln(m)), u ~ U(0, 1], so a
point reaches level l with probability m^-l. Level 0 keeps up to m0 = 2 m links per point,
upper levels up to m (Qdrant's hnsw_config semantics).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexes.dense import _build_kernels
from indexes.dense.quantization import Int8Codes

#: Points inserted per kernel call when building, so progress can be reported in between.
_CHUNK = 4096
#: Parallel build: points searched per thread in one batch, and the points inserted one by one
#: first (a batch's points cannot find each other by search, so the graph must be big first).
_PER_THREAD, _SERIAL_FIRST = 64, 4096
#: Cap on levels; at m = 2 a level this high needs more than 2^30 points.
_MAX_LEVEL = 30


@dataclass(frozen=True)
class HnswGraph:
    """links0[p] = [degree, neighbours...] (n, m0 + 1); upper[l - 1][upper_pos[p]] likewise
    (max_level, n_upper, m + 1) for points whose level >= l (upper_pos = -1 otherwise)."""

    links0: np.ndarray
    upper: np.ndarray
    upper_pos: np.ndarray
    entry: int
    max_level: int

    @property
    def size(self) -> int:
        return int(self.links0.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.links0.nbytes + self.upper.nbytes + self.upper_pos.nbytes)

    def save(self, directory: Path, suffix: str) -> dict[str, int]:
        """Write the arrays as `<name>.npy<suffix>`; returns the scalars for the metadata."""
        for name in ("links0", "upper", "upper_pos"):
            with open(directory / f"{name}.npy{suffix}", "wb") as handle:
                np.save(handle, getattr(self, name))
        return {"entry": self.entry, "max_level": self.max_level}

    @classmethod
    def load(cls, directory: Path, entry: int, max_level: int) -> "HnswGraph":
        arrays = {name: np.load(directory / f"{name}.npy") for name in ("links0", "upper", "upper_pos")}
        return cls(entry=entry, max_level=max_level, **arrays)


def random_levels(n: int, m: int, seed: int) -> np.ndarray:
    """Seeded level of every point: floor(-ln(u) / ln(m)) with u ~ U(0, 1]."""
    u = 1.0 - np.random.default_rng(seed).random(n)
    return np.minimum(np.floor(-np.log(u) / np.log(m)), _MAX_LEVEL).astype(np.int32)


def build_graph(vectors: np.ndarray, metric: int, m: int, ef_construct: int, seed: int,
                progress: bool = False, walk: Int8Codes | None = None,
                start: HnswGraph | None = None, threads: int = 1) -> HnswGraph:
    """Insert every row of `vectors` (a kernel storage view) one by one, in one thread.

    With `walk` the insertion beam walks those int8 codes (its candidates are rescored exactly).
    With `start`, a graph built with the same m and seed over the first rows of `vectors`, only
    the rows after them are inserted into it (a merge keeps the biggest graph it merges): levels
    are drawn from the same seeded stream, so the reused points keep theirs.
    With `threads` > 1, after the first _SERIAL_FIRST points, batches are inserted in two phases:
    beam search and neighbour selection run in parallel threads over the (then read-only) graph,
    each point also considering the batch points before it; then one thread links them in order.
    """
    n = vectors.shape[0]
    m0 = 2 * m
    levels = random_levels(n, m, seed)
    max_level = int(levels.max()) if n else 0
    upper_pos = np.full(n, -1, dtype=np.int32)
    high = np.flatnonzero(levels > 0)
    upper_pos[high] = np.arange(high.size, dtype=np.int32)
    links0 = np.zeros((n, m0 + 1), dtype=np.int32)
    dists0 = np.zeros((n, m0), dtype=np.float32)
    done0 = np.zeros(n, dtype=np.int32)
    upper = np.zeros((max_level, high.size, m + 1), dtype=np.int32)
    upper_dists = np.zeros((max_level, high.size, m), dtype=np.float32)
    upper_done = np.zeros((max_level, high.size), dtype=np.int32)
    # The tallest point goes first so the upper levels grow around a fixed entry point.
    first = int(np.argmax(levels)) if n else 0
    order = np.concatenate(([first], np.delete(np.arange(n), first))) if n else np.arange(0)
    state = np.array([-1, 0], dtype=np.int64)
    if start is not None and 0 < start.size <= n:
        order = np.arange(start.size, n)
        state[:] = start.entry, start.max_level
        _reuse(start, vectors, metric, links0, dists0, done0, upper, upper_dists, upper_done, high)
    visited = np.zeros(n + 1, dtype=np.uint16)
    cand_s = np.empty(max(n, 1), dtype=np.float32)
    cand_i = np.empty(max(n, 1), dtype=np.int32)
    walk_vectors, offset, step = vectors, 0.0, 0.0
    if walk is not None:
        walk_vectors, offset, step = walk.codes, walk.offset, walk.step
    bar = _progress_bar(n) if progress else None
    serial = order.size if threads <= 1 else max(_SERIAL_FIRST - (n - order.size), 0)
    for begin in range(0, serial, _CHUNK):
        chunk = order[begin:min(begin + _CHUNK, serial)]
        _build_kernels.insert_points(chunk, levels, vectors, walk_vectors, offset, step, metric, m,
                                     ef_construct, links0, dists0, done0, upper, upper_dists,
                                     upper_done, upper_pos, state, visited, cand_s, cand_i)
        if bar is not None:
            bar.update(chunk.size)
    if serial < order.size:
        arrays = (links0, dists0, done0, upper, upper_dists, upper_done, upper_pos, state)
        _insert_parallel(order[serial:], levels, vectors, walk_vectors, offset, step, metric, m,
                         ef_construct, arrays, threads, bar)
    if bar is not None:
        bar.close()
    entry = int(state[0]) if n else -1
    return HnswGraph(links0=links0, upper=upper, upper_pos=upper_pos, entry=entry, max_level=max_level)


def _insert_parallel(order: np.ndarray, levels: np.ndarray, vectors: np.ndarray, walk_vectors: np.ndarray,
                     offset: float, step: float, metric: int, m: int, ef_construct: int, arrays: tuple,
                     threads: int, bar) -> None:
    """Insert `order` in batches of threads * _PER_THREAD points (see `build_graph`)."""
    links0, dists0, done0, upper, upper_dists, upper_done, upper_pos, state = arrays
    n = vectors.shape[0]
    batch = threads * _PER_THREAD
    width = 2 * m + 1  # selected neighbours per level (m0 = 2 m on level 0)
    found_s = np.zeros((batch, upper.shape[0] + 1, width), dtype=np.float32)
    found_i = np.zeros((batch, upper.shape[0] + 1, width), dtype=np.int32)
    found_n = np.zeros((batch, upper.shape[0] + 1), dtype=np.int64)
    scratch = [(np.zeros(n + 1, dtype=np.uint16), np.empty(n, dtype=np.float32), np.empty(n, dtype=np.int32))
               for _ in range(threads)]

    def select(t: int, points: np.ndarray, first: int, count: int) -> None:
        visited, cand_s, cand_i = scratch[t]
        _build_kernels.find_neighbours(points, first, count, levels, vectors, walk_vectors, offset, step, metric,
                                       m, ef_construct, links0, upper, upper_pos, int(state[0]), int(state[1]),
                                       visited, cand_s, cand_i, found_s, found_i, found_n)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hnsw-build") as pool:
        for begin in range(0, order.size, batch):
            points = order[begin:begin + batch]
            found_n[:] = 0
            cuts = np.linspace(0, points.size, threads + 1).astype(int)
            list(pool.map(select, range(threads), [points] * threads, cuts[:-1], np.diff(cuts)))
            _build_kernels.link_batch(points, levels, vectors, metric, m, links0, dists0, done0, upper,
                                      upper_dists, upper_done, upper_pos, state, found_s, found_i, found_n)
            if bar is not None:
                bar.update(points.size)


def _reuse(start: HnswGraph, vectors: np.ndarray, metric: int, links0: np.ndarray, dists0: np.ndarray,
           done0: np.ndarray, upper: np.ndarray, upper_dists: np.ndarray, upper_done: np.ndarray,
           high: np.ndarray) -> None:
    """Copy `start`'s links into the new arrays (its points are the first rows, its upper rows the
    first upper rows) and score them, so insertion continues where its build stopped."""
    n0 = start.size
    links0[:n0] = start.links0
    _build_kernels.link_scores(vectors, metric, links0[:n0], np.arange(n0, dtype=np.int64), dists0, done0)
    levels, rows = start.upper.shape[0], start.upper.shape[1]
    owners = high[:rows].astype(np.int64)
    for level in range(levels):
        upper[level, :rows] = start.upper[level]
        _build_kernels.link_scores(vectors, metric, upper[level, :rows], owners, upper_dists[level],
                                   upper_done[level])


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="hnsw build", unit="pt")
