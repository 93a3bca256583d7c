"""The points of one segment a filtered vector search may return, in the cheapest form, and the
search over them.

A filtered search needs its allowed set twice: the size, to choose an exact scan or a graph
walk, and the set itself. A bitset costs a few passes over the whole segment (evaluate, AND
with the live points, count, and for an exact scan `flatnonzero`), which dominates when a
filter keeps a few hundred points of 200,000. So a filter of one indexed condition that
matches at most SMALL_SHARE of the segment is answered as sorted offsets read straight from
the payload index (no pass over the segment); anything else as a bitset.

`search_allowed` then scores the allowed offsets exactly, or walks the HNSW graph with the
bitset inside the loop, as `use_graph` decides: the one exact-vs-graph decision, which batched
queries (hybrid.query.batch.execute_batch) take too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from hybrid.filters import evaluate
from indexes import plain
from indexes.base import Hits, top_k
from indexes.payload.conditions import FieldCondition, Filter, MatchText

#: Largest share of a segment answered as offsets from a payload index rather than a bitset.
SMALL_SHARE = 1 / 16


class Allowed(NamedTuple):
    """Allowed offsets of one segment: `count` of them, given as `offsets` (sorted int64) when
    that was cheaper, else as `mask` (bool per offset; None: every offset)."""

    count: int
    mask: np.ndarray | None
    offsets: np.ndarray | None = None

    def as_mask(self, size: int) -> np.ndarray | None:
        if self.offsets is None:
            return self.mask
        mask = np.zeros(size, dtype=bool)
        mask[self.offsets] = True
        return mask

    def as_offsets(self, size: int) -> np.ndarray:
        if self.offsets is not None:
            return self.offsets
        return np.arange(size, dtype=np.int64) if self.mask is None else np.flatnonzero(self.mask)


def allowed_points(seg: Any, name: str, flt: Filter | None) -> Allowed:
    """Live points of `seg` having vector `name` and matching the parsed filter `flt`."""
    base, base_count = seg.base_allowed(name)
    everyone = base_count == seg.size
    if flt is None:
        return Allowed(base_count, None if everyone else base)
    offsets = _indexed_offsets(flt, seg)
    if offsets is not None:
        if not everyone:
            offsets = offsets[base[offsets]]
        return Allowed(int(offsets.size), None, offsets)
    mask = evaluate(flt, seg)[: seg.size]
    if not everyone:
        mask = mask & base
    return Allowed(int(np.count_nonzero(mask)), mask)


def _indexed_offsets(flt: Filter, seg: Any) -> np.ndarray | None:
    """Sorted offsets of a filter made of one field condition that a payload index answers
    with at most SMALL_SHARE of the segment; None otherwise."""
    if len(flt.must) != 1 or flt.should or flt.must_not or flt.min_should is not None:
        return None
    cond = flt.must[0]
    if not isinstance(cond, FieldCondition) or isinstance(cond.check, MatchText):
        return None
    index = seg.payload_index(cond.key)
    if index is None or not hasattr(index, "matching_offsets"):
        return None
    with seg.index_lock:  # the appendable segment's indexes change in place
        offsets = index.matching_offsets(cond, at_most=int(seg.size * SMALL_SHARE))
    if offsets is None:
        return None
    if offsets.size and offsets[-1] >= seg.size:  # an index may run ahead of the segment
        offsets = offsets[: np.searchsorted(offsets, seg.size)]
    return offsets


def search_allowed(store: Any, query: np.ndarray, limit: int, allowed: Allowed, size: int,
                   exact: bool = False, **params: Any) -> Hits:
    """Best `limit` allowed offsets of a dense store for a prepared query (every tie at the cut
    when exact, so the caller can break ties by point id). `params` go to the graph search
    (ef, rescore, oversampling, ignore_quantization)."""
    if allowed.count == 0 or limit <= 0:
        return Hits.empty()
    index = store.index
    if use_graph(store, allowed.count, size, exact, params.get("ef")):
        if allowed.count >= size:
            return index.search(query, limit, None, **params)
        return index.search(query, limit, allowed.as_mask(size), allowed_count=allowed.count, **params)
    offsets = allowed.as_offsets(size)
    if index is not None:
        return index.search_offsets(query, limit, offsets, prepared=True)
    scores = plain.dense_scores(store.data[offsets], query, store.spec.distance)
    best = top_k(scores, limit, ties=True)
    return Hits(offsets[best.offsets], best.scores)


def filtered_hits(segments: Any, name: str, query: np.ndarray, limit: int, flt: Filter | None,
                  exact: bool = False, **params: Any) -> list[tuple[Any, Hits]]:
    """(segment, its best `limit` hits) for every segment with an allowed point having dense
    vector `name`: the whole per-segment side of a filtered nearest-neighbour query (the
    caller merges by score, ties by point id, and hydrates)."""
    out = []
    for seg in segments:
        if seg.size == 0:
            continue
        allowed = allowed_points(seg, name, flt)
        if allowed.count:
            out.append((seg, search_allowed(seg.vectors[name], query, limit, allowed, seg.size, exact, **params)))
    return out


def use_graph(store: Any, count: int, size: int, exact: bool = False, ef: int | None = None) -> bool:
    """The one exact-vs-graph decision for a dense leaf on one segment (single and batched
    queries alike): walk the HNSW graph unless the segment has none, the request asks for
    exact search, or scoring the `count` allowed vectors is cheaper, which is when they weigh
    less than `hnsw.full_scan_threshold` KB (Qdrant's rule, f32 bytes) or the graph's measured
    cost model says so (`HnswIndex.prefers_exact`). Every point allowed: always the graph."""
    index = store.index
    if index is None or exact or count == 0:
        return False
    if count >= size:
        return True
    kilobytes = count * store.spec.size * 4 / 1024
    return kilobytes >= store.spec.hnsw.full_scan_threshold and not index.prefers_exact(count, ef)
