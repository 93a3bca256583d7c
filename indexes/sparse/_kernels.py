"""numba kernels of the sparse index: scatter-add scoring, MaxScore pruning, top-k, row dots.

Nothing is compiled at import: entry kernels are `LazyKernel`s compiled with their explicit
signature on first call (cache=True, nogil=True, so server threads search in parallel), and
their helpers are signature-less `njit` functions compiled together with them.

Top-k order everywhere: higher score first, ties broken by lower offset.
"""

from __future__ import annotations

import numba
import numpy as np

from indexes._lazy_kernels import lazy_kernel
from indexes.sparse._heap_kernels import heap_offer, kth_best, sorted_heap, top_k_of, top_k_seen, worse


@numba.njit(cache=True, nogil=True, inline="always")
def _find(sorted_keys, start, stop, key):
    """Position of `key` in `sorted_keys[start:stop]` (absolute index), or -1."""
    low = start
    high = stop
    while low < high:
        middle = (low + high) >> 1
        if sorted_keys[middle] < key:
            low = middle + 1
        else:
            high = middle
    if low < stop and sorted_keys[low] == key:
        return low
    return -1


# ---------------------------------------------------------------- shared pieces of both searches


@numba.njit(cache=True, nogil=True)
def _sorted_query(q_terms, q_weights):
    """Query terms sorted ascending (for binary search), with their weights."""
    order = np.argsort(q_terms)
    return q_terms[order], q_weights[order]


@numba.njit(cache=True, nogil=True)
def _count_allowed(allowed, n_points):
    count = 0
    for offset in range(n_points):
        count += allowed[offset]
    return count


@numba.njit(cache=True, nogil=True)
def _row_dot(row_terms, row_values, start, stop, q_terms, q_weights):
    """(q . row, whether they share an index), one binary search per query term."""
    total = np.float32(0.0)
    overlap = False
    if start < stop:
        for t in range(q_terms.shape[0]):
            position = _find(row_terms, start, stop, q_terms[t])
            if position >= 0:
                total += q_weights[t] * row_values[position]
                overlap = True
    return total, overlap


# ---------------------------------------------------------------- sealed CSC search with MaxScore


@numba.njit(cache=True, nogil=True)
def _add_columns(scores, columns, which, weights):
    """scores += weights[j] * columns[which[j]] for each j in order, four columns per pass (the
    compiler vectorises each pass; fusing saves re-reading scores, the sums keep their order)."""
    j = 0
    while j + 4 <= which.shape[0]:
        a, b, c, d = columns[which[j]], columns[which[j + 1]], columns[which[j + 2]], columns[which[j + 3]]
        wa, wb, wc, wd = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
        for o in range(scores.shape[0]):
            scores[o] = (((scores[o] + wa * a[o]) + wb * b[o]) + wc * c[o]) + wd * d[o]
        j += 4
    for k in range(j, which.shape[0]):
        column = columns[which[k]]
        weight = weights[k]
        for o in range(scores.shape[0]):
            scores[o] += weight * column[o]


#: A binary search in a row costs about this many sequential posting reads.
ROW_LOOKUP_COST = 16
#: Scatter densely (no candidate list) when postings number at least n_points / DENSE_SHARE,
#: or, when pruning is possible, at least n_points (candidates then soon cover most points).
DENSE_SHARE = 4
#: Try to prune only when the postings left outnumber the candidates this many times over
#: (computing theta and filtering survivors both cost O(candidates)).
PRUNE_MIN_GAIN = 4


