"""`group_by`: the best `group_size` hits of each of the best `limit` groups of a ranked list.

A point belongs to one group per distinct value under `group_by` (arrays unwrapped one
level). As in Qdrant, group ids are integers or strings; a point holding any other value
there (float, bool, null, object) joins no group. Groups are ordered by their best hit; a
point that opens several groups at once opens them in payload order (its integers before
its strings). Everything is numpy over the filter code's cached payload columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.query.search import Candidates


def first_occurrences(cand: Candidates) -> np.ndarray:
    """Rows of `cand` without repeated points (an order_by list may hold a point twice)."""
    _, first = np.unique(cand.keys(), return_index=True)
    return np.sort(first)


def _values(cand: Candidates, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, values) of every groupable integer, then of every groupable string (object array)."""
    from hybrid.filtering.views import columns
    from indexes.payload.jsonpath import parse_path

    path = parse_path(key)
    int_rows, int_vals, str_rows, str_vals = [], [], [], []
    for i, seg in enumerate(cand.segs):
        rows = np.flatnonzero(cand.seg == i)
        cols = columns(seg, key, path)
        row_of = np.full(cols.size, -1, dtype=np.int64)
        row_of[cand.off[rows]] = rows
        n_int = np.bincount(cols.int_owner, minlength=cols.size)
        n_str = np.bincount(cols.str_owner, minlength=cols.size)
        groupable = (cols.non_null > 0) & ~cols.is_null & (n_int + n_str == cols.non_null)
        take = (row_of[cols.int_owner] >= 0) & groupable[cols.int_owner]
        int_rows.append(row_of[cols.int_owner[take]])
        int_vals.append(cols.int_value[take])
        take = (row_of[cols.str_owner] >= 0) & groupable[cols.str_owner]
        str_rows.append(row_of[cols.str_owner[take]])
        str_vals.append(np.asarray(cols.strings, dtype=object)[cols.str_code[take]] if take.any() else np.empty(0, object))
    cat = lambda parts, dtype: np.concatenate(parts) if parts else np.empty(0, dtype)  # noqa: E731
    return cat(int_rows, np.int64), cat(int_vals, np.int64), cat(str_rows, np.int64), cat(str_vals, object)


def group(cand: Candidates, key: str, limit: int, group_size: int) -> tuple[list[Any], list[np.ndarray], bool]:
    """(group ids, hit rows of `cand` per group, complete) for the best `limit` groups.

    `cand` is ranked and free of repeated points. `complete` says every returned group is
    full and there are `limit` of them, so a longer ranked list cannot change the answer.
    """
    int_rows, int_vals, str_rows, str_vals = _values(cand, key)
    ints, int_codes = np.unique(int_vals, return_inverse=True)
    strs, str_codes = np.unique(str_vals.astype(str), return_inverse=True) if str_vals.size else (np.empty(0, str), np.empty(0, np.int64))
    rows = np.concatenate([int_rows, str_rows])
    codes = np.concatenate([int_codes.reshape(-1), str_codes.reshape(-1) + ints.size])
    names: list[Any] = ints.tolist() + strs.tolist()
    if rows.size == 0:
        return [], [], False
    # pairs in rank order, each point's values in payload order (ints before strings)
    order = np.lexsort((np.arange(rows.size), rows))
    rows, codes = rows[order], codes[order]
    _, once = np.unique(np.stack([rows, codes], axis=1), axis=0, return_index=True)
    once = np.sort(once)
    rows, codes = rows[once], codes[once]
    distinct, first = np.unique(codes, return_index=True)
    chosen = distinct[np.argsort(first, kind="stable")][:limit]  # groups by their best hit
    by_group = np.lexsort((rows, codes))
    rows, codes = rows[by_group], codes[by_group]
    starts = np.searchsorted(codes, chosen)
    ends = np.searchsorted(codes, chosen, side="right")
    members = [rows[s: min(e, s + group_size)] for s, e in zip(starts.tolist(), ends.tolist())]
    complete = len(members) == limit and all(len(hits) == group_size for hits in members)
    return [names[g] for g in chosen.tolist()], members, complete
