"""HNSW index over the dense vectors of one sealed segment.

Scores are the engine's internal, higher-is-better similarities (as `indexes.plain`):
Cosine/Dot -> dot product (Cosine rows arrive normalised; queries are normalised here),
Euclid -> -|q - v|_2^2 (squared; the API edge takes the root), Manhattan -> -|q - v|_1.

Filtering: `allowed` (one bool per offset; the engine folds deletions and filters into it)
is applied inside the graph walk. With A of n offsets allowed (share A / n):
  * TWO_HOP_SHARE[0] <= A / n < TWO_HOP_SHARE[1]: ACORN-style walk that never enqueues a
    disallowed node but scores the allowed neighbours of its disallowed neighbours. It costs
    about TWO_HOP_COST_PER_EF * ef row scores whatever the share; its recall drops when the
    allowed subgraph gets too sparse, hence the lower bound, and above the upper one a routed
    walk is cheaper;
  * otherwise a routed walk: every node is a stepping stone, only allowed ones are results;
    it scores about ROUTE_COST_PER_EF * ef * n / A rows;
  * an exact scan of the allowed rows (A row scores) when that is cheaper than the walk
    (`prefers_exact`).
Constants were measured on 200k x 384 clustered vectors, m = 16.
"""

from __future__ import annotations

import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexes.base import DISTANCES, Hits, top_k
from indexes.dense import _kernels
from indexes.dense.graph import HnswGraph, build_graph
from indexes.dense.quantization import Int8Codes, ScalarQuantization
from indexes.dense.storage import Originals, storage_view

_METRICS = {"Cosine": _kernels.DOT, "Dot": _kernels.DOT, "Euclid": _kernels.L2,
            "Manhattan": _kernels.L1}
_FORMAT = 1
_NO_FILTER = np.ones((1, 1), dtype=np.bool_)

#: Cost of a routed walk per unit of ef and of n / A, in exact row scores (module docstring).
ROUTE_COST_PER_EF = 14.0
#: Cost of a two-hop walk per unit of ef, in exact row scores (bridges' links included).
TWO_HOP_COST_PER_EF = 55.0
#: Allowed shares [low, high) walked ACORN-style (two-hop).
TWO_HOP_SHARE = (0.08, 0.3)
#: Queries per thread below which a batch is not split: a batch of fewer runs in the caller.
BATCH_PER_THREAD = 16
#: Threads a batch's graph walks spread over (the kernel releases the GIL): the usable cores.
SEARCH_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="hnsw-batch")
        return _pool


@dataclass(frozen=True)
class HnswParams:
    """Graph construction parameters (Qdrant's hnsw_config).

    m: links per point on upper levels; level 0 keeps m0 = 2 m. Larger m raises recall on
        hard data at 4 (2 m + 1) bytes per point and a slower build.
    ef_construct: beam width while inserting; larger builds a better graph, more slowly.
        It is also the default search ef (as in Qdrant).
    seed: seeds the level draw, so builds are reproducible.
    """

    m: int = 16
    ef_construct: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.m, int) or self.m < 2:
            raise ValueError(f"m must be an integer >= 2, got {self.m!r}")
        if not isinstance(self.ef_construct, int) or self.ef_construct < 1:
            raise ValueError(f"ef_construct must be an integer >= 1, got {self.ef_construct!r}")


class _Scratch:
    """Per-thread search buffers: tagged visited set and candidate heap."""

    __slots__ = ("visited", "cand_s", "cand_i")

    def __init__(self, n: int, capacity: int) -> None:
        self.visited = np.zeros(n + 1, dtype=np.uint16)
        self.cand_s = np.empty(capacity, dtype=np.float32)
        self.cand_i = np.empty(capacity, dtype=np.int32)


