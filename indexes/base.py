"""Protocols shared by every index kind.

Inside a segment everything is addressed by *offset* (a dense 0..n-1 integer); ids, payload
JSON and wire models are attached only to the final top-k by the engine. Scores are always
higher-is-better inside (distances are negated) and converted once at the API edge.

`allowed` is a boolean numpy array of length `n` (one flag per offset): the engine folds the
deleted bitset and the evaluated filter into it, so an index never needs to know about either.
`None` means every offset is allowed.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

#: Internal distance names (Qdrant's spelling). Cosine vectors are stored normalised, so its
#: score is a dot product; Euclid and Manhattan scores are negated distances.
DISTANCES = ("Cosine", "Dot", "Euclid", "Manhattan")


class Hits(NamedTuple):
    """Top-k result of one index search: offsets sorted by descending score."""

    offsets: np.ndarray  # int64
    scores: np.ndarray  # float32, higher is better

    @staticmethod
    def empty() -> "Hits":
        return Hits(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))


@runtime_checkable
class VectorIndex(Protocol):
    """A searchable index over one vector name of one segment (dense, sparse, multivector, text)."""

    def search(self, query: Any, limit: int, allowed: np.ndarray | None = None, **params: Any) -> Hits:
        """Best `limit` offsets among `allowed` for `query`, by descending score."""

    def score(self, query: Any, offsets: np.ndarray) -> np.ndarray:
        """Exact scores of `query` against the given offsets (float32, same order)."""


@runtime_checkable
class PayloadIndex(Protocol):
    """Turns one field condition into a bitset without touching payload JSON."""

    def match(self, condition: Any) -> np.ndarray:
        """Boolean array over offsets: True where the condition holds."""

    def cardinality(self, condition: Any) -> tuple[int, int, int]:
        """(min, expected, max) number of offsets matching `condition`."""


def top_k(scores: np.ndarray, limit: int, allowed: np.ndarray | None = None, ties: bool = False) -> Hits:
    """Exact top-k over a dense score array: argpartition, then sort only the k winners.

    Ties are broken by lower offset so results are deterministic. With `ties=True` every entry
    tied with the k-th score is returned too (so possibly more than `limit`): a caller that
    breaks ties by something else (the engine: point id) can then cut exactly.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if allowed is not None:
        candidates = np.flatnonzero(allowed)
        cand_scores = scores[candidates]
    else:
        candidates = None
        cand_scores = scores
    n = cand_scores.shape[0]
    if n == 0 or limit <= 0:
        return Hits.empty()
    if limit < n:
        part = np.argpartition(-cand_scores, limit - 1)[:limit]
        if ties:
            part = np.flatnonzero(cand_scores >= cand_scores[part].min())
    else:
        part = np.arange(n)
    order = np.lexsort((part, -cand_scores[part]))
    chosen = part[order]
    offsets = chosen if candidates is None else candidates[chosen]
    return Hits(offsets.astype(np.int64), cand_scores[chosen])


def concatenated_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Row numbers of [starts[0], ends[0]) ++ [starts[1], ends[1]) ++ ... (vectorised): how
    ragged storage (sparse rows, token matrices) gathers the rows of many offsets at once."""
    lengths = np.asarray(ends, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first_of_range = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, dtype=np.int64) - first_of_range, lengths) + np.arange(total, dtype=np.int64)
