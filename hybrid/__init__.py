"""hybrid: a Qdrant-compatible hybrid search engine (dense HNSW, sparse, BM25, MaxSim, fusion).

`from hybrid import Client`: `Client()` in memory, `Client(path="./data")` persistent.
"""

from hybrid import models
from hybrid.client import Client
from hybrid.errors import HybridError

__all__ = ["Client", "HybridError", "models"]