@lazy_kernel(
    "Tuple((int64[::1], float32[::1]))(uint32[::1], int64[::1], int32[::1], float32[::1], float32[::1], "
    "float32[::1], int64[::1], float32[:, ::1], int64[::1], uint32[::1], float32[::1], uint32[::1], "
    "float32[::1], int64, boolean[::1], boolean, int64)"
)
def search_sealed(
    terms, term_ptr, post_offsets, post_values, term_min, term_max, term_column, columns, row_ptr,
    row_terms, row_values, q_terms, q_weights, n_points, allowed, use_allowed, limit,
):
    """Exact top-k of s(d) = sum_t q_t * d_t over allowed points sharing >= 1 query term.

    Few allowed points (count * |q| < postings to scan): score their rows directly. Otherwise
    term-at-a-time scatter-add over the postings of the query terms, shortest first, with upper
    bounds u_t = max_d q_t * d_t and MaxScore pruning when every contribution is >= 0 (partial scores
    are then lower bounds): once the bounds of the remaining terms sum to less than the current
    k-th best partial score theta, no unseen point can enter the top-k, so the remaining terms are
    only added, by binary search in their rows, to seen points that can still reach theta.

    Terms held by a large share of the points also have a dense column (`columns[term_column[slot]]`,
    0 where absent). They are the longest, hence the last terms: when every contribution is > 0
    they are added to all scores in vectorised passes (no scatter), and after pruning they are
    read in O(1) per surviving point.
    """
    q_terms, q_weights = _sorted_query(q_terms, q_weights)
    n_query = q_terms.shape[0]
    slots = np.empty(n_query, dtype=np.int64)
    bounds = np.empty(n_query, dtype=np.float64)
    prunable = True
    positive = True  # every product > 0 (float32 rounding is monotone): touched <=> score > 0
    n_found = 0
    n_postings = 0
    for t in range(n_query):
        slot = _find(terms, 0, terms.shape[0], q_terms[t])
        if slot < 0:
            continue
        low = min(q_weights[t] * term_min[slot], q_weights[t] * term_max[slot])
        prunable = prunable and low >= 0
        positive = positive and low > 0
        bounds[n_found] = max(q_weights[t] * term_min[slot], q_weights[t] * term_max[slot])
        slots[n_found] = slot
        q_terms[n_found] = q_terms[t]
        q_weights[n_found] = q_weights[t]
        n_found += 1
        n_postings += term_ptr[slot + 1] - term_ptr[slot]
    if n_found == 0 or limit <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    if use_allowed and _count_allowed(allowed, n_points) * n_found < n_postings:
        heap_scores = np.empty(limit, dtype=np.float32)
        heap_offsets = np.empty(limit, dtype=np.int64)
        size = 0
        for offset in range(n_points):
            if allowed[offset]:
                score, overlap = _row_dot(row_terms, row_values, row_ptr[offset], row_ptr[offset + 1],
                                          q_terms[:n_found], q_weights[:n_found])
                if overlap:
                    if size < limit or worse(heap_scores[0], heap_offsets[0], score, offset):
                        size = heap_offer(heap_scores, heap_offsets, size, limit, score, offset)
        return sorted_heap(heap_offsets, heap_scores, size)
    # Shortest postings first: the long lists, where skipping pays most, are left for the end.
    lengths = np.empty(n_found, dtype=np.int64)
    for t in range(n_found):
        lengths[t] = term_ptr[slots[t] + 1] - term_ptr[slots[t]]
    order = np.argsort(lengths)
    slots = slots[order]
    bounds = bounds[order]
    q_terms = q_terms[order]
    q_weights = q_weights[order]
    remaining_bound = np.zeros(n_found + 1, dtype=np.float64)
    remaining_postings = np.zeros(n_found + 1, dtype=np.int64)
    for t in range(n_found - 1, -1, -1):
        remaining_bound[t] = remaining_bound[t + 1] + bounds[t]
        remaining_postings[t] = remaining_postings[t + 1] + term_ptr[slots[t] + 1] - term_ptr[slots[t]]
    # float32 sums may round up past the float64 bounds: compare with a relative safety margin.
    slack = 1.0 + 1e-6 * (n_found + 1)
    # Candidate mode keeps a list of the allowed points seen so far (needed to prune); dense mode
    # only sets seen flags (none when every contribution is > 0) and finds the top-k by one scan.
    # Without pruning, dense mode is used as soon as the postings reach a large share of the
    # points; with it, when they outnumber the points or once the candidates are many.
    dense = n_postings >= n_points if prunable else n_postings * DENSE_SHARE >= n_points
    scores = np.zeros(n_points, dtype=np.float32)
    seen = np.zeros(1 if dense and positive else n_points, dtype=np.uint8)
    candidates = np.empty(1 if dense else min(n_postings, n_points) + 1, dtype=np.int64)
    n_candidates = 0
    theta = -np.inf
    # Upper bound on theta, the k-th best partial score: each term lifts any score, hence also
    # the k-th best, by at most its bound. Theta (O(candidates)) is computed only when this bound
    # says pruning is possible and many more postings are left than candidates.
    theta_bound = 0.0
    t = 0
    while t < n_found:
        if not dense and n_candidates * (2 if prunable else DENSE_SHARE) >= n_points:
            dense = True
        if (not dense and prunable and n_candidates >= limit
                and remaining_postings[t] > PRUNE_MIN_GAIN * n_candidates
                and remaining_bound[t] * slack < theta_bound):
            theta = kth_best(candidates, n_candidates, scores, limit)
            if remaining_bound[t] * slack < theta:
                break
            theta_bound = theta
        theta_bound += bounds[t]
        weight = q_weights[t]
        if positive and term_column[slots[t]] >= 0:
            # Columns touch every point: candidates stop paying, scores > 0 mark the hits.
            dense = True
            _add_columns(scores, columns, term_column[slots[t:n_found]], q_weights[t:n_found])
            break
        if dense and positive:
            for p in range(term_ptr[slots[t]], term_ptr[slots[t] + 1]):
                scores[post_offsets[p]] += weight * post_values[p]
        elif dense:
            for p in range(term_ptr[slots[t]], term_ptr[slots[t] + 1]):
                offset = post_offsets[p]
                scores[offset] += weight * post_values[p]
                seen[offset] = 1
        elif positive:
            for p in range(term_ptr[slots[t]], term_ptr[slots[t] + 1]):
                offset = post_offsets[p]
                candidates[n_candidates] = offset
                n_candidates += (scores[offset] == 0) & (not use_allowed or allowed[offset])
                scores[offset] += weight * post_values[p]
        elif use_allowed:
            # Append unconditionally, advance only for new allowed points: no unpredictable branch.
            for p in range(term_ptr[slots[t]], term_ptr[slots[t] + 1]):
                offset = post_offsets[p]
                candidates[n_candidates] = offset
                n_candidates += (seen[offset] ^ 1) & allowed[offset]
                seen[offset] = 1
                scores[offset] += weight * post_values[p]
        else:
            for p in range(term_ptr[slots[t]], term_ptr[slots[t] + 1]):
                offset = post_offsets[p]
                candidates[n_candidates] = offset
                n_candidates += seen[offset] ^ 1
                seen[offset] = 1
                scores[offset] += weight * post_values[p]
        t += 1
    if dense:
        return top_k_seen(scores, seen, positive, allowed, use_allowed, limit)
    if t < n_found:
        # Keep the candidates that can still reach theta; seen == 3 marks them.
        survivors = 0
        for i in range(n_candidates):
            offset = candidates[i]
            if (scores[offset] + remaining_bound[t]) * slack >= theta:
                seen[offset] = 3
                candidates[survivors] = offset
                survivors += 1
        n_candidates = survivors
        for rest in range(t, n_found):
            start = term_ptr[slots[rest]]
            stop = term_ptr[slots[rest] + 1]
            weight = q_weights[rest]
            column = term_column[slots[rest]]
            if column >= 0:  # a stored 0 adds nothing, as an absent index would
                values = columns[column]
                for i in range(n_candidates):
                    scores[candidates[i]] += weight * values[candidates[i]]
            elif n_candidates * ROW_LOOKUP_COST < stop - start:  # few survivors: look them up
                for i in range(n_candidates):
                    offset = candidates[i]
                    position = _find(row_terms, row_ptr[offset], row_ptr[offset + 1], q_terms[rest])
                    if position >= 0:
                        scores[offset] += weight * row_values[position]
            else:  # many survivors: scan the postings, updating survivors only
                for p in range(start, stop):
                    offset = post_offsets[p]
                    if seen[offset] == 3:
                        scores[offset] += weight * post_values[p]
    return top_k_of(candidates, n_candidates, scores, limit)


