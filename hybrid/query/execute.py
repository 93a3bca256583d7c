"""Running a plan (hybrid.query.plan): leaves per segment, the merge tree once, then hydration.

The work splits in two, so that a coordinator can run it over several shards (DESIGN.md
section 9):

- `execute_leaves(plan, view, stats)`: every leaf over the view's segments with the one
  exact-vs-graph decision (`hybrid.query.allowed.use_graph`), segments merged by top-k (ties by
  point id). Each `LeafHits` holds at most `leaf.limit` entries: what one shard must return.
  IDF-weighted sparse leaves use `stats` (summed over shards by `sum_statistics`) when given,
  else the view's own (`leaf_statistics`).
- `gather(plan, per_shard)`: one LeafResults from several shards' (same order rules, cut).
- `finish(plan, results, fetch)`: the merge tree bottom-up (fusion, formula, rescore, MMR,
  order_by, sample), score threshold, offset/limit or groups, then hydration. Results gathered
  from shards carry no local rows: `fetch(keys, needs)` returns them as Candidates (e.g. over a
  small segment built from records fetched from the shards).

`execute(plan, view)` is the local composition (batches: hybrid.query.batch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.ids import id_of_key
from hybrid.query import ordering
from hybrid.query.corpus import corpus_of, corpus_pids, sparse_counts
from hybrid.query.hydrate import group_response, scored_points
from hybrid.query.merge import Ranked, run_merge
from hybrid.query.plan import Leaf, Merge, Plan
from hybrid.query.scoring import NearestScorer, score_collection
from hybrid.query.search import Candidates, all_matching, search_leaf

if TYPE_CHECKING:
    from hybrid.view import CollectionView

#: fetch(keys, needs) -> Candidates of those points (any order; missing points left out).
Fetch = Callable[[np.ndarray, tuple], Candidates]


class LeafHits:
    """One leaf's answer, best first: sortable point-id keys (`hybrid.ids`, S17), internal
    scores, order values (order_by leaves); `cand` are the local rows (None once gathered)."""

    __slots__ = ("scores", "order_values", "cand", "_keys")

    def __init__(self, scores: np.ndarray, keys: Optional[np.ndarray] = None,
                 order_values: Optional[np.ndarray] = None, cand: Optional[Candidates] = None) -> None:
        self.scores = scores
        self.order_values = order_values
        self.cand = cand
        self._keys = keys

    @classmethod
    def local(cls, cand: Candidates, order_values: Optional[np.ndarray] = None) -> "LeafHits":
        return cls(cand.score, None, order_values, cand)

    @property
    def keys(self) -> np.ndarray:
        if self._keys is None:
            self._keys = self.cand.keys()
        return self._keys

    def ids(self) -> list:
        return self.cand.ids() if self.cand is not None else [id_of_key(k) for k in self.keys.tolist()]

    def __len__(self) -> int:
        return int(self.scores.size)


LeafResults = tuple  # of LeafHits, one per plan.leaves entry


# ---------------------------------------------------------------------- statistics
class TermStats(msgspec.Struct, frozen=True, eq=False):
    """What an IDF-weighted leaf needs, summable over shards: `docs` points having the vector
    (or text field), `df[i]` of them having the leaf's term i; BM25: `tokens` in the field and
    `length_docs` the documents they are of (more than `docs` under a corpus filter)."""

    docs: int
    df: np.ndarray  # float64, aligned with the leaf's query terms
    tokens: int = 0
    length_docs: int = 0

    def __add__(self, other: "TermStats") -> "TermStats":
        return TermStats(self.docs + other.docs, self.df + other.df, self.tokens + other.tokens,
                         self.length_docs + other.length_docs)

    def idf(self) -> np.ndarray:
        """Qdrant's IDF: ln(1 + (N - df + 0.5) / (df + 0.5))."""
        return np.log1p((self.docs - self.df + 0.5) / (self.df + 0.5)).astype(np.float32)


