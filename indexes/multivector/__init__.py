"""Multivectors (ColBERT-style token matrices) scored with MaxSim: storage, scoring, index.

Scoring functions live in `indexes.multivector.maxsim` (`maxsim`, `maxsim_all`,
`normalize_tokens`); they are not re-exported here so the submodule name stays unshadowed.
"""

from indexes.multivector.index import MultiVectorConfig, MultiVectorIndex
from indexes.multivector.store import MultiVectorStore

__all__ = ["MultiVectorConfig", "MultiVectorIndex", "MultiVectorStore"]
