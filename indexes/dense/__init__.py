"""Dense vector ANN index: HNSW graph in numba with optional int8 scalar quantization."""

from indexes.dense.hnsw import HnswIndex, HnswParams
from indexes.dense.quantization import ScalarQuantization

__all__ = ["HnswIndex", "HnswParams", "ScalarQuantization"]