# ---------------------------------------------------------------- growable: base postings + tail scan


@lazy_kernel(
    "Tuple((int64[::1], float32[::1]))(uint32[::1], int64[::1], int32[::1], float32[::1], uint32[::1], "
    "int32[::1], float32[::1], int64[::1], int64[::1], int32[::1], int32[::1], uint32[::1], float32[::1], "
    "int64, boolean[::1], boolean, int64)"
)
def search_growable(
    base_terms, base_ptr, base_slots, base_values, flat_terms, flat_slots, flat_values, slot_start,
    slot_stop, slot_offset, offset_slot, q_terms, q_weights, merged, allowed, use_allowed, limit,
):
    """Exact top-k of s(d) = sum_t q_t * d_t for the appendable index (same hits as the sealed one).

    Merged postings (`base_*`, entries (term, slot) sorted by term) are scatter-added per query
    term; entries appended after the first `merged` ones are scanned once, each looked up in the
    sorted query. Slots whose `slot_offset` is -1 were removed or replaced and are skipped. Few
    allowed points: their rows are scored directly.
    """
    n_points = offset_slot.shape[0]
    q_terms, q_weights = _sorted_query(q_terms, q_weights)
    n_query = q_terms.shape[0]
    n_flat = flat_terms.shape[0]
    slots = np.empty(n_query, dtype=np.int64)
    n_postings = n_flat - merged
    for t in range(n_query):
        slots[t] = _find(base_terms, 0, base_terms.shape[0], q_terms[t])
        if slots[t] >= 0:
            n_postings += base_ptr[slots[t] + 1] - base_ptr[slots[t]]
    if n_query == 0 or limit <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    if use_allowed and _count_allowed(allowed, n_points) * n_query < n_postings:
        heap_scores = np.empty(limit, dtype=np.float32)
        heap_offsets = np.empty(limit, dtype=np.int64)
        size = 0
        for offset in range(n_points):
            slot = offset_slot[offset]
            if allowed[offset] and slot >= 0:
                score, overlap = _row_dot(flat_terms, flat_values, slot_start[slot], slot_stop[slot], q_terms, q_weights)
                if overlap:
                    if size < limit or worse(heap_scores[0], heap_offsets[0], score, offset):
                        size = heap_offer(heap_scores, heap_offsets, size, limit, score, offset)
        return sorted_heap(heap_offsets, heap_scores, size)
    scores = np.zeros(n_points, dtype=np.float32)
    seen = np.zeros(n_points, dtype=np.uint8)
    candidates = np.empty(min(n_postings, n_points), dtype=np.int64)
    n_candidates = 0
    for t in range(n_query):
        if slots[t] < 0:
            continue
        weight = q_weights[t]
        for p in range(base_ptr[slots[t]], base_ptr[slots[t] + 1]):
            offset = slot_offset[base_slots[p]]
            if offset < 0 or (use_allowed and not allowed[offset]):
                continue
            if seen[offset] == 0:
                seen[offset] = 1
                candidates[n_candidates] = offset
                n_candidates += 1
            scores[offset] += weight * base_values[p]
    for e in range(merged, n_flat):
        position = _find(q_terms, 0, n_query, flat_terms[e])
        if position < 0:
            continue
        offset = slot_offset[flat_slots[e]]
        if offset < 0 or (use_allowed and not allowed[offset]):
            continue
        if seen[offset] == 0:
            seen[offset] = 1
            candidates[n_candidates] = offset
            n_candidates += 1
        scores[offset] += q_weights[position] * flat_values[e]
    return top_k_of(candidates, n_candidates, scores, limit)


# ---------------------------------------------------------------- row dots (rescoring, tiny filters)


@lazy_kernel("float32[::1](int64[::1], int64[::1], uint32[::1], float32[::1], uint32[::1], float32[::1])")
def score_rows(starts, stops, row_terms, row_values, q_terms, q_weights):
    """Dot product of the query with each row `row_*[starts[i]:stops[i]]` (0 without overlap)."""
    scores = np.zeros(starts.shape[0], dtype=np.float32)
    for i in range(starts.shape[0]):
        scores[i] = _row_dot(row_terms, row_values, starts[i], stops[i], q_terms, q_weights)[0]
    return scores
