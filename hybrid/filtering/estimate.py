"""Cardinality estimates `(min, expected, max)` of filters, for choosing exact vs graph search.

Leaves come from payload indexes (`index.cardinality`), are exact for `has_id`, `slice` and
`has_vector`, and are `(0, total // 2, total)` ("unknown", as in Qdrant) otherwise. Clauses
combine as Qdrant does, treating conditions as independent for the expectation:
- must:      min = max(0, sum(min_i) - (n - 1) total), max = min(max_i), exp = total prod(p_i)
- should:    min = max(min_i), max = min(total, sum(max_i)), exp = total (1 - prod(1 - p_i))
- must_not:  (total - max, total - exp, total - min) of the negated condition
- min_should(k of m): with S = sum over points of satisfied conditions,
  min = max(ceil((sum(min_i) - (k - 1) total) / (m - k + 1)), must-bound of the k largest
  min_i), max = floor(sum(max_i) / k),
  exp = total P(at least k of m) for independent p_i (Poisson-binomial, O(m^2)).
where p_i = exp_i / total.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from indexes.payload.conditions import Condition, FieldCondition, Filter, MatchText

Estimate = tuple[int, int, int]


def unknown(total: int) -> Estimate:
    return 0, total // 2, total


def _clip(low: float, expected: float, high: float, total: int) -> Estimate:
    high_i = int(max(0, min(total, math.floor(high))))
    low_i = int(min(high_i, max(0, math.ceil(low))))
    return low_i, int(min(high_i, max(low_i, round(expected)))), high_i


def combine_must(parts: list[Estimate], total: int) -> Estimate:
    if not parts:
        return total, total, total
    if total == 0:
        return 0, 0, 0
    low = sum(p[0] for p in parts) - (len(parts) - 1) * total
    expected = total * float(np.prod([p[1] / total for p in parts]))
    return _clip(low, expected, min(p[2] for p in parts), total)


def combine_should(parts: list[Estimate], total: int) -> Estimate:
    if total == 0:
        return 0, 0, 0
    expected = total * (1.0 - float(np.prod([1.0 - p[1] / total for p in parts])))
    return _clip(max(p[0] for p in parts), expected, sum(p[2] for p in parts), total)


def negate(part: Estimate, total: int) -> Estimate:
    return total - part[2], total - part[1], total - part[0]


def combine_min_should(parts: list[Estimate], k: int, total: int) -> Estimate:
    m = len(parts)
    if k > m or total == 0:
        return 0, 0, 0
    top_k_mins = sorted((p[0] for p in parts), reverse=True)[:k]
    low = max(
        (sum(p[0] for p in parts) - (k - 1) * total) / (m - k + 1),
        sum(top_k_mins) - (k - 1) * total,  # the k surest conditions all holding
    )
    high = sum(p[2] for p in parts) / k
    at_least = np.zeros(m + 1)  # at_least[j] = P(exactly j satisfied) after each step
    at_least[0] = 1.0
    for p in parts:
        prob = p[1] / total
        at_least[1:] = at_least[1:] * (1 - prob) + at_least[:-1] * prob
        at_least[0] *= 1 - prob
    return _clip(low, total * float(at_least[k:].sum()), high, total)


def estimate_filter(flt: Filter, total: int, leaf: Callable[[Condition], Estimate]) -> Estimate:
    """Combine leaf estimates over the filter tree (nested filters are estimated by `leaf`)."""

    def condition(cond: Condition) -> Estimate:
        return estimate_filter(cond, total, leaf) if isinstance(cond, Filter) else leaf(cond)

    clauses: list[Estimate] = [condition(c) for c in flt.must]
    clauses.extend(negate(condition(c), total) for c in flt.must_not)
    if flt.should:
        clauses.append(combine_should([condition(c) for c in flt.should], total))
    if flt.min_should is not None:
        parts = [condition(c) for c in flt.min_should.conditions]
        clauses.append(combine_min_should(parts, flt.min_should.min_count, total))
    return combine_must(clauses, total)


def is_index_candidate(cond: Condition) -> bool:
    """Whether a payload index could estimate `cond` (field conditions other than full text)."""
    return isinstance(cond, FieldCondition) and not isinstance(cond.check, MatchText)

