"""Fusion and rescoring: pure array-in/array-out functions over ranked lists.

A ranked list is `(keys int64, scores float32)` sorted best first; every function returns one
ordered by descending score, ties by ascending key (= point id order).
"""

from fusion.dbsf import dbsf
from fusion.explain import explain
from fusion.formula import Formula, FormulaContext
from fusion.mmr import mmr
from fusion.ranked import RankedList, order_by_score
from fusion.recommend import (
    average_sparse,
    average_vector,
    best_score,
    context_scores,
    discovery_scores,
    naive_feedback_scores,
    sum_scores,
)
from fusion.rrf import rrf
from fusion.weighted import linear

__all__ = [
    "Formula",
    "FormulaContext",
    "RankedList",
    "average_sparse",
    "average_vector",
    "best_score",
    "context_scores",
    "dbsf",
    "discovery_scores",
    "explain",
    "linear",
    "mmr",
    "naive_feedback_scores",
    "order_by_score",
    "rrf",
    "sum_scores",
]
