"""numba top-k helpers of the sparse kernels: a bounded min-heap whose root is the worst kept.

Order everywhere: higher score first, ties broken by lower offset. Helpers are signature-less
`njit` functions, compiled together with the entry kernels that call them (never at import).
numba's on-disk cache of those kernels does not notice edits of this file: after changing it,
delete indexes/sparse/__pycache__ (a fresh checkout or install has no stale cache).
"""

from __future__ import annotations

import numba
import numpy as np

#: Offsets per block of the dense top-k scan (see `top_k_seen`).
SCAN_BLOCK = 512


@numba.njit(cache=True, nogil=True, inline="always")
def worse(score_a, offset_a, score_b, offset_b):
    """True when (score_a, offset_a) ranks below (score_b, offset_b)."""
    return score_a < score_b or (score_a == score_b and offset_a > offset_b)


@numba.njit(cache=True, nogil=True)
def sift_down(heap_scores, heap_offsets, size, position):
    while True:
        child = 2 * position + 1
        if child >= size:
            return
        right = child + 1
        if right < size and worse(heap_scores[right], heap_offsets[right], heap_scores[child], heap_offsets[child]):
            child = right
        if not worse(heap_scores[child], heap_offsets[child], heap_scores[position], heap_offsets[position]):
            return
        heap_scores[position], heap_scores[child] = heap_scores[child], heap_scores[position]
        heap_offsets[position], heap_offsets[child] = heap_offsets[child], heap_offsets[position]
        position = child


@numba.njit(cache=True, nogil=True)
def heap_offer(heap_scores, heap_offsets, size, limit, score, offset):
    """Offer one candidate to a bounded heap whose root is the worst kept; returns the new size.

    Callers first test `size < limit or worse(root, candidate)` inline: calls that pass arrays
    cost reference counting, and most candidates lose to the root.
    """
    if size < limit:
        position = size
        heap_scores[position] = score
        heap_offsets[position] = offset
        while position > 0:
            parent = (position - 1) // 2
            if not worse(heap_scores[position], heap_offsets[position], heap_scores[parent], heap_offsets[parent]):
                break
            heap_scores[position], heap_scores[parent] = heap_scores[parent], heap_scores[position]
            heap_offsets[position], heap_offsets[parent] = heap_offsets[parent], heap_offsets[position]
            position = parent
        return size + 1
    if worse(heap_scores[0], heap_offsets[0], score, offset):
        heap_scores[0] = score
        heap_offsets[0] = offset
        sift_down(heap_scores, heap_offsets, size, 0)
    return size


@numba.njit(cache=True, nogil=True)
def heap_of(candidates, n_candidates, scores, capacity):
    """Min-heap (worst on top) of the best `capacity` of `candidates[:n_candidates]`."""
    heap_scores = np.empty(capacity, dtype=np.float32)
    heap_offsets = np.empty(capacity, dtype=np.int64)
    size = 0
    for i in range(n_candidates):
        offset = candidates[i]
        if size < capacity or worse(heap_scores[0], heap_offsets[0], scores[offset], offset):
            size = heap_offer(heap_scores, heap_offsets, size, capacity, scores[offset], offset)
    return heap_scores, heap_offsets, size


@numba.njit(cache=True, nogil=True)
def top_k_of(candidates, n_candidates, scores, limit):
    """Best `limit` of `candidates[:n_candidates]` by `scores[candidate]`, sorted best first."""
    heap_scores, heap_offsets, size = heap_of(candidates, n_candidates, scores, min(limit, n_candidates))
    return sorted_heap(heap_offsets, heap_scores, size)


@numba.njit(cache=True, nogil=True)
def top_k_seen(scores, seen, positive, allowed, use_allowed, limit):
    """Best `limit` touched (and allowed) offsets, sorted best first; touched means `seen` is
    set, or the score is > 0 when every contribution was `positive`.

    Once the heap is full, a block of SCAN_BLOCK offsets is first counted for scores above the
    root in one vectorised pass and skipped when none is (offsets only grow, so a tie with the
    root would lose): most blocks are skipped.
    """
    heap_scores = np.empty(limit, dtype=np.float32)
    heap_offsets = np.empty(limit, dtype=np.int64)
    size = 0
    n_points = scores.shape[0]
    for start in range(0, n_points, SCAN_BLOCK):
        stop = min(start + SCAN_BLOCK, n_points)
        if size == limit:
            root = heap_scores[0]
            above = 0
            for offset in range(start, stop):
                above += scores[offset] > root
            if above == 0:
                continue
        for offset in range(start, stop):
            if (scores[offset] > 0 if positive else seen[offset] != 0) and (not use_allowed or allowed[offset]):
                if size < limit or worse(heap_scores[0], heap_offsets[0], scores[offset], offset):
                    size = heap_offer(heap_scores, heap_offsets, size, limit, scores[offset], offset)
    return sorted_heap(heap_offsets, heap_scores, size)


@numba.njit(cache=True, nogil=True)
def kth_best(candidates, n_candidates, scores, limit):
    """Score of the `limit`-th best candidate (requires n_candidates >= limit)."""
    return heap_of(candidates, n_candidates, scores, limit)[0][0]


@numba.njit(cache=True, nogil=True)
def sorted_heap(heap_offsets, heap_scores, size):
    """Heap sort in place (worst to the back), returning the first `size` entries best first."""
    for end in range(size - 1, 0, -1):
        heap_scores[0], heap_scores[end] = heap_scores[end], heap_scores[0]
        heap_offsets[0], heap_offsets[end] = heap_offsets[end], heap_offsets[0]
        sift_down(heap_scores, heap_offsets, end, 0)
    return heap_offsets[:size].copy(), heap_scores[:size].copy()

