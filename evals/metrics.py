"""Retrieval metrics with trec_eval / pytrec_eval definitions, vectorised over queries.

Inputs are pytrec_eval-shaped dicts (see :mod:`evals.beir`): ``qrels = {qid: {doc: grade}}`` and
``run = {qid: {doc: score}}``. Each run list is ranked like trec_eval: by score descending, ties
broken by doc id descending (byte order), so results match ``pytrec_eval`` even with tied scores.

The ranked lists become two matrices, from which every metric is a few array operations:
``gains[q, i]`` = grade of the doc at 0-based rank ``i`` (0 when unjudged, negative, or missing)
and ``ideal[q, i]`` = the i-th largest positive grade of query ``q``. With ``rel = gains >= level``
(``level`` = relevance level, 1 by default) and ``R_q`` = number of docs with grade >= level:

- ``ndcg@k  = sum_{i<k} g_i / log2(i + 2)  /  sum_{i<k} ideal_i / log2(i + 2)`` (linear gains)
- ``recall@k = sum_{i<k} rel_i / R_q``
- ``precision@k = sum_{i<k} rel_i / k`` (divides by k even when fewer docs were retrieved)
- ``mrr@k = 1 / (1 + first i < k with rel_i)``, 0 when none
- ``map@k = sum_{i<k} rel_i * precision@(i+1) / R_q`` (trec_eval's ``map_cut``)

A query with no relevant docs scores 0 on every metric; a judged query absent from the run
scores 0 too (trec_eval ``-c``). ``k=None`` means the full ranked list (``ndcg``, ``map``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]

METRIC_NAMES = ("ndcg", "recall", "precision", "mrr", "map")
_SPEC_PATTERN = re.compile(r"^(?P<name>[a-z]+)(?:@(?P<k>\d+))?$")


@dataclass(frozen=True)
class MetricSpec:
    """A metric name and optional cutoff, written ``"ndcg@10"`` or ``"map"``."""

    name: str
    k: int | None

    @classmethod
    def parse(cls, text: str) -> "MetricSpec":
        if not isinstance(text, str):
            raise TypeError(f"metric must be a string like 'ndcg@10', got {type(text).__name__}")
        match = _SPEC_PATTERN.match(text.strip().lower())
        if match is None or match["name"] not in METRIC_NAMES:
            raise ValueError(f"metric {text!r}: expected one of {METRIC_NAMES} with optional '@k'")
        k = None if match["k"] is None else int(match["k"])
        if k is not None and k < 1:
            raise ValueError(f"metric {text!r}: cutoff k must be >= 1")
        return cls(match["name"], k)

    def __str__(self) -> str:
        return self.name if self.k is None else f"{self.name}@{self.k}"


@dataclass(frozen=True)
class RankedJudgments:
    """Gains of each query's ranked list and its ideal ranking, as padded matrices."""

    query_ids: tuple[str, ...]
    gains: np.ndarray  # (n_queries, depth) float64, grade at each rank, 0 past the list end
    ideal: np.ndarray  # (n_queries, depth_ideal) float64, positive grades sorted descending
    n_relevant: np.ndarray  # (n_queries,) int64, docs with grade >= relevance level


def rank_run(scores: Mapping[str, float]) -> list[str]:
    """Doc ids of one run list in trec_eval order: score descending, then doc id descending."""
    if not scores:
        return []
    doc_ids = np.array(list(scores), dtype=str)
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(doc_ids))
    if np.isnan(values).any():
        raise ValueError("run scores must not be NaN")
    # Ascending by (score, doc id), reversed: descending score, ties by descending doc id.
    return doc_ids[np.lexsort((doc_ids, values))[::-1]].tolist()


def judge_run(
    qrels: Qrels, run: Run, query_ids: Sequence[str] | None = None, *, relevance_level: int = 1
) -> RankedJudgments:
    """Rank every query's list and look up its grades (the only per-document Python step).

    ``query_ids`` defaults to every query in ``qrels`` (sorted), so all plans are scored on the
    same set; queries the run did not answer get an all-zero row.
    """
    if relevance_level < 1:
        raise ValueError("relevance_level must be >= 1")
    ids = tuple(sorted(qrels)) if query_ids is None else tuple(query_ids)
    ranked = [rank_run(run.get(qid, {})) for qid in ids]
    positive = [sorted((g for g in qrels.get(qid, {}).values() if g > 0), reverse=True) for qid in ids]
    depth = max((len(docs) for docs in ranked), default=0)
    depth_ideal = max((len(grades) for grades in positive), default=0)
    gains = np.zeros((len(ids), depth), dtype=np.float64)
    ideal = np.zeros((len(ids), depth_ideal), dtype=np.float64)
    for row, (qid, docs, grades) in enumerate(zip(ids, ranked, positive)):
        judged = qrels.get(qid, {})
        gains[row, : len(docs)] = [judged.get(doc, 0) for doc in docs]
        ideal[row, : len(grades)] = grades
    gains = np.maximum(gains, 0.0)  # negative grades count as non-relevant
    n_relevant = (ideal >= relevance_level).sum(axis=1).astype(np.int64)
    return RankedJudgments(ids, gains, ideal, n_relevant)


