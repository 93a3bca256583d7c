"""Vector scorers: one float32 score per (segment, offset), vectorised per segment.

A scorer answers `score(seg, offsets) -> (scores, keep)`; `keep` drops points the operation
does not return (a sparse nearest query only returns points sharing a dimension with it).
Similarities are the store's internal ones, i.e. Qdrant's raw scores: dot products (Cosine
vectors are stored normalised), negated squared L2 (Euclid), negated L1 (Manhattan), MaxSim
for multivectors, sparse dot products (0 without overlap).

- `NearestScorer`: the similarity to one prepared query;
- `ExampleScorer`: recommend `best_score` / `sum_scores`, discover, context and relevance
  feedback, built from one similarity row per example (formulas in `fusion.recommend`).

`score_candidates` rescores a candidate list; `score_collection` scores every allowed point
of every segment and keeps a top-k per segment, so memory stays O(segment) per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Protocol

import numpy as np

from hybrid.query.search import Candidates, filter_mask
from hybrid.segment import Segment
from indexes.base import concatenated_ranges

if TYPE_CHECKING:
    from hybrid.view import CollectionView


class Scorer(Protocol):
    using: str

    def score(self, seg: Segment, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class NearestScorer:
    using: str
    query: Any  # prepared: dense (d,), multivector (n, d) or sparse (indices, values)
    kind: str

    def score(self, seg: Segment, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        store = seg.vectors[self.using]
        scores = np.asarray(store.score(self.query, offsets), dtype=np.float32)
        if self.kind != "sparse":
            return scores, np.ones(offsets.size, dtype=bool)
        return scores, sparse_overlap(store, offsets, self.query[0])


@dataclass
class ExampleScorer:
    """Scores from example similarities; `method` is one of best_score, sum_scores,
    discover, context, feedback (see `fusion.recommend` for each formula)."""

    using: str
    method: str
    positive: list  # prepared queries (pairs: positives of each pair; discover/feedback: examples)
    negative: list
    target: Any = None
    feedback_scores: Optional[list] = None
    coefficients: tuple = (1.0, 1.0, 1.0)

    def score(self, seg: Segment, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from fusion import recommend as r

        store = seg.vectors[self.using]

        def sims(queries: list) -> np.ndarray:
            rows = [np.asarray(store.score(q, offsets), dtype=np.float32) for q in queries]
            return np.stack(rows) if rows else np.empty((0, offsets.size), dtype=np.float32)

        if self.method == "best_score":
            scores = r.best_score(sims(self.positive), sims(self.negative))
        elif self.method == "sum_scores":
            scores = r.sum_scores(sims(self.positive), sims(self.negative))
        elif self.method == "context":
            scores = r.context_scores(sims(self.positive), sims(self.negative))
        elif self.method == "discover":
            target = sims([self.target])[0]
            scores = r.discovery_scores(target, sims(self.positive), sims(self.negative))
        else:
            target = sims([self.target])[0]
            scores = r.naive_feedback_scores(target, sims(self.positive), self.feedback_scores, *self.coefficients)
        return np.asarray(scores, dtype=np.float32), np.ones(offsets.size, dtype=bool)


def sparse_overlap(store: Any, offsets: np.ndarray, query_indices: np.ndarray) -> np.ndarray:
    """bool per offset: its sparse vector shares at least one dimension with the query."""
    starts, ends = store.starts[offsets], store.ends[offsets]
    lengths = ends - starts
    rows = row_ranges(starts, lengths)
    hit = np.isin(store.flat[0][rows], query_indices)
    owner = np.repeat(np.arange(offsets.size), lengths)
    return np.bincount(owner[hit], minlength=offsets.size) > 0


def has_vector(store: Any, offsets: np.ndarray) -> np.ndarray:
    """bool per offset: the point has this vector (ragged stores: a non-empty row), without
    materialising the store-wide mask."""
    if hasattr(store, "ends"):
        return store.ends[offsets] > store.starts[offsets]
    return store.present[offsets]


def row_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + n) for every (s, n), vectorised."""
    starts = np.asarray(starts, dtype=np.int64)
    return concatenated_ranges(starts, starts + np.asarray(lengths, dtype=np.int64))


def score_candidates(cand: Candidates, scorer: Scorer) -> Candidates:
    """`cand` (in its order) with the scorer's scores; points without the vector are dropped."""
    scores = np.zeros(len(cand), dtype=np.float32)
    keep = np.zeros(len(cand), dtype=bool)
    for i, seg in enumerate(cand.segs):
        rows = np.flatnonzero(cand.seg == i)
        offs = cand.off[rows]
        has = has_vector(seg.vectors[scorer.using], offs)
        if has.any():
            got, kept = scorer.score(seg, offs[has])
            scores[rows[has]] = got
            keep[rows[has]] = kept
    out = cand.take(np.flatnonzero(keep))
    out.score = scores[keep]
    return out


def best_with_ties(scores: np.ndarray, keep: np.ndarray, limit: int) -> np.ndarray:
    """Indexes of the kept scores that can make a top `limit`: all >= the limit-th best.

    Ties at the cut are all kept, so the caller's final ranking breaks them by point id.
    """
    index = np.flatnonzero(keep)
    if limit <= 0:
        return index[:0]
    if index.size > limit:
        kth = np.partition(-scores[index], limit - 1)[limit - 1]
        index = index[-scores[index] <= kth]
    return index


def score_collection(c: "CollectionView", scorer: Scorer, limit: int, flt: Any) -> Candidates:
    """Top `limit` points of the whole collection (live, matching `flt`, having the vector)."""
    segments = c.segments
    segs, seg_ix, offs, scores = [], [], [], []
    for seg in segments:
        if seg.size == 0:
            continue
        allowed = filter_mask(seg, flt) & seg.vectors[scorer.using].present[: seg.size]
        offsets = np.flatnonzero(allowed)
        if offsets.size == 0:
            continue
        got, kept = scorer.score(seg, offsets)
        best = best_with_ties(got, kept, limit)
        segs.append(seg)
        seg_ix.append(np.full(best.size, len(segs) - 1, np.int32))
        offs.append(offsets[best])
        scores.append(got[best])
    if not segs:
        return Candidates.empty()
    cand = Candidates(segs, np.concatenate(seg_ix), np.concatenate(offs), np.concatenate(scores).astype(np.float32))
    return cand.ranked(limit)
