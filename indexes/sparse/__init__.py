"""Sparse vectors: inverted indexes (sealed and appendable), Qdrant's IDF, BM25 inference."""

from indexes.sparse.bm25 import Bm25Encoder
from indexes.sparse.growable import GrowableSparseIndex
from indexes.sparse.index import SparseIndex
from indexes.sparse.vectors import idf, validate_sparse

__all__ = ["Bm25Encoder", "GrowableSparseIndex", "SparseIndex", "idf", "validate_sparse"]
