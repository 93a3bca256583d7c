"""Merge nodes of a plan (hybrid.query.plan.Merge), run once over gathered candidates.

Every node returns a `Ranked` list in its final order (ties by point id), cut to its limit.
Its sources' lists become one `Pool` (each point once); then:

- `rrf`, `dbsf`, `linear` fusion (`fusion.rrf` / `fusion.dbsf` / `fusion.weighted`); DBSF and
  formula read displayed prefetch scores, as Qdrant does; linear fusion reads internal ones;
- `formula`: `fusion.Formula` over the pool (hybrid.query.formula), `$score[i]` = prefetch i;
- `rescore`: a vector query over the pool's points (e.g. a ColBERT MaxSim rerank);
- `mmr`: maximal marginal relevance over its source's list;
- `order_by`, `sample` over the pool; `bm25` restricted to the pool (needs the text index).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import msgspec
import numpy as np

from hybrid.errors import ValidationError
from hybrid.query import ordering
from hybrid.query.parse import FormulaQuery, Fusion
from hybrid.query.scoring import score_candidates
from hybrid.query.search import Candidates, display, parse

if TYPE_CHECKING:
    from hybrid.query.plan import Merge
    from hybrid.view import CollectionView


class Ranked(msgspec.Struct):
    """One node's result: candidates in final order, how to show their scores, its inputs."""

    cand: Candidates
    distance: Optional[str] = None  # display conversion of cand.score (Euclid/Manhattan)
    order_values: Optional[np.ndarray] = None  # order_by results: float64 per candidate
    sources: list = msgspec.field(default_factory=list)  # the request's prefetch results (explain)

    def shown(self) -> np.ndarray:
        return display(self.cand.score, self.distance)

    def take(self, rows: np.ndarray) -> "Ranked":
        values = None if self.order_values is None else self.order_values[rows]
        return Ranked(self.cand.take(rows), self.distance, values, self.sources)

    def cut(self, limit: int) -> "Ranked":
        return self if len(self.cand) <= limit else self.take(np.arange(limit))

    def above(self, threshold: Optional[float]) -> "Ranked":
        """The entries scoring at least `threshold` (internal units)."""
        if threshold is None:
            return self
        return self.take(np.flatnonzero(self.cand.score >= threshold))


def run_merge(node: "Merge", sources: list[Ranked], view: Optional["CollectionView"],
              shard_bm25: Any = None) -> Ranked:
    """The merged, thresholded list of one node, at most `node.limit` entries. `shard_bm25(node,
    keys)` -> (keys, scores): a coordinator's BM25 of pool points, run by the shards holding them."""
    limit, op = node.limit, node.op
    if op == "mmr":
        from hybrid.query.diversity import mmr_rerank

        mmr, using, kind = node.query
        out = Ranked(mmr_rerank(sources[0].cand, using, kind, node.distance, limit, mmr.diversity), node.distance)
        return out
    pool = Pool([s.cand for s in sources])
    if op in ("rrf", "dbsf", "linear"):
        out = Ranked(fuse(pool, sources, node.query, limit, f"{node.path}query"))
    elif op == "formula":
        out = Ranked(formula(pool, sources, node.query, limit, f"{node.path}query"))
    elif op == "order_by":
        cand, values = ordering.order_by(view, node.query, None, pool.cand, limit)
        return Ranked(cand, order_values=values)
    elif op == "sample":
        return Ranked(ordering.sample(view, None, pool.cand, limit))
    elif op == "bm25" and shard_bm25 is not None:
        keys, scores = shard_bm25(node, pool.cand.keys())
        hits = pool.cand.take(np.searchsorted(pool.cand.keys(), keys))  # the pool is in key order
        out = Ranked(Candidates(hits.segs, hits.seg, hits.off, np.asarray(scores, np.float32)).ranked(limit))
    elif op == "bm25":  # BM25 restricted to the pool's points (ids of at most the prefetch limits)
        if view is None:
            raise ValueError("a bm25 merge needs the collection's text index (a shard runs it)")
        ids = pool.cand.ids()
        only = parse({"must": [{"has_id": ids}]}) if ids else None
        q = node.query
        out = Ranked(view.text.search(q.field, q.text, limit, only, q.k1, q.b, f"{node.path}query.bm25"))
    else:  # rescore
        out = Ranked(score_candidates(pool.cand, node.query).ranked(limit), node.distance)
    return out.above(node.threshold).cut(limit)