Stats = dict  # {node.stats_key: TermStats}: leaves by index, rescore merges by "rescore@<path>"


def leaf_statistics(plan: Plan, view: "CollectionView") -> Stats:
    """The view's (one shard's) TermStats of every node of the plan that weighs terms by IDF
    (`plan.weighted()`: IDF sparse leaves and rescore merges, BM25 leaves)."""
    out: Stats = {}
    for node in plan.weighted():
        if node.op == "bm25":  # tantivy's counts: documents, documents per unique query token, tokens
            out[node.stats_key] = bm25_stats(view, node)
        elif isinstance(node, Merge):
            out[node.stats_key] = local_stats(view, node.query.query[0], node.query.using)
        else:
            out[node.stats_key] = local_stats(view, node.query[0], node.using, corpus_of(node.params))
    return out


def local_stats(view: "CollectionView", terms: np.ndarray, using: str, corpus: Any = None) -> TermStats:
    """The view's counts, over the whole collection or the points of a corpus filter."""
    if corpus is not None:
        return TermStats(*sparse_counts(view, using, terms, corpus))
    return TermStats(view.docs_with(using), view.df[using].df(terms))


def bm25_stats(view: "CollectionView", leaf: Any) -> TermStats:
    corpus = corpus_of(getattr(leaf, "params", None))  # a BM25 merge over a pool has no search params
    return TermStats(*view.text.term_stats(leaf.query.field, leaf.query.text,
                                           None if corpus is None else corpus_pids(view, corpus)))


def sum_statistics(parts: list[Stats]) -> Stats:
    """Collection-wide statistics from every shard's `leaf_statistics`."""
    out: Stats = {}
    for part in parts:
        for key, stats in part.items():
            out[key] = stats if key not in out else out[key] + stats
    return out


def weighted(query: tuple, stats: TermStats) -> tuple:
    """A raw sparse query with its values times the terms' IDF."""
    idx, values = query
    return idx, (values * stats.idf()).astype(np.float32, copy=False)


# ---------------------------------------------------------------------- leaves
def execute_leaves(plan: Plan, view: "CollectionView", stats: Optional[Stats] = None) -> LeafResults:
    """Every leaf of the plan over the view's segments."""
    return tuple([run_leaf(leaf, view, None if stats is None else stats.get(leaf.index)) for leaf in plan.leaves])


def run_leaf(leaf: Leaf, c: "CollectionView", stats: Optional[TermStats] = None) -> LeafHits:
    op, flt, limit = leaf.op, leaf.filter, leaf.limit
    if op == "nearest":
        query = leaf.query
        if leaf.idf:
            query = weighted(query, stats if stats is not None else
                             local_stats(c, query[0], leaf.using, corpus_of(leaf.params)))
        cand = nearest(c, leaf.using, query, limit, flt, leaf.params, leaf.threshold)
    elif op == "scan":
        cand = all_matching(c, flt).head(limit)
    elif op == "order_by":
        cand, values = ordering.order_by(c, leaf.query, flt, None, limit)
        return LeafHits.local(cand, values)
    elif op == "sample":
        cand = ordering.sample(c, flt, None, limit)
    elif op == "bm25":
        q = leaf.query
        if stats is None and corpus_of(leaf.params) is not None:
            stats = bm25_stats(c, leaf)
        cand = c.text.search(q.field, q.text, limit, flt, q.k1, q.b, f"{leaf.path}query.bm25",
                             None if stats is None else (stats.docs, stats.df, stats.tokens, stats.length_docs))
    else:  # scored: recommend, discover, context, relevance feedback
        cand = score_collection(c, leaf.query, limit, flt)
    if leaf.threshold is not None:
        cand = cand.take(np.flatnonzero(cand.score >= leaf.threshold))
    return LeafHits.local(cand)