def _cut(matrix: np.ndarray, k: int | None) -> np.ndarray:
    return matrix if k is None else matrix[:, :k]


def _discounts(length: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(length, dtype=np.float64) + 2.0)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def ndcg_at_k(gains: np.ndarray, ideal: np.ndarray, k: int | None) -> np.ndarray:
    """Per-query nDCG@k with linear gains and ``1 / log2(rank + 1)`` discounts (1-based rank)."""
    gains, ideal = _cut(gains, k), _cut(ideal, k)
    dcg = gains @ _discounts(gains.shape[1])
    idcg = ideal @ _discounts(ideal.shape[1])
    return _safe_ratio(dcg, idcg)


def recall_at_k(relevant: np.ndarray, n_relevant: np.ndarray, k: int | None) -> np.ndarray:
    """Per-query Recall@k = relevant retrieved in the top k / all relevant."""
    return _safe_ratio(_cut(relevant, k).sum(axis=1), n_relevant)


def precision_at_k(relevant: np.ndarray, k: int | None) -> np.ndarray:
    """Per-query P@k = relevant in the top k / k (k = list depth when None)."""
    top = _cut(relevant, k)
    width = top.shape[1] if k is None else k
    return top.sum(axis=1) / width if width else np.zeros(top.shape[0])


def mrr_at_k(relevant: np.ndarray, k: int | None) -> np.ndarray:
    """Per-query reciprocal rank of the first relevant doc within the top k (0 if none)."""
    top = _cut(relevant, k)
    if top.shape[1] == 0:
        return np.zeros(top.shape[0])
    first = np.argmax(top, axis=1)
    return np.where(top.any(axis=1), 1.0 / (first + 1.0), 0.0)


def average_precision_at_k(relevant: np.ndarray, n_relevant: np.ndarray, k: int | None) -> np.ndarray:
    """Per-query AP@k = sum of precision at each relevant rank <= k, over all relevant docs."""
    top = _cut(relevant, k).astype(np.float64)
    precision_at_rank = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    return _safe_ratio((precision_at_rank * top).sum(axis=1), n_relevant)


def score_judgments(
    judgments: RankedJudgments, spec: MetricSpec, *, relevance_level: int = 1
) -> np.ndarray:
    """Per-query values of one metric over precomputed judgments."""
    relevant = judgments.gains >= relevance_level
    metric: dict[str, Callable[[], np.ndarray]] = {
        "ndcg": lambda: ndcg_at_k(judgments.gains, judgments.ideal, spec.k),
        "recall": lambda: recall_at_k(relevant, judgments.n_relevant, spec.k),
        "precision": lambda: precision_at_k(relevant, spec.k),
        "mrr": lambda: mrr_at_k(relevant, spec.k),
        "map": lambda: average_precision_at_k(relevant, judgments.n_relevant, spec.k),
    }
    return metric[spec.name]()


@dataclass(frozen=True)
class RunScores:
    """Per-query metric values of one run, aligned with ``query_ids``."""

    query_ids: tuple[str, ...]
    per_query: dict[str, np.ndarray]  # metric spec string -> (n_queries,) float64

    def means(self) -> dict[str, float]:
        """Mean of every metric over the evaluated queries (0.0 when there are none)."""
        return {name: float(values.mean()) if values.size else 0.0 for name, values in self.per_query.items()}


def evaluate_run(
    qrels: Qrels,
    run: Run,
    metrics: Iterable[str] = ("ndcg@10", "recall@100", "mrr@10"),
    *,
    query_ids: Sequence[str] | None = None,
    relevance_level: int = 1,
) -> RunScores:
    """Score a run on several metrics at once (the ranking is computed once)."""
    specs = [MetricSpec.parse(text) for text in metrics]
    judgments = judge_run(qrels, run, query_ids, relevance_level=relevance_level)
    per_query = {
        str(spec): score_judgments(judgments, spec, relevance_level=relevance_level) for spec in specs
    }
    return RunScores(judgments.query_ids, per_query)


def recall_curve(
    qrels: Qrels, run: Run, ks: Sequence[int], *, query_ids: Sequence[str] | None = None
) -> np.ndarray:
    """Mean Recall@k for each k in ``ks`` (one ranking pass for the whole curve)."""
    judgments = judge_run(qrels, run, query_ids)
    relevant = judgments.gains >= 1
    if not len(judgments.query_ids):
        return np.zeros(len(ks))
    return np.array([recall_at_k(relevant, judgments.n_relevant, int(k)).mean() for k in ks])
