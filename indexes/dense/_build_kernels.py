"""Numba kernels that build the HNSW graph by sequential insertion (Malkov & Yashunin, 2016).

Each new point descends greedily from the entry point to its own level, then on every level
from there down to 0 runs a beam search of width ef_construct, keeps neighbours with the
"not closer than base" heuristic and links back. While building, every link row is kept
sorted by score to its owner (`dists`), and `done[row]` counts the leading links already
checked by the heuristic: when a full row takes a new link only pairs involving unchecked
links are scored again (Qdrant's `connect_with_heuristic`), which keeps back-linking at about
m similarity evaluations instead of m^2.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from indexes.dense._intrinsic_kernels import widen
from indexes.dense._kernels import (DOT, MODE_ALL, greedy_descent, rescore, search_layer,
                                    similarity, sort_min_heap)


@njit(cache=True)
def is_redundant(to_kept, score, kept_score):
    """Drop a candidate closer to an already kept link than to the base point.

    Equidistant candidates (exact duplicates) compare non-strictly, so a group of identical
    vectors cannot fill every slot of each other's rows and become a sink.
    """
    if score == kept_score:
        return to_kept >= score
    return to_kept > score


@njit(cache=True, fastmath=True)
def select_neighbours(vectors, metric, cand_s, cand_i, n_cand, m_max, out_s, out_i):
    """Heuristic selection from candidates sorted by descending score; returns the count."""
    kept = 0
    for c in range(n_cand):
        node, score = cand_i[c], cand_s[c]
        redundant = False
        for k in range(kept):
            to_kept = similarity(metric, vectors[node], vectors[out_i[k]])
            if is_redundant(to_kept, score, out_s[k]):
                redundant = True
                break
        if not redundant:
            out_s[kept], out_i[kept] = score, node
            kept += 1
            if kept == m_max:
                break
    return kept


@njit(cache=True, fastmath=True)
def connect(vectors, metric, links, dists, done, row, owner, node, score, m_max, tmp_s, tmp_i,
            tmp_done):
    """Add `node` (at `score` from `owner`) to the sorted link row `row` of `owner`."""
    degree = links[row, 0]
    at = degree
    for j in range(degree):
        if dists[row, j] < score:
            at = j
            break
    if degree < m_max:
        for j in range(degree, at, -1):
            links[row, j + 1] = links[row, j]
            dists[row, j] = dists[row, j - 1]
        links[row, at + 1] = node
        dists[row, at] = score
        links[row, 0] = degree + 1
        done[row] = min(done[row], at)
        return
    # Full row: rerun the heuristic over the m_max + 1 sorted links, skipping checked pairs.
    src = 0
    for t in range(m_max + 1):
        if t == at:
            tmp_s[t], tmp_i[t], tmp_done[t] = score, node, False
        else:
            tmp_s[t], tmp_i[t], tmp_done[t] = dists[row, src], links[row, src + 1], src < done[row]
            src += 1
    kept = 0
    for t in range(m_max + 1):
        candidate, cand_score, checked = tmp_i[t], tmp_s[t], tmp_done[t]
        redundant = False
        for k in range(kept):
            if checked and tmp_done[k]:
                continue
            to_kept = similarity(metric, vectors[candidate], vectors[tmp_i[k]])
            if is_redundant(to_kept, cand_score, tmp_s[k]):
                redundant = True
                break
        if not redundant:
            tmp_s[kept], tmp_i[kept], tmp_done[kept] = cand_score, candidate, checked
            kept += 1
            if kept == m_max:
                break
    for k in range(kept):
        links[row, k + 1] = tmp_i[k]
        dists[row, k] = tmp_s[k]
    links[row, 0] = kept
    done[row] = kept


@njit(cache=True, nogil=True, fastmath=True)
def to_walk_query(query, out, walk_offset, walk_step, metric):
    """`query` in the units the beam walks: int8-code units (x - walk_offset) / walk_step when the
    walk reads codes (walk_step > 0; DOT keeps raw values), else the values themselves."""
    coded = walk_step > 0 and metric != DOT
    for i in range(query.shape[0]):
        value = widen(query[i])
        out[i] = (value - walk_offset) / walk_step if coded else value


@njit(cache=True, nogil=True, fastmath=True)
def insert_points(order, levels, vectors, walk_vectors, walk_offset, walk_step, metric, m,
                  ef_construct, links0, dists0, done0, upper, upper_dists, upper_done, upper_pos,
                  state, visited, cand_s, cand_i):
    """Insert `order` into the graph; `state` = [entry point, its level] (entry -1: empty).

    The beam walks `walk_vectors`: the originals (walk_step == 0) or int8 codes with
    x ~ walk_offset + walk_step * c, whose candidates are then rescored exactly, so neighbour
    selection always sees exact scores while the walk reads 4x fewer bytes.
    """
    m0 = links0.shape[1] - 1
    quantized = walk_step > 0
    walk_query = np.empty(vectors.shape[1], dtype=np.float32)
    res_s = np.empty(ef_construct, dtype=np.float32)
    res_i = np.empty(ef_construct, dtype=np.int32)
    sel_s = np.empty(m0 + 1, dtype=np.float32)
    sel_i = np.empty(m0 + 1, dtype=np.int32)
    tmp_s = np.empty(m0 + 1, dtype=np.float32)
    tmp_i = np.empty(m0 + 1, dtype=np.int32)
    tmp_done = np.empty(m0 + 1, dtype=np.bool_)
    no_filter = np.ones(1, dtype=np.bool_)
    for point in order:
        level = levels[point]
        if state[0] < 0:
            state[0], state[1] = point, level
            continue
        query = vectors[point]
        to_walk_query(query, walk_query, walk_offset, walk_step, metric)
        entry, top = state[0], state[1]
        score = similarity(metric, walk_query, walk_vectors[entry])
        entry, score = greedy_descent(walk_query, walk_vectors, metric, upper, upper_pos, entry,
                                      score, top, level)
        for lev in range(min(level, top), -1, -1):
            if lev == 0:
                links, dists, done, m_max = links0, dists0, done0, m0
                row = point
            else:
                links, dists, done, m_max = upper[lev - 1], upper_dists[lev - 1], upper_done[lev - 1], m
                row = upper_pos[point]
            n = search_layer(walk_query, walk_vectors, metric, links, upper_pos, lev > 0, entry,
                             score, ef_construct, no_filter, MODE_ALL, visited, cand_s, cand_i,
                             res_s, res_i)
            sort_min_heap(res_s, res_i, n)
            entry, score = res_i[0], res_s[0]
            if quantized:
                rescore(metric, query, vectors, -1, 0, res_i, res_s, n, query)
                order_by_score = np.argsort(-res_s[:n], kind="mergesort")
                res_i[:n] = res_i[:n][order_by_score]
                res_s[:n] = res_s[:n][order_by_score]
            kept = select_neighbours(vectors, metric, res_s, res_i, n, m_max, sel_s, sel_i)
            links[row, 0] = kept
            for k in range(kept):
                links[row, k + 1] = sel_i[k]
                dists[row, k] = sel_s[k]
            done[row] = kept
            for k in range(kept):
                other = sel_i[k]
                other_row = other if lev == 0 else upper_pos[other]
                connect(vectors, metric, links, dists, done, other_row, other, point, sel_s[k],
                        m_max, tmp_s, tmp_i, tmp_done)
        if level > top:
            state[0], state[1] = point, level


@njit(cache=True, nogil=True, fastmath=True)
def link_scores(vectors, metric, links, owners, dists, done):
    """Scores of the kept links of a reused graph (row r belongs to point owners[r]), so more
    points can be inserted into it: every kept link counts as checked by the heuristic."""
    for r in range(owners.shape[0]):
        p = owners[r]
        degree = links[r, 0]
        for j in range(degree):
            dists[r, j] = similarity(metric, vectors[p], vectors[links[r, j + 1]])
        done[r] = degree


@njit(cache=True, nogil=True, fastmath=True)
def find_neighbours(batch, first, count, levels, vectors, walk_vectors, walk_offset, walk_step, metric,
                    m, ef_construct, links0, upper, upper_pos, entry, top, visited, cand_s, cand_i,
                    found_s, found_i, found_n):
    """Parallel phase of a batch insertion (the graph is only read, so threads can share it), for
    batch[first:first + count]: on each level, the ef_construct nearest nodes found by search
    (exact scores) plus the batch points before it (the search cannot see them), then the
    heuristic selection; found_*[b, l, :found_n[b, l]] = the neighbours to link."""
    m0 = links0.shape[1] - 1
    quantized = walk_step > 0
    walk_query = np.empty(vectors.shape[1], dtype=np.float32)
    res_s = np.empty(ef_construct + batch.shape[0], dtype=np.float32)
    res_i = np.empty(ef_construct + batch.shape[0], dtype=np.int32)
    no_filter = np.ones(1, dtype=np.bool_)
    for b in range(first, first + count):
        point = batch[b]
        level = levels[point]
        query = vectors[point]
        to_walk_query(query, walk_query, walk_offset, walk_step, metric)
        node = entry
        score = similarity(metric, walk_query, walk_vectors[entry])
        node, score = greedy_descent(walk_query, walk_vectors, metric, upper, upper_pos, node,
                                     score, top, level)
        for lev in range(level, -1, -1):
            n = 0
            if lev <= top:
                links = links0 if lev == 0 else upper[lev - 1]
                n = search_layer(walk_query, walk_vectors, metric, links, upper_pos, lev > 0, node,
                                 score, ef_construct, no_filter, MODE_ALL, visited, cand_s, cand_i,
                                 res_s, res_i)
                sort_min_heap(res_s, res_i, n)
                node, score = res_i[0], res_s[0]
                if quantized:
                    rescore(metric, query, vectors, -1, 0, res_i, res_s, n, query)
            for e in range(b):
                other = batch[e]
                if levels[other] >= lev:
                    res_s[n] = similarity(metric, query, vectors[other])
                    res_i[n] = other
                    n += 1
            order = np.argsort(-res_s[:n], kind="mergesort")
            ordered_s = res_s[:n][order]
            ordered_i = res_i[:n][order]
            found_n[b, lev] = select_neighbours(vectors, metric, ordered_s, ordered_i, n,
                                                m0 if lev == 0 else m, found_s[b, lev], found_i[b, lev])


@njit(cache=True, nogil=True, fastmath=True)
def link_batch(points, levels, vectors, metric, m, links0, dists0, done0, upper, upper_dists,
               upper_done, upper_pos, state, found_s, found_i, found_n):
    """Serial phase of a batch insertion, one point after the other: its selected neighbours
    become its links and each links back (as in `insert_points`)."""
    m0 = links0.shape[1] - 1
    tmp_s = np.empty(m0 + 1, dtype=np.float32)
    tmp_i = np.empty(m0 + 1, dtype=np.int32)
    tmp_done = np.empty(m0 + 1, dtype=np.bool_)
    for b in range(points.shape[0]):
        point = points[b]
        level = levels[point]
        for lev in range(min(level, state[1]), -1, -1):  # above the entry's level it is alone
            if lev == 0:
                links, dists, done, m_max = links0, dists0, done0, m0
                row = point
            else:
                links, dists, done, m_max = upper[lev - 1], upper_dists[lev - 1], upper_done[lev - 1], m
                row = upper_pos[point]
            kept = found_n[b, lev]
            links[row, 0] = kept
            for k in range(kept):
                links[row, k + 1] = found_i[b, lev, k]
                dists[row, k] = found_s[b, lev, k]
            done[row] = kept
            for k in range(kept):
                other = found_i[b, lev, k]
                other_row = other if lev == 0 else upper_pos[other]
                connect(vectors, metric, links, dists, done, other_row, other, point, found_s[b, lev, k],
                        m_max, tmp_s, tmp_i, tmp_done)
        if level > state[1]:
            state[0], state[1] = point, level