def nearest(c: "CollectionView", using: str, query: Any, limit: int, flt: Any, params: Any, threshold: Any) -> Candidates:
    """Index search for the top `limit`, ties at the cut by point id.

    Sparse scores tie often (BM25-like weights) and segments break ties by offset, so sparse
    leaves ask for SPARSE_TIE_MARGIN extra hits: when the last hit returned scores strictly
    below the cut (or fewer hits than asked came back), every point tied at the cut is among
    them, else ask twice as many. Dense leaves ask for `limit`: an exact scan returns every tie at its cut
    (`top_k(ties=True)`), and a graph walk is approximate anyway.
    """
    if using not in c.schema.sparse:
        return search_leaf(c, using, query, limit, flt, params, threshold)
    ask = limit + SPARSE_TIE_MARGIN
    while True:
        cand = search_leaf(c, using, query, ask, flt, params, threshold)
        if len(cand) < ask or limit == 0 or cand.score[-1] < cand.score[limit - 1]:
            return cand.head(limit)
        ask *= 2


#: Extra hits a sparse leaf asks for. With `qdrant/bm25` vectors of 30k msmarco documents
#: (evals.keyword_bench) 37 of 50 queries have no hit tied with the 10th beyond it, 11 have one,
#: 2 have two; the sealed index's top-k costs ~21 us at k = 14 against ~23.5 us at k = 26.
SPARSE_TIE_MARGIN = 4


def gather(plan: Plan, per_shard: list[LeafResults]) -> LeafResults:
    """One LeafResults from several shards': each leaf's lists joined and cut to its limit in
    the leaf's order (score, then point id; scan: id; order_by: value, then id; sample: random)."""
    out = []
    for leaf, parts in zip(plan.leaves, zip(*per_shard)):
        keys = np.concatenate([p.keys for p in parts])
        scores = np.concatenate([p.scores for p in parts]).astype(np.float32, copy=False)
        values = None if leaf.op != "order_by" else np.concatenate([p.order_values for p in parts])
        if leaf.op == "scan":
            order = np.argsort(keys, kind="stable")
        elif leaf.op == "order_by":
            order = np.lexsort((keys, -values if leaf.query.descending else values))
        elif leaf.op == "sample":
            order = np.random.default_rng().permutation(keys.size)
        else:
            order = np.lexsort((keys, -scores))
        order = order[: leaf.limit]
        out.append(LeafHits(scores[order], keys[order], None if values is None else values[order]))
    return tuple(out)


# ---------------------------------------------------------------------- the merge tree
def finish_ranked(plan: Plan, results: LeafResults, fetch: Optional[Fetch] = None,
                  view: Optional["CollectionView"] = None, stats: Optional[Stats] = None,
                  shard_bm25: Any = None) -> Ranked:
    """The root's ranked list (offset + limit entries) from the leaves' results; `stats` weight
    sparse rescore merges (default: the view's own statistics); `shard_bm25` runs BM25 merges
    on a coordinator (hybrid.query.merge.run_merge)."""
    if not all(hits.cand is not None for hits in results):
        results = _fetched(plan, results, fetch)
    return _run(plan.root, results, view, stats, shard_bm25)


def _run(node: Any, results: LeafResults, view: Any, stats: Optional[Stats], shard_bm25: Any = None) -> Ranked:
    if isinstance(node, Leaf):
        hits = results[node.index]
        cand = hits.cand
        if cand.score is not hits.scores:
            cand = Candidates(cand.segs, cand.seg, cand.off, hits.scores)
        return Ranked(cand, node.distance, hits.order_values)
    sources = [_run(child, results, view, stats, shard_bm25) for child in node.sources]
    if node.idf:  # a sparse rescore: the query takes its IDF weights now
        found = stats.get(node.stats_key) if stats is not None else None
        if found is None:
            if view is None:
                raise ValueError(f"{node.stats_key} needs summed statistics (leaf_statistics) or a view")
            found = local_stats(view, node.query.query[0], node.query.using)
        node = msgspec.structs.replace(node, query=NearestScorer(node.query.using, weighted(node.query.query, found), "sparse"),
                       idf=False)
    ranked = run_merge(node, sources, view, shard_bm25)
    branches = node.branches if node.op == "mmr" else node.sources
    if branches is node.sources:
        ranked.sources = sources
    elif branches:
        ranked.sources = sources[0].sources
    return ranked