class HnswIndex:
    """Approximate nearest neighbours over `vectors` (rows = offsets) with an HNSW graph."""

    def __init__(self, vectors: np.ndarray, distance: str, params: HnswParams, graph: HnswGraph,
                 codes: Int8Codes | None, quantization: ScalarQuantization | None) -> None:
        self.distance = distance
        self.params = params
        self.quantization = quantization
        self.vectors = vectors
        self.graph = graph
        self.codes = codes
        self._metric = _METRICS[distance]
        self._normalize = distance == "Cosine"
        self._originals = Originals(vectors)
        self._scratch: list[_Scratch] = []
        self._capacity = min(max(self.size, 1), 1 << 15)

    # ---- construction and persistence ------------------------------------------------------

    @classmethod
    def build(cls, vectors: np.ndarray, distance: str, params: HnswParams,
              quantization: ScalarQuantization | None = None, progress: bool = False,
              extend: "HnswIndex | None" = None, threads: int = 1) -> "HnswIndex":
        """Build the graph over `vectors` ((n, dim) float32, float16 or uint8; np.memmap ok).

        `extend`: an index (same distance and params) whose vectors are the first rows of
        `vectors`; its graph is kept and only the other rows are inserted. `threads`: beam
        searches of the insertion run on that many threads (see `build_graph`)."""
        _check_distance(distance)
        if not isinstance(params, HnswParams):
            raise TypeError(f"params must be HnswParams, got {type(params).__name__}")
        if quantization is not None and not isinstance(quantization, ScalarQuantization):
            raise TypeError(f"quantization must be ScalarQuantization or None, got {type(quantization).__name__}")
        storage = storage_view(vectors)
        codes = Int8Codes.fit(vectors, quantization, params.seed) if quantization else None
        start = None
        if extend is not None and extend.distance == distance and extend.params == params \
                and extend.dim == vectors.shape[1] and extend.size <= vectors.shape[0]:
            start = extend.graph
        graph = build_graph(storage, _METRICS[distance], params.m, params.ef_construct,
                            params.seed, progress, walk=codes, start=start, threads=threads)
        return cls(vectors, distance, params, graph, codes, quantization)

    def save(self, directory: Path) -> None:
        """Write graph, codes and metadata; each file is written then renamed, metadata last."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "distance": self.distance, "m": self.params.m,
                "ef_construct": self.params.ef_construct, "seed": self.params.seed,
                "size": self.size, "dim": self.dim, "dtype": str(self.vectors.dtype),
                **self.graph.save(directory, ".tmp")}
        names = ["links0.npy", "upper.npy", "upper_pos.npy"]
        if self.codes is not None:
            with open(directory / "codes.npy.tmp", "wb") as handle:
                np.save(handle, self.codes.codes)
            names.append("codes.npy")
            meta["quantization"] = {"quantile": self.quantization.quantile,
                                    "offset": self.codes.offset, "step": self.codes.step}
        (directory / "meta.json.tmp").write_text(json.dumps(meta, indent=1))
        for name in names + ["meta.json"]:
            _durable_rename(directory / f"{name}.tmp", directory / name)

    @classmethod
    def load(cls, directory: Path, vectors: np.ndarray) -> "HnswIndex":
        """Open a saved index over the same `vectors` (no rebuild), then compile the kernels."""
        directory = Path(directory)
        meta = json.loads((directory / "meta.json").read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"unsupported hnsw format in {directory}: {meta.get('format')!r}")
        if vectors.shape != (meta["size"], meta["dim"]) or str(vectors.dtype) != meta["dtype"]:
            raise ValueError(f"vectors {vectors.shape} {vectors.dtype} do not match the saved "
                             f"index ({meta['size']}, {meta['dim']}) {meta['dtype']}")
        params = HnswParams(m=meta["m"], ef_construct=meta["ef_construct"], seed=meta["seed"])
        graph = HnswGraph.load(directory, meta["entry"], meta["max_level"])
        codes = quantization = None
        if "quantization" in meta:
            q = meta["quantization"]
            quantization = ScalarQuantization(quantile=q["quantile"])
            codes = Int8Codes(np.load(directory / "codes.npy"), q["offset"], q["step"])
        index = cls(vectors, meta["distance"], params, graph, codes, quantization)
        index.warm_up()
        return index

    def warm_up(self) -> None:
        """Compile (or load from the numba cache) every kernel this index may call.

        Runs on a one-point stand-in with the same array types, so on-disk vectors are not
        touched (a mapped read would pull a whole huge page into the resident set).
        """
        graph = HnswGraph(links0=np.zeros((1, self.graph.links0.shape[1]), np.int32),
                          upper=np.zeros((0, 0, self.params.m + 1), np.int32),
                          upper_pos=np.full(1, -1, np.int32), entry=0, max_level=0)
        codes = None if self.codes is None else Int8Codes(np.zeros((1, self.dim), np.int8), 0.0, 1.0)
        stand_in = HnswIndex(np.zeros((1, self.dim), dtype=self.vectors.dtype), self.distance,
                             self.params, graph, codes, self.quantization)
        probe = np.ones(self.dim, dtype=np.float32)
        stand_in.search(probe, 1, ef=1)
        stand_in.search(probe, 1, ef=1, ignore_quantization=True)
        stand_in.score(probe, np.zeros(1, dtype=np.int64))

    # ---- properties ------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the index itself: graph and int8 codes (not the original vectors)."""
        return self.graph.nbytes + (self.codes.codes.nbytes if self.codes is not None else 0)

    def prefers_exact(self, n_allowed: int, ef: int | None = None) -> bool:
        """Planner hook: is scanning `n_allowed` rows exactly cheaper than a filtered walk?
        (See the module docstring; ef defaults to ef_construct.)"""
        return self._strategy(n_allowed, ef or self.params.ef_construct)[1]

    def _strategy(self, n_allowed: int, ef: int) -> tuple[int, bool]:
        """(walk mode, whether an exact scan is cheaper) for one query with `n_allowed` rows."""
        if n_allowed >= self.size:
            return _kernels.MODE_ALL, False
        share = n_allowed / self.size
        if TWO_HOP_SHARE[0] <= share < TWO_HOP_SHARE[1]:
            return _kernels.MODE_TWO_HOP, n_allowed <= TWO_HOP_COST_PER_EF * ef
        return _kernels.MODE_ROUTE, n_allowed <= ROUTE_COST_PER_EF * ef / max(share, 1e-12)

    # ---- queries ---------------------------------------------------------------------------

    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None,
               ef: int | None = None, rescore: bool = True, oversampling: float = 1.0,
               ignore_quantization: bool = False, allowed_count: int | None = None) -> Hits:
        """Best `limit` allowed offsets for one query, by descending score.

        With int8 quantization the walk scores codes, then the best ceil(limit * oversampling)
        are rescored with the original vectors (unless `rescore` is False). `allowed_count`
        (the number of True in `allowed`, when the caller knows it) saves a count.
        """
        query = np.asarray(query)
        if query.ndim != 1:
            raise ValueError(f"query must be one vector, got shape {query.shape}")
        return self.search_batch(query[None], limit, allowed, ef, rescore, oversampling,
                                 ignore_quantization, allowed_count)[0]

    def search_batch(self, queries: np.ndarray, limit: int, allowed: np.ndarray | None = None,
                     ef: int | None = None, rescore: bool = True, oversampling: float = 1.0,
                     ignore_quantization: bool = False, allowed_count: int | None = None) -> list[Hits]:
        """`search` for each row of `queries` in one kernel call; `allowed` is (n,) shared by
        every query or (n_queries, n) one row per query (`allowed_count`: of a shared row)."""
        queries = self._check_queries(queries)
        limit, ef = _check_limit(limit), _check_ef(ef, self.params.ef_construct)
        allowed = self._check_allowed(allowed, queries.shape[0])
        if oversampling <= 0:
            raise ValueError(f"oversampling must be > 0, got {oversampling}")
        nq = queries.shape[0]
        if self.size == 0 or limit == 0:
            return [Hits.empty() for _ in range(nq)]
        if allowed is None:
            return self._walk(queries, np.zeros(nq, dtype=np.int8), _NO_FILTER, limit, ef,
                              rescore, oversampling, ignore_quantization)
        if allowed_count is not None and allowed.shape[0] == 1:
            counts = [int(allowed_count)]
        else:
            counts = np.count_nonzero(allowed, axis=1).tolist()
        plans = [self._strategy(count, max(ef, limit)) for count in counts]  # one per query row
        modes = np.array([mode for mode, _ in plans] * (nq if len(plans) == 1 else 1), dtype=np.int8)
        exact = np.array([scan for _, scan in plans] * (nq if len(plans) == 1 else 1), dtype=bool)
        if not exact.any():
            return self._walk(queries, modes, allowed, limit, ef, rescore, oversampling,
                              ignore_quantization)
        hits: list[Hits] = [Hits.empty()] * nq
        walked = np.flatnonzero(~exact)
        if walked.size:
            rows = allowed if allowed.shape[0] == 1 else allowed[walked]
            found = self._walk(queries[walked], modes[walked], rows, limit, ef, rescore,
                               oversampling, ignore_quantization)
            for q, hit in zip(walked, found):
                hits[q] = hit
        shared = np.flatnonzero(allowed[0]) if allowed.shape[0] == 1 else None
        for q in np.flatnonzero(exact):
            offsets = shared if shared is not None else np.flatnonzero(allowed[q])
            scores = self._exact_scores(self._unit(queries[q]), offsets)
            best = top_k(scores, limit)
            hits[q] = Hits(offsets[best.offsets], best.scores)
        return hits

    def search_offsets(self, query: np.ndarray, limit: int, offsets: np.ndarray, prepared: bool = False) -> Hits:
        """Exact best `limit` among `offsets` (int64, in range, sorted for ties by offset), plus
        every offset tied with the limit-th best: the scan a filter with few matches takes,
        scored and selected in one kernel call. `prepared`: the caller vouches that `query` is
        float32 of the index's dimension and, for Cosine, unit length (skips the checks)."""
        if not prepared:
            query = self._unit(self._check_queries(np.asarray(query)[None])[0])
        limit = _check_limit(limit)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        n = offsets.shape[0]
        out_ids, out_scores = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float32)
        originals = self._originals
        count = _kernels.top_rows(query, originals.view, originals.fd, originals.file_start, self._metric,
                                  offsets, limit, np.empty(n, dtype=np.float32), out_ids, out_scores)
        return Hits(out_ids[:count], out_scores[:count])

    def score(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Exact scores of `query` against `offsets` with the original vectors (float32)."""
        query = self._check_queries(np.asarray(query)[None])[0]
        offsets = np.asarray(offsets)
        if offsets.ndim != 1 or (offsets.size and offsets.dtype.kind not in "iu"):
            raise TypeError("offsets must be a 1-D integer array")
        if offsets.size and (offsets.min() < 0 or offsets.max() >= self.size):
            raise ValueError(f"offsets must lie in [0, {self.size})")
        return self._exact_scores(self._unit(query), offsets.astype(np.int64))

    # ---- internals -------------------------------------------------------------------------

    def _walk(self, queries: np.ndarray, modes: np.ndarray, allowed: np.ndarray, limit: int,
              ef: int, rescore: bool, oversampling: float, ignore_quantization: bool) -> list[Hits]:
        """Graph search of every query (query preparation and rescoring run in the kernel)."""
        keep = 0
        if self.codes is not None and not ignore_quantization:
            vectors, offset, step = self.codes.codes, self.codes.offset, self.codes.step
            if rescore:
                keep = max(limit, math.ceil(limit * oversampling))
        else:
            vectors, offset, step = self._originals.view, 0.0, 0.0
        nq = queries.shape[0]
        out_ids = np.empty((nq, limit), dtype=np.int64)
        out_scores = np.empty((nq, limit), dtype=np.float32)
        counts = np.empty(nq, dtype=np.int64)
        graph, originals = self.graph, self._originals
        ef = max(ef, keep, limit)

        def walk(lo: int, hi: int) -> None:  # queries lo..hi-1, with scratch buffers of its own
            rows = allowed if allowed.shape[0] == 1 else allowed[lo:hi]
            scratch = self._scratch.pop() if self._scratch else _Scratch(self.size, self._capacity)
            while _kernels.search_batch(
                    queries[lo:hi], self._normalize, offset, step, vectors, originals.view, originals.fd,
                    originals.file_start, self._metric, graph.links0, graph.upper, graph.upper_pos,
                    graph.entry, graph.max_level, ef, keep, rows, modes[lo:hi],
                    scratch.visited, scratch.cand_s, scratch.cand_i, out_ids[lo:hi], out_scores[lo:hi],
                    counts[lo:hi]) == _kernels.OVERFLOW:
                self._capacity = min(self.size, 2 * scratch.cand_s.shape[0])
                scratch = _Scratch(self.size, self._capacity)
            self._scratch.append(scratch)

        threads = min(SEARCH_THREADS, nq // BATCH_PER_THREAD)
        if threads <= 1:
            walk(0, nq)
        else:  # a batch spreads over the cores: each query's walk is the same wherever it runs
            bounds = np.linspace(0, nq, threads + 1).astype(int).tolist()
            for done in [_search_pool().submit(walk, lo, hi) for lo, hi in zip(bounds, bounds[1:])]:
                done.result()
        return [Hits(out_ids[q, :count], out_scores[q, :count]) for q, count in enumerate(counts.tolist())]

    def _exact_scores(self, query: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        out = np.empty(offsets.shape[0], dtype=np.float32)
        originals = self._originals
        _kernels.score_rows(query, originals.view, originals.fd, originals.file_start,
                            self._metric, offsets, out)
        return out

    def _check_queries(self, queries: np.ndarray) -> np.ndarray:
        queries = np.asarray(queries)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"query must have dimension {self.dim}, got shape {queries.shape}")
        if queries.dtype.kind not in "fiu":
            raise TypeError(f"query must be numeric, got {queries.dtype}")
        return np.ascontiguousarray(queries, dtype=np.float32)

    def _unit(self, query: np.ndarray) -> np.ndarray:
        """The query as the exact path scores it (unit length for Cosine)."""
        if self._normalize:
            norm = np.float32(np.sqrt(query @ query))
            return query / norm if norm > 0 else query
        return query

    def _check_allowed(self, allowed: np.ndarray | None, nq: int) -> np.ndarray | None:
        if allowed is None:
            return None
        allowed = np.asarray(allowed)
        if allowed.dtype != np.bool_:
            raise TypeError(f"allowed must be a boolean array, got {allowed.dtype}")
        if allowed.ndim == 1:
            allowed = allowed[None]
        if allowed.ndim != 2 or allowed.shape[1] != self.size or allowed.shape[0] not in (1, nq):
            raise ValueError(f"allowed must have shape ({self.size},) or ({nq}, {self.size}), "
                             f"got {allowed.shape}")
        return np.ascontiguousarray(allowed)


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    return int(limit)


def _check_ef(ef: int | None, default: int) -> int:
    if ef is None:
        return default
    if isinstance(ef, bool) or not isinstance(ef, (int, np.integer)) or ef < 1:
        raise ValueError(f"ef must be a positive integer, got {ef!r}")
    return int(ef)


def _durable_rename(source: Path, target: Path) -> None:
    with open(source, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(source, target)
