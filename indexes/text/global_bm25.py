"""BM25 with statistics from elsewhere (every shard of a collection), scored exactly.

tantivy scores a term as `weight * tf / (tf + norm[f])`, in float32, where
`weight = idf(N, n) * (1 + k1)`, `norm[f] = k1 * (1 - b + b * dl(f) / avgdl)`, `f` the byte a
document's token count is quantised to and `avgdl` this index's tokens per document. A shard
holds part of the documents, so its N, n and avgdl are not the collection's. tantivy-py takes
no statistics, so:

- `CollectionBm25` holds the collection's (documents, documents per query token, tokens), summed
  over shards, and computes scores with them in float32, in tantivy's order of operations;
- `Rescorer` re-scores candidate documents of this index with them: per query token one tantivy
  query restricted to the candidates gives this index's score, which is inverted to the term
  frequency with this index's own weight and norm (read once per token from `Query.explain`);
  the document's quantised length comes from the `len` fast field (its token count);
- the fetch by local score stops when no unfetched document can reach the k-th rescored score:
  per term, the global/local score ratio `(tf + norm_l) / (tf + norm_g)` lies between 1 and
  `avgdl_g / avgdl_l`, so `bound()` times the last fetched local score caps every unfetched one.

Equal to one node's scores when neither holds deleted documents awaiting a tantivy merge (tantivy
counts those in N, n and the tokens; the summed statistics count live documents).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json

import numpy as np
import tantivy

from indexes.text import queries as q

K1, B = np.float32(1.2), np.float32(0.75)
_ONE, _HALF = np.float32(1.0), np.float32(0.5)

#: Candidates up to this many are rescored by term queries restricted to their pids; more, by
#: each token's whole posting list masked to them (a pid disjunction grows with the candidates).
RESCORE_PUSHDOWN_MAX_PIDS = 512
#: Rounding slack of the ratio bound (float32 scores: a few ulps).
_SLACK = 1.0 + 1e-5

_libm = ctypes.CDLL(ctypes.util.find_library("m"))
_libm.logf.restype, _libm.logf.argtypes = ctypes.c_float, [ctypes.c_float]


def _fieldnorm_table() -> np.ndarray:
    """Decoded length of each fieldnorm byte: Lucene's SmallFloat `byte4` scheme, as tantivy uses
    (ids below 24 exact, then a 3-bit mantissa with an implicit leading bit)."""
    ids = np.arange(256, dtype=np.int64)
    low = ids - 24
    bits, shift = low & 7, (low >> 3) - 1
    coded = np.where(shift < 0, bits, (bits | 8) << np.maximum(shift, 0))
    return np.where(ids < 24, ids, 24 + coded).astype(np.int64)


FIELDNORMS = _fieldnorm_table()
_DL = FIELDNORMS.astype(np.float32)


def fieldnorm_ids(lengths: np.ndarray) -> np.ndarray:
    """The byte tantivy stores for each token count (the largest decoded length <= it)."""
    return np.searchsorted(FIELDNORMS, np.asarray(lengths, np.int64), side="right") - 1


def norms(avgdl: np.float32) -> np.ndarray:
    """tantivy's per-fieldnorm `k1 * (1 - b + b * dl / avgdl)`, float32 (no documents: avgdl 0,
    norms inf, as tantivy's, and no document scores)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (K1 * ((_ONE - B) + (B * _DL) / np.float32(avgdl))).astype(np.float32)


def idf(docs: int, df: int) -> np.float32:
    """tantivy's `ln(1 + (N - n + 0.5) / (n + 0.5))` in float32 (libm's logf, as Rust's ln)."""
    x = (np.float32(docs - df) + _HALF) / (np.float32(df) + _HALF)
    return np.float32(_libm.logf(float(_ONE + x)))


class CollectionBm25:
    """Collection-wide statistics of one BM25 query and the scores they give."""

    def __init__(self, docs: int, df: np.ndarray, tokens: int, length_docs: int | None = None) -> None:
        """`length_docs`: the documents `tokens` are of (default `docs`; a corpus counts `docs`
        and `df` over fewer documents than the length norm)."""
        self.avgdl = np.float32(tokens) / np.float32(max(docs if length_docs is None else length_docs, 1))
        # one query token in no document (df 0) gets a weight but never scores
        self.weights = np.array([idf(docs, int(n)) * (_ONE + K1) for n in np.asarray(df).tolist()], np.float32)
        self.norms = norms(self.avgdl)

    def scores(self, tf: np.ndarray, fieldnorm: np.ndarray) -> np.ndarray:
        """Scores of documents (rows of `tf`: frequency of each query token, 0 = absent) with
        quantised lengths `fieldnorm`, summed over the tokens in query order."""
        total = np.zeros(tf.shape[0], np.float32)
        norm = self.norms[fieldnorm]
        for t in range(tf.shape[1]):  # a loop over query tokens, vectorised over documents
            f = tf[:, t].astype(np.float32)
            total = np.where(f > 0, total + self.weights[t] * (f / (f + norm)), total).astype(np.float32)
        return total