def _fetched(plan: Plan, results: LeafResults, fetch: Optional[Fetch]) -> LeafResults:
    """Results gathered from shards, given local rows through one `fetch` of their points."""
    if fetch is None:
        raise ValueError("results gathered from shards need a fetch callable")
    keys = np.unique(np.concatenate([hits.keys for hits in results]))
    cand = fetch(keys, plan.needs())
    found = cand.keys()
    order = np.argsort(found, kind="stable")
    found_sorted = found[order]
    out = []
    for hits in results:
        at = np.searchsorted(found_sorted, hits.keys)
        ok = (at < found_sorted.size) & (found_sorted[np.minimum(at, max(found_sorted.size - 1, 0))] == hits.keys) \
            if found_sorted.size else np.zeros(hits.keys.size, bool)
        rows = order[at[ok]]
        local = cand.take(rows)
        local.score = hits.scores[ok]
        values = None if hits.order_values is None else hits.order_values[ok]
        out.append(LeafHits(hits.scores[ok], hits.keys[ok], values, local))
    return tuple(out)


def records_candidates(schema: Any, records: list) -> Candidates:
    """Candidates over a small in-memory segment holding fetched points (Records or dicts with
    id, version, payload, vector): what a coordinator's `fetch` can return."""
    from hybrid.points import batch_from_points
    from hybrid.segment import Segment

    seg = Segment(schema)
    if not records:
        return Candidates.empty()
    rows = [r if isinstance(r, dict) else m.to_builtins(r) for r in records]
    batch = batch_from_points([{"id": r["id"], "vector": r.get("vector") or {}, "payload": r.get("payload")}
                               for r in rows], schema)
    offsets = seg.allocate(list(batch.ids), np.arange(len(rows), dtype=np.int64))
    seg.write(offsets, batch, 0, True)
    seg.versions[offsets] = [r.get("version") or 0 for r in rows]
    return Candidates([seg], np.zeros(len(rows), np.int32), offsets, np.zeros(len(rows), np.float32))


def finish(plan: Plan, results: LeafResults, fetch: Optional[Fetch] = None,
           view: Optional["CollectionView"] = None, lookup: Any = None, stats: Optional[Stats] = None,
           shard_bm25: Any = None) -> Any:
    """QueryResponse (or GroupsResult for a groups plan) of the leaves' results."""
    return respond(plan, finish_ranked(plan, results, fetch, view, stats, shard_bm25), view, lookup)


def execute(plan: Plan, view: "CollectionView", lookup: Any = None) -> Any:
    """Run a plan on one view: leaves, the merge tree, hydration."""
    root = plan.root
    if isinstance(root, Leaf):  # the one-leaf plan: its list is the answer
        hits = run_leaf(root, view)
        return respond(plan, Ranked(hits.cand, root.distance, hits.order_values), view, lookup)
    return finish(plan, execute_leaves(plan, view), view=view, lookup=lookup)


def respond(plan: Plan, ranked: Ranked, view: Optional["CollectionView"] = None, lookup: Any = None) -> Any:
    """The response of the root's ranked list: paging and hydration, or groups."""
    if plan.groups is not None:
        return group_response(plan, ranked, view, lookup)[0]
    rows = None if plan.offset == 0 else np.arange(min(plan.offset, len(ranked.cand)), len(ranked.cand))
    points = scored_points(ranked, rows, plan.with_payload, plan.with_vector, plan.explain)
    return m.QueryResponse(points=points, plan=str(plan) if plan.explain else None)
