"""Dense vector ANN index: an HNSW graph built and searched by numba kernels.

- `hnsw.HnswIndex`: build / search / search_batch / score / save / load, filter strategy
  (exact scan, ACORN-style two-hop walk or routed walk, see `HnswIndex.prefers_exact`).
- `graph`: the graph as arrays (level 0 rows of 2m links, upper levels of m) and the
  construction driver; `_build_kernels`: insertion with the neighbour heuristic.
- `quantization`: int8 scalar codes walked instead of the originals, rescored exactly.
- `storage`: float32 / float16 / uint8 originals, in RAM or read from a memmap's file.
- `_kernels`, `_intrinsic_kernels`: the search loop, heaps, prefetch and widening loads.
"""

from indexes.dense.hnsw import HnswIndex, HnswParams
from indexes.dense.quantization import ScalarQuantization

__all__ = ["HnswIndex", "HnswParams", "ScalarQuantization"]