class Pool:
    """The points of several ranked lists, each once, in point-id order.

    `entries[i]` = (pool index, row in list i) of the first occurrence of every point of list
    i; a pool index is the point's rank in id order, so sorting by it breaks ties by id.
    """

    def __init__(self, sources: list[Candidates]) -> None:
        segs: list = []
        seg_ix, offs = [], []
        for s in sources:
            remap = np.array([_index(segs, seg) for seg in s.segs], dtype=np.int32)
            seg_ix.append(remap[s.seg] if len(s) else np.empty(0, np.int32))
            offs.append(s.off)
        sizes = [len(s) for s in sources]
        every = Candidates(segs, _cat(seg_ix, np.int32), _cat(offs, np.int64), np.zeros(sum(sizes), np.float32))
        _, first, inverse = np.unique(every.keys(), return_index=True, return_inverse=True)
        self.cand = every.take(first)
        self.entries: list[tuple[np.ndarray, np.ndarray]] = []
        for start, size in zip(np.cumsum([0] + sizes[:-1]).tolist(), sizes):
            codes = inverse.reshape(-1)[start: start + size]
            _, once = np.unique(codes, return_index=True)  # an order_by list may repeat a point
            once.sort()
            self.entries.append((codes[once], once))

    def __len__(self) -> int:
        return len(self.cand)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def _index(table: list, item: Any) -> int:
    for i, existing in enumerate(table):
        if existing is item:
            return i
    table.append(item)
    return len(table) - 1


def fuse(pool: Pool, sources: list[Ranked], op: Fusion, limit: int, field: str) -> Candidates:
    """Fusion of the prefetch lists; keys are pool indexes (id ranks), so ties break by id."""
    from fusion.dbsf import dbsf
    from fusion.rrf import DEFAULT_K, rrf
    from fusion.weighted import linear

    if len(pool) == 0:
        return pool.cand
    shown = op.method == "dbsf"  # Qdrant fuses the scores it would display
    lists = [(codes, (s.shown() if shown else s.cand.score)[rows]) for s, (codes, rows) in zip(sources, pool.entries)]
    try:
        if op.method == "rrf":
            keys, scores = rrf(lists, k=DEFAULT_K if op.k is None else op.k, weights=op.weights, limit=limit)
        elif op.method == "dbsf":
            keys, scores = dbsf(lists, limit=limit)
        else:
            keys, scores = linear(lists, weights=op.weights, normalization=op.normalization, limit=limit)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None
    out = pool.cand.take(keys)
    out.score = np.asarray(scores, dtype=np.float32)
    return out


def formula(pool: Pool, sources: list[Ranked], op: FormulaQuery, limit: int, field: str) -> Candidates:
    """Formula scores of the pool; `$score[i]` is prefetch i's displayed score (NaN: absent)."""
    from fusion.ranked import order_by_score
    from hybrid.query.formula import formula_scores

    if len(pool) == 0:
        return pool.cand
    per_prefetch = []
    for s, (codes, rows) in zip(sources, pool.entries):
        values = np.full(len(pool), np.nan)
        values[codes] = s.shown()[rows]
        per_prefetch.append(values)
    try:
        scores = formula_scores(op.formula, pool.cand, per_prefetch)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None
    keys, ranked_scores = order_by_score(np.arange(len(pool)), scores, limit)
    out = pool.cand.take(keys)
    out.score = ranked_scores
    return out


