"""`explain` (our extension): why a point ranked where it did.

For every returned point, `ScoredPoint.explain` is

    {"score": <its final score>,
     "prefetch": [{"rank": r, "score": s} | None, ...]}

with one entry per prefetch of the request's top level, in request order: the point's
0-based rank `r` and (displayed) score `s` in that prefetch's result list, or None when the
prefetch did not return it. A request without prefetch has an empty "prefetch" list.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hybrid.query.search import Candidates, display


def explain_entries(final: Candidates, final_scores: Sequence[float], sources: Sequence) -> list[dict]:
    """One explain dict per point of `final`; `sources` are the prefetch results (planner.Ranked)."""
    from fusion.explain import explain

    lists_keys = [first_keys(src.cand) for src in sources]
    everything = np.concatenate([final.keys(), *(keys for keys, _ in lists_keys)])
    pool, codes = np.unique(everything, return_inverse=True)
    codes = codes.reshape(-1)
    n = len(final)
    lists, start = [], n
    for src, (keys, rows) in zip(sources, lists_keys):
        lists.append((codes[start: start + keys.size], display(src.cand.score[rows], src.distance)))
        start += keys.size
    wanted, inverse = np.unique(codes[:n], return_inverse=True)  # order_by may repeat a point
    _, ranks, scores = explain(lists, wanted)
    ranks, scores = ranks[:, inverse.reshape(-1)], scores[:, inverse.reshape(-1)]
    out = []
    for i in range(n):  # hydration of the final top-k only
        branches = [None if ranks[j, i] < 0 else {"rank": int(ranks[j, i]), "score": float(scores[j, i])}
                    for j in range(len(sources))]
        out.append({"score": float(final_scores[i]), "prefetch": branches})
    return out


def first_keys(cand: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """(keys, rows) of the first occurrence of every point of `cand`, in list order."""
    keys = cand.keys()
    _, first = np.unique(keys, return_index=True)
    rows = np.sort(first)
    return keys[rows], rows
