"""The `fusion.FormulaContext` of a formula query over the union of its prefetch results.

- `$score[i]`: the (displayed) score of prefetch i, NaN where the point is not in it;
- a payload variable: the point's single numeric value under the key (missing -> NaN, so the
  formula default applies); a string, a boolean or several values are an error, as in Qdrant;
- `geo_distance` reads one geo point, `datetime_key` one datetime string (seconds);
- a condition is a filter condition evaluated (hybrid.filters) on the candidates' segments.

Payload values come from the per-segment typed columns the filter code caches, so a query
reads numpy arrays, never payload JSON. Datetime strings are parsed once per distinct string
among the candidates.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from hybrid.query.search import Candidates


class CandidateContext:
    """Formula inputs for the points of `pool` (arrays aligned with it)."""

    def __init__(self, pool: Candidates, scores: Sequence[np.ndarray]) -> None:
        self.pool = pool
        self.scores = scores

    def _per_segment(self):
        for i, seg in enumerate(self.pool.segs):
            rows = np.flatnonzero(self.pool.seg == i)
            yield seg, rows, self.pool.off[rows]

    def _columns(self, seg: Any, key: str) -> Any:
        from hybrid.filtering.views import columns
        from indexes.payload.jsonpath import parse_path

        return columns(seg, key, parse_path(key))

    def _single(self, cols: Any, offsets: np.ndarray, owner: np.ndarray, what: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(has exactly one value, and it is of kind `what`; index of that value) per offset.

        Raises ValueError when a point holds a value of another kind or several values.
        """
        n_kind = np.bincount(owner, minlength=cols.size)
        total = cols.non_null[offsets]
        bad = (total > 1) | ((total == 1) & (n_kind[offsets] != 1))
        if bad.any():
            raise ValueError(f"formula: expected a single {what} under {key!r} in the payload of every point")
        position = np.full(cols.size, -1, dtype=np.int64)
        position[owner] = np.arange(owner.size)
        ok = total == 1
        return ok, position[offsets]

    def variable(self, key: str) -> np.ndarray:
        out = np.full(len(self.pool), np.nan)
        for seg, rows, offsets in self._per_segment():
            cols = self._columns(seg, key)
            owner = np.concatenate([cols.int_owner, cols.float_owner])
            value = np.concatenate([cols.int_value.astype(np.float64), cols.float_value])
            ok, where = self._single(cols, offsets, owner, "number", key)
            out[rows[ok]] = value[where[ok]]
        return out

    def geo(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        lat, lon = np.full(len(self.pool), np.nan), np.full(len(self.pool), np.nan)
        for seg, rows, offsets in self._per_segment():
            cols = self._columns(seg, key)
            ok, where = self._single(cols, offsets, cols.geo_owner, "geo point", key)
            lat[rows[ok]], lon[rows[ok]] = cols.geo_lat[where[ok]], cols.geo_lon[where[ok]]
        return lat, lon

    def datetime(self, key: str) -> np.ndarray:
        from fusion.datetimes import parse_datetime

        out = np.full(len(self.pool), np.nan)
        for seg, rows, offsets in self._per_segment():
            cols = self._columns(seg, key)
            ok, where = self._single(cols, offsets, cols.str_owner, "datetime string", key)
            codes = cols.str_code[where[ok]]
            distinct, inverse = np.unique(codes, return_inverse=True)
            seconds = np.array([parse_datetime(cols.strings[code], f"formula: {key!r}") for code in distinct.tolist()])
            out[rows[ok]] = seconds[inverse] if distinct.size else out[rows[ok]]
        return out

    def condition(self, condition: Mapping[str, Any]) -> np.ndarray:
        from hybrid.filters import evaluate, parse_filter

        flt = parse_filter({"must": [dict(condition)]}, "formula.condition")
        out = np.zeros(len(self.pool), dtype=bool)
        for seg, rows, offsets in self._per_segment():
            out[rows] = evaluate(flt, seg)[offsets]
        return out


def formula_scores(formula: Any, pool: Candidates, scores: Sequence[np.ndarray]) -> np.ndarray:
    """float32 formula scores of `pool`; `scores[i]` is prefetch i's score (NaN: absent)."""
    return formula.evaluate(CandidateContext(pool, scores), len(pool))