class Rescorer:
    """Exact collection-wide scores of this index's documents (see the module docstring)."""

    def __init__(self, schema: tantivy.Schema, searcher: tantivy.Searcher, tokens: list[str],
                 stats: CollectionBm25) -> None:
        self.schema, self.searcher, self.tokens, self.stats = schema, searcher, tokens, stats
        # this index's weight of each token (0: in no document here) and avgdl, as tantivy
        # explains a hit of it: one top-1 search and one explanation per query token
        self.local_weights = np.zeros(len(tokens), np.float32)
        self.avgdl = np.float32(1.0)
        for t, token in enumerate(tokens):
            query = q.term(schema, token)
            hits = searcher.search(query, 1, count=False).hits
            if hits:
                parts = json.loads(query.explain(searcher, hits[0][1]).to_json())["details"]
                idf_part, tf_part = parts[1], parts[2]  # [(K1+1), idf, freq / (freq + norm)]
                self.local_weights[t] = np.float32(idf_part["value"]) * (_ONE + K1)
                self.avgdl = np.float32(next(d["value"] for d in tf_part["details"] if d["description"].startswith("avgdl")))
        self.local_norms = norms(self.avgdl)
        longest = searcher.aggregate(tantivy.Query.all_query(), {"m": {"max": {"field": q.LEN}}})["m"]["value"]
        self.longest = int(fieldnorm_ids(int(longest or 0)))

    def boosts(self) -> np.ndarray:
        """Per query token: the collection's weight over this index's (fetch order by them)."""
        return np.where(self.local_weights > 0, self.stats.weights / np.maximum(self.local_weights, 1e-30), 1.0)

    def bound(self) -> float:
        """Largest ratio of a collection-wide score to this index's boosted one. Per matched
        token it is `(tf + norm_here[f]) / (tf + norm_coll[f])`, at most 1 when this index's
        documents are longer on average (norm_here <= norm_coll), else largest at tf = 1 and
        at the longest document here (norms grow with the length f)."""
        here, coll = self.local_norms[: self.longest + 1], self.stats.norms[: self.longest + 1]
        return max(1.0, float(np.max((1.0 + here.astype(np.float64)) / (1.0 + coll)))) * _SLACK

    def scores(self, pids: np.ndarray, addresses: list) -> np.ndarray:
        """Collection-wide scores of the documents at `addresses` (their pids: `pids`)."""
        if not len(pids):
            return np.empty(0, np.float32)
        fieldnorm = fieldnorm_ids(np.asarray(self.searcher.fast_field_values(q.LEN, addresses), np.int64))
        order = np.argsort(pids, kind="stable")
        sorted_pids = pids[order]
        tf = np.zeros((len(pids), len(self.tokens)), np.int64)
        pushed = len(pids) <= RESCORE_PUSHDOWN_MAX_PIDS
        only = q.pid_filter(self.schema, sorted_pids.tolist()) if pushed else None
        for t, token in enumerate(self.tokens):  # a loop over query tokens, vectorised over documents
            if not self.local_weights[t]:
                continue
            query = q.term(self.schema, token)
            if pushed:
                hits = self.searcher.search(q.filtered(query, only), len(pids), count=False).hits
            else:  # every document holding the token, masked to the candidates
                hits = self.searcher.search(query, self.searcher.doc_freq(q.TEXT, token), count=False).hits
            if hits:
                local, found = zip(*hits)
                found_pids = np.asarray(self.searcher.fast_field_values(q.PID, list(found)), np.int64)
                at = np.minimum(np.searchsorted(sorted_pids, found_pids), len(pids) - 1)
                mine = sorted_pids[at] == found_pids
                rows = order[at[mine]]
                tf[rows, t] = _frequencies(np.asarray(local, np.float32)[mine], self.local_weights[t],
                                           self.local_norms[fieldnorm[rows]])
        return self.stats.scores(tf, fieldnorm)


def _frequencies(scores: np.ndarray, weight: np.float32, norm: np.ndarray) -> np.ndarray:
    """Term frequencies whose float32 score `weight * tf / (tf + norm)` is `scores`: the inverse,
    rounded, then the nearest of its neighbours (large frequencies lose digits in the inverse)."""
    x = scores.astype(np.float64) / float(weight)
    guess = np.rint(norm * x / np.maximum(1.0 - x, 1e-12)).astype(np.int64)
    tries = np.maximum(guess[:, None] + np.array([-1, 0, 1]), 1)
    f = tries.astype(np.float32)
    again = (weight * (f / (f + norm[:, None]))).astype(np.float32)
    best = np.argmin(np.abs(again.astype(np.float64) - scores[:, None]), axis=1)
    return tries[np.arange(len(tries)), best]
