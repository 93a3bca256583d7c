"""Numba kernels of the HNSW index: similarities, heaps, layer search and exact scoring.

Scores are similarities, higher is better:
    DOT: s(q, v) = sum_i q_i v_i                (Cosine vectors arrive normalised)
    L2:  s(q, v) = -sum_i (q_i - v_i)^2         (squared, as the engine; the API takes the root)
    L1:  s(q, v) = -sum_i |q_i - v_i|
A stored row may be float32, uint16 (float16 bits), uint8, or int8 (scalar-quantised codes);
`widen` turns every element into float32 inside the loop, so one kernel serves every storage
type. Queries are always float32.

Graph layout: level 0 is `links0[node] = [degree, n_1, ..., n_m0]` (int32); level l >= 1 is
`upper[l - 1][upper_pos[node]]` with the same row shape (m + 1 wide). Degree sits next to the
links so one cache line serves both.

Kernels compile lazily on first call (cache=True, nogil=True): signatures are left to numba
because every kernel is specialised per storage dtype, and explicit signature lists would
compile all variants at import time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from indexes.dense._intrinsic_kernels import prefetch_line, prefetch_row, pread_into, widen

DOT, L2, L1 = 0, 1, 2
#: Filter modes: no filter; filter applied to results only (route through every node);
#: ACORN-style two-hop expansion (disallowed neighbours are bridges, never candidates).
MODE_ALL, MODE_ROUTE, MODE_TWO_HOP = 0, 1, 2
#: Returned when the candidate heap overflowed; the caller retries with a larger scratch.
OVERFLOW = -1
#: Rows prefetched ahead of the one being scored by `score_rows`.
ROWS_AHEAD = 2


@njit(cache=True, fastmath=True)
def similarity(metric, a, b):
    """s(a, b) for one pair of rows (see the module docstring)."""
    acc = np.float32(0.0)
    if metric == DOT:
        for i in range(a.shape[0]):
            acc += widen(a[i]) * widen(b[i])
        return acc
    if metric == L2:
        for i in range(a.shape[0]):
            diff = widen(a[i]) - widen(b[i])
            acc += diff * diff
        return -acc
    for i in range(a.shape[0]):
        acc += abs(widen(a[i]) - widen(b[i]))
    return -acc


# ---- binary heaps over parallel (score, id) arrays -------------------------------------------


@njit(cache=True)
def push_max(scores, ids, size, score, node):
    """Push onto a max-heap (best candidate on top); returns the new size."""
    j = size
    while j > 0:
        parent = (j - 1) >> 1
        if scores[parent] >= score:
            break
        scores[j] = scores[parent]
        ids[j] = ids[parent]
        j = parent
    scores[j] = score
    ids[j] = node
    return size + 1


@njit(cache=True)
def pop_max(scores, ids, size):
    """Remove the top of a max-heap; returns the new size (read the top before calling)."""
    size -= 1
    score, node = scores[size], ids[size]
    j = 0
    while True:
        child = 2 * j + 1
        if child >= size:
            break
        if child + 1 < size and scores[child + 1] > scores[child]:
            child += 1
        if scores[child] <= score:
            break
        scores[j] = scores[child]
        ids[j] = ids[child]
        j = child
    if size > 0:
        scores[j] = score
        ids[j] = node
    return size


@njit(cache=True)
def sift_down_min(scores, ids, size, score, node):
    """Place (score, node) at the root of a min-heap of `size` items and restore the order."""
    j = 0
    while True:
        child = 2 * j + 1
        if child >= size:
            break
        if child + 1 < size and scores[child + 1] < scores[child]:
            child += 1
        if scores[child] >= score:
            break
        scores[j] = scores[child]
        ids[j] = ids[child]
        j = child
    scores[j] = score
    ids[j] = node


@njit(cache=True)
def offer_min(scores, ids, size, capacity, score, node):
    """Keep the best `capacity` items in a min-heap (worst on top); returns the new size."""
    if size < capacity:
        j = size
        while j > 0:
            parent = (j - 1) >> 1
            if scores[parent] <= score:
                break
            scores[j] = scores[parent]
            ids[j] = ids[parent]
            j = parent
        scores[j] = score
        ids[j] = node
        return size + 1
    if score > scores[0]:
        sift_down_min(scores, ids, size, score, node)
    return size


@njit(cache=True)
def sort_min_heap(scores, ids, size):
    """Turn a min-heap into a list sorted by descending score, in place."""
    for end in range(size - 1, 0, -1):
        score, node = scores[end], ids[end]
        scores[end], ids[end] = scores[0], ids[0]
        sift_down_min(scores, ids, end, score, node)


# ---- search ----------------------------------------------------------------------------------


@njit(cache=True)
def next_epoch(visited):
    """Advance the visited tag kept in the last slot; clear the array when the tag wraps."""
    epoch = visited[visited.shape[0] - 1] + 1
    if epoch == 0xFFFF:
        visited[:] = 0
        epoch = 1
    visited[visited.shape[0] - 1] = epoch
    return epoch


@njit(cache=True, fastmath=True)
def greedy_descent(query, vectors, metric, upper, upper_pos, node, score, top_level, bottom_level):
    """Walk levels top_level..bottom_level+1 greedily (ef = 1); returns the closest (node, score)."""
    for level in range(top_level, bottom_level, -1):
        links = upper[level - 1]
        improved = True
        while improved:
            improved = False
            row = links[upper_pos[node]]
            degree = row[0]
            for j in range(1, degree + 1):
                prefetch_line(vectors, row[j], 0)
            for j in range(1, degree + 1):
                if j < degree:
                    prefetch_row(vectors, row[j + 1])
                other = row[j]
                s = similarity(metric, query, vectors[other])
                if s > score:
                    score, node, improved = s, other, True
    return node, score


@njit(cache=True)
def two_hop_neighbours(row, links, vectors, allowed, visited, epoch, fresh):
    """ACORN-style neighbourhood of a level-0 node: its unvisited allowed neighbours, then the
    unvisited allowed neighbours of its disallowed ones (bridges, never candidates themselves).
    Marks them visited, prefetches the bridges' links and the first line of every new vector
    (a bridge's own vector is never read); returns how many were written to `fresh`."""
    n_fresh = 0
    for j in range(1, row[0] + 1):
        other = row[j]
        if visited[other] == epoch:
            continue
        if allowed[other]:
            visited[other] = epoch
            fresh[n_fresh] = other
            n_fresh += 1
            prefetch_line(vectors, other, 0)
        else:
            prefetch_row(links, other)
    for j in range(1, row[0] + 1):
        bridge = row[j]
        if visited[bridge] == epoch or allowed[bridge]:
            continue
        visited[bridge] = epoch
        hops = links[bridge]
        for b in range(1, hops[0] + 1):
            far = hops[b]
            if visited[far] != epoch and allowed[far]:
                visited[far] = epoch
                fresh[n_fresh] = far
                n_fresh += 1
                prefetch_line(vectors, far, 0)
    return n_fresh


@njit(cache=True, fastmath=True)
def search_layer(query, vectors, metric, links, upper_pos, on_upper, entry, entry_score, ef,
                 allowed, mode, visited, cand_s, cand_i, res_s, res_i):
    """Best-first beam search of one level from one entry point.

    Returns the number of results (a min-heap in res_*: the best `ef` allowed nodes) or
    OVERFLOW. MODE_ROUTE expands every node but keeps only allowed ones; MODE_TWO_HOP never
    enqueues a disallowed node but scans its neighbours instead (ACORN), so the beam stays in
    the allowed subgraph even where its one-hop connectivity is broken.
    """
    epoch = next_epoch(visited)
    capacity = cand_s.shape[0]
    fresh = np.empty(links.shape[1] * links.shape[1], dtype=np.int32)  # one + two hops
    visited[entry] = epoch
    n_cand = push_max(cand_s, cand_i, 0, entry_score, entry)
    n_res = 0
    if mode == MODE_ALL or allowed[entry]:
        n_res = offer_min(res_s, res_i, 0, ef, entry_score, entry)
    while n_cand > 0:
        score, node = cand_s[0], cand_i[0]
        if n_res >= ef and score < res_s[0]:
            break
        n_cand = pop_max(cand_s, cand_i, n_cand)
        row = links[upper_pos[node]] if on_upper else links[node]
        # Memory-bound: load the likely next node's links, the first line of every new
        # neighbour, and stream each neighbour's whole row while scoring the previous one.
        if n_cand > 0:
            prefetch_row(links, upper_pos[cand_i[0]] if on_upper else cand_i[0])
        if mode == MODE_TWO_HOP:
            n_fresh = two_hop_neighbours(row, links, vectors, allowed, visited, epoch, fresh)
        else:
            n_fresh = 0
            for j in range(1, row[0] + 1):
                other = row[j]
                if visited[other] != epoch:
                    visited[other] = epoch
                    fresh[n_fresh] = other
                    n_fresh += 1
                    prefetch_line(vectors, other, 0)
        if n_fresh > 0:
            prefetch_row(vectors, fresh[0])
        for k in range(n_fresh):
            if k + 1 < n_fresh:
                prefetch_row(vectors, fresh[k + 1])
            other = fresh[k]
            s = similarity(metric, query, vectors[other])
            if n_res < ef or s > res_s[0]:
                if n_cand >= capacity:
                    return OVERFLOW
                n_cand = push_max(cand_s, cand_i, n_cand, s, other)
                if mode != MODE_ROUTE or allowed[other]:
                    n_res = offer_min(res_s, res_i, n_res, ef, s, other)
    return n_res


@njit(cache=True, fastmath=True)
def exact_score(metric, query, originals, fd, file_start, row, buffer):
    """s(query, originals[row]); when fd >= 0 the row is read from that file with pread, at
    file_start + row * row_bytes, instead of through the (unmapped) memmap."""
    if fd < 0:
        return similarity(metric, query, originals[row])
    row_bytes = buffer.shape[0] * buffer.itemsize
    if pread_into(fd, buffer, file_start + row * row_bytes) != row_bytes:
        raise OSError("short read from the on-disk vectors file")
    return similarity(metric, query, buffer)


@njit(cache=True, fastmath=True)
def rescore(metric, query, originals, fd, file_start, ids, scores, n, buffer):
    """scores[:n] = exact s(query, originals[ids[:n]]), prefetching rows held in RAM."""
    if fd < 0:
        for r in range(n):
            prefetch_line(originals, ids[r], 0)
    for r in range(n):
        if fd < 0 and r + 1 < n:
            prefetch_row(originals, ids[r + 1])
        scores[r] = exact_score(metric, query, originals, fd, file_start, ids[r], buffer)


@njit(cache=True, fastmath=True)
def prepare_query(raw, normalize, metric, walk_offset, walk_step, exact, walk):
    """exact = raw (unit length if `normalize`); walk = exact mapped onto int8 codes
    ((x - offset) / step for L2/L1, unchanged for DOT; see quantization.py).
    Returns (scale, shift) with true score ~ scale * walk score + shift."""
    norm = np.float32(1.0)
    if normalize:
        total = np.float32(0.0)
        for i in range(raw.shape[0]):
            total += raw[i] * raw[i]
        if total > 0:
            norm = np.float32(1.0) / np.sqrt(total)
    total = np.float32(0.0)
    for i in range(raw.shape[0]):
        exact[i] = raw[i] * norm
        total += exact[i]
        walk[i] = exact[i]
        if walk_step > 0 and metric != DOT:
            walk[i] = (exact[i] - walk_offset) / walk_step
    if walk_step <= 0:
        return np.float32(1.0), np.float32(0.0)
    if metric == DOT:
        return np.float32(walk_step), np.float32(walk_offset * total)
    if metric == L2:
        return np.float32(walk_step * walk_step), np.float32(0.0)
    return np.float32(walk_step), np.float32(0.0)


@njit(cache=True, nogil=True, fastmath=True)
def search_batch(queries, normalize, walk_offset, walk_step, vectors, originals, fd, file_start,
                 metric, links0, upper, upper_pos, entry, max_level, ef, keep, allowed, modes,
                 visited, cand_s, cand_i, out_ids, out_scores, out_counts):
    """Search every query row; write the best `out_ids.shape[1]` (id, score) per query.

    The walk reads `vectors`: the originals, or int8 codes when walk_step > 0. With codes and
    `keep` > 0 the best `keep` walk results are rescored exactly over `originals`
    (oversampled rescoring; read with pread when fd >= 0, see `exact_score`); with `keep` == 0
    the walk scores are mapped back affinely.
    Query q uses filter mode `modes[q]` and the row `allowed[q % len(allowed)]`.
    Returns 0 or OVERFLOW.
    """
    limit = out_ids.shape[1]
    res_s = np.empty(ef, dtype=np.float32)
    res_i = np.empty(ef, dtype=np.int32)
    exact = np.empty(queries.shape[1], dtype=np.float32)
    walk = np.empty(queries.shape[1], dtype=np.float32)
    buffer = np.empty(originals.shape[1], dtype=originals.dtype)
    for q in range(queries.shape[0]):
        scale, shift = prepare_query(queries[q], normalize, metric, walk_offset, walk_step,
                                     exact, walk)
        node = entry
        score = similarity(metric, walk, vectors[node])
        node, score = greedy_descent(walk, vectors, metric, upper, upper_pos, node, score,
                                     max_level, 0)
        n = search_layer(walk, vectors, metric, links0, upper_pos, False, node, score, ef,
                         allowed[q % allowed.shape[0]], modes[q], visited, cand_s, cand_i,
                         res_s, res_i)
        if n == OVERFLOW:
            return OVERFLOW
        sort_min_heap(res_s, res_i, n)
        if keep > 0:
            n = min(n, keep)
            rescore(metric, exact, originals, fd, file_start, res_i, res_s, n, buffer)
            order = np.argsort(-res_s[:n], kind="mergesort")
            n = min(n, limit)
            for r in range(n):
                out_ids[q, r] = res_i[order[r]]
                out_scores[q, r] = res_s[order[r]]
        else:
            n = min(n, limit)
            for r in range(n):
                out_ids[q, r] = res_i[r]
                out_scores[q, r] = scale * res_s[r] + shift
        out_counts[q] = n
    return 0


@njit(cache=True, nogil=True, fastmath=True)
def score_rows(query, vectors, fd, file_start, metric, offsets, out):
    """out[j] = s(query, vectors[offsets[j]]): exact scores (rows read as in `exact_score`).

    Rows in RAM are scored in a loop of their own (the pread branch kept out of it lets the
    dot product vectorise: ~30% faster) with ROWS_AHEAD rows prefetched: scattered rows are
    latency-bound."""
    n = offsets.shape[0]
    if fd < 0:
        for j in range(min(ROWS_AHEAD, n)):
            prefetch_row(vectors, offsets[j])
        for j in range(n):
            if j + ROWS_AHEAD < n:
                prefetch_row(vectors, offsets[j + ROWS_AHEAD])
            out[j] = similarity(metric, query, vectors[offsets[j]])
        return
    buffer = np.empty(vectors.shape[1], dtype=vectors.dtype)
    for j in range(n):
        out[j] = exact_score(metric, query, vectors, fd, file_start, offsets[j], buffer)


@njit(cache=True, nogil=True, fastmath=True)
def top_rows(query, vectors, fd, file_start, metric, offsets, limit, scores, out_ids, out_scores):
    """Exact top-`limit` among `offsets`: scores every row (as `score_rows`, into `scores`),
    then writes the best `limit` and every row tied with the limit-th best to out_*, by
    descending score (ties in input order: ascending offset for sorted input). Returns the
    number written."""
    n = offsets.shape[0]
    k = min(limit, n)
    if k <= 0:
        return 0
    score_rows(query, vectors, fd, file_start, metric, offsets, scores)
    heap_s = np.empty(k, dtype=np.float32)
    heap_i = np.empty(k, dtype=np.int64)
    size = 0
    for j in range(n):
        size = offer_min(heap_s, heap_i, size, k, scores[j], j)
    cut = heap_s[0]
    count = 0
    for j in range(n):
        if scores[j] >= cut:
            out_ids[count] = offsets[j]
            out_scores[count] = scores[j]
            count += 1
    order = np.argsort(-out_scores[:count], kind="mergesort")
    ids, best = out_ids[:count].copy(), out_scores[:count].copy()
    for r in range(count):
        out_ids[r] = ids[order[r]]
        out_scores[r] = best[order[r]]
    return count
