"""Qdrant's formula query (score boosting), evaluated vectorised over candidate arrays.

`Formula.parse(expression, defaults)` validates the JSON once (see `fusion.formula_tree`);
`Formula.evaluate(context, n)` computes the float32 score of n candidates. Semantics follow
Qdrant (core and qdrant-client's local mode):

- constants are float64; `$score[i]` is the score of prefetch i, or `defaults["$score[i]"]`
  (`"$score"` means i = 0) when the candidate is not in that prefetch, else 0.0;
- a payload variable is the number stored under its key; when missing, its default; a
  missing value without a default, or a non-numeric default, is an error;
- a filter condition scores 1.0 when it holds, else 0.0;
- sum/mult/max/min fold left to right (empty sum 0, empty mult 1); mult stops at the first
  zero factor and div returns 0 for a zero numerator *without evaluating the rest*, so a
  missing variable there is no error (exactly like Qdrant);
- div by zero gives `by_zero_default` when set; any non-finite result of div, sqrt, pow,
  exp, log10, ln, acosh is an error, as is a final score that overflows float32;
- decays: lin max(0, 1 - lam |x - t|), exp exp(lam |x - t|), gauss exp(lam (x - t)^2)
  with target t defaulting to 0 and lam from midpoint/scale (`formula_tree.decay_lambda`);
- geo_distance is the haversine distance in metres (earth radius 6371008.8 m);
  datetime / datetime_key are seconds since the epoch (UTC when no offset is given).

Errors are ValueError naming the expression path, e.g. "formula.sum[1].div: ...".
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

import msgspec
import numpy as np

from fusion.datetimes import parse_datetime
from fusion.formula_tree import (
    Constant,
    ConditionVariable,
    DatetimeKey,
    Decay,
    Div,
    GeoDistance,
    Node,
    Nary,
    PayloadVariable,
    Pow,
    ScoreVariable,
    Unary,
    parse_expression,
    parse_geo_point,
    parse_variable,
)
from fusion.ranked import RankedList, order_by_score

MEAN_EARTH_RADIUS_M = 6371008.8
_MISSING = object()


class FormulaContext(Protocol):
    """What a formula may read about the n candidates being scored (arrays of length n).

    `variable` returns float64 values with NaN where the key is missing; a context should
    raise ValueError itself for values Qdrant rejects (a string, several values), otherwise
    such a value counts as missing and the default applies. `geo` returns (lat, lon) arrays
    and `datetime` float seconds, NaN where missing. `condition` receives the condition dict
    as written in the formula and returns a boolean mask.
    """

    scores: Sequence[np.ndarray]

    def variable(self, key: str) -> np.ndarray: ...

    def condition(self, condition: Mapping[str, Any]) -> np.ndarray: ...

    def geo(self, key: str) -> tuple[np.ndarray, np.ndarray]: ...

    def datetime(self, key: str) -> np.ndarray: ...


class Formula:
    """A parsed formula query: the expression tree plus its `defaults`."""

    __slots__ = ("root", "score_defaults", "payload_defaults")

    def __init__(self, root: Node, score_defaults: dict[int, Any], payload_defaults: dict[str, Any]) -> None:
        self.root = root
        self.score_defaults = score_defaults
        self.payload_defaults = payload_defaults

    @classmethod
    def parse(cls, expression: Any, defaults: Mapping[str, Any] | None = None) -> "Formula":
        """Parse `formula` and `defaults` of a FormulaQuery (JSON-shaped dicts, or msgspec
        Structs of that shape); keys of `defaults` parse like variables, so "$score" and
        "$score[0]" name the same default."""
        if isinstance(expression, msgspec.Struct):
            expression = msgspec.to_builtins(expression)
        root = parse_expression(expression, "formula")
        if defaults is None:
            defaults = {}
        if isinstance(defaults, msgspec.Struct):
            defaults = msgspec.to_builtins(defaults)
        if not isinstance(defaults, Mapping):
            raise TypeError("defaults: expected an object")
        score_defaults: dict[int, Any] = {}
        payload_defaults: dict[str, Any] = {}
        for key, value in defaults.items():
            if not isinstance(key, str):
                raise TypeError(f"defaults: keys must be strings, got {key!r}")
            variable = parse_variable(key, f"defaults[{key!r}]")
            if isinstance(variable, ScoreVariable):
                score_defaults[variable.index] = value
            else:
                payload_defaults[key] = value
        return cls(root, score_defaults, payload_defaults)

    def evaluate(self, context: FormulaContext, n: int) -> np.ndarray:
        """float32 scores of the n candidates described by `context`."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n: expected a non-negative integer, got {n!r}")
        values = _Evaluator(self, context, n).value(self.root, np.arange(n, dtype=np.int64))
        with np.errstate(over="ignore", invalid="ignore"):
            scores = values.astype(np.float32)
        bad = ~np.isfinite(scores)
        if bad.any():
            raise ValueError(f"formula: the score {values[bad][0]!r} is not a finite float32")
        return scores

    def rank(self, keys: np.ndarray, context: FormulaContext, limit: int | None = None) -> RankedList:
        """Score the candidates `keys` (context arrays aligned with them) and rank them."""
        keys = np.asarray(keys, dtype=np.int64)
        return order_by_score(keys, self.evaluate(context, keys.shape[0]), limit)


class _Evaluator:
    """Evaluates nodes on a subset of rows; leaves read each context array once."""

    def __init__(self, formula: Formula, context: FormulaContext, n: int) -> None:
        self.formula = formula
        self.context = context
        self.n = n
        self.cache: dict[tuple[str, Any], Any] = {}

    def value(self, node: Node, rows: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self._value(node, rows)

    def _value(self, node: Node, rows: np.ndarray) -> np.ndarray:
        match node:
            case Constant(value=value):
                return np.full(rows.shape[0], value)
            case ScoreVariable():
                return self._score(node, rows)
            case PayloadVariable():
                return self._payload(node, rows)
            case ConditionVariable():
                return self._condition(node)[rows].astype(np.float64)
            case GeoDistance():
                return self._geo_distance(node, rows)
            case DatetimeKey():
                return self._datetime(node, rows)
            case Nary():
                return self._nary(node, rows)
            case Unary():
                return self._unary(node, rows)
            case Div():
                return self._div(node, rows)
            case Pow():
                base, exponent = self._value(node.base, rows), self._value(node.exponent, rows)
                return _finite_or_fail(np.power(base, exponent), base, node.path, exponent)
            case Decay():
                return self._decay(node, rows)
        raise TypeError(f"formula: unknown node {type(node).__name__}")

    def _score(self, node: ScoreVariable, rows: np.ndarray) -> np.ndarray:
        scores = self.context.scores
        if node.index < len(scores):
            values = self._array(("score", node.index), lambda: scores[node.index], node.path)[rows]
        else:
            values = np.full(rows.shape[0], np.nan)
        default = self.formula.score_defaults.get(node.index)
        fill = float(default) if _is_number(default) else 0.0  # Qdrant ignores non-numeric
        return np.where(np.isnan(values), fill, values)

    def _payload(self, node: PayloadVariable, rows: np.ndarray) -> np.ndarray:
        values = self._array(("variable", node.key), lambda: self.context.variable(node.key), node.path)[rows]
        missing = np.isnan(values)
        if missing.any():
            default = self._default(node.key, node.path)
            if not _is_number(default):
                raise ValueError(f"{node.path}: the default of {node.key!r} is not a number")
            values = np.where(missing, float(default), values)
        return values

    def _condition(self, node: ConditionVariable) -> np.ndarray:
        key = ("condition", id(node))
        if key not in self.cache:
            mask = np.asarray(self.context.condition(node.condition))
            if mask.shape != (self.n,):
                raise ValueError(f"{node.path}: the condition mask has shape {mask.shape}, expected ({self.n},)")
            self.cache[key] = mask.astype(bool)
        return self.cache[key]

    def _geo_distance(self, node: GeoDistance, rows: np.ndarray) -> np.ndarray:
        lat_all, lon_all = self._pair(("geo", node.key), lambda: self.context.geo(node.key), node.path)
        lat, lon = lat_all[rows], lon_all[rows]
        missing = np.isnan(lat) | np.isnan(lon)
        if missing.any():
            default_lat, default_lon = parse_geo_point(self._default(node.key, node.path), f"{node.path}.default")
            lat, lon = np.where(missing, default_lat, lat), np.where(missing, default_lon, lon)
        return haversine_m(node.lat, node.lon, lat, lon)

    def _datetime(self, node: DatetimeKey, rows: np.ndarray) -> np.ndarray:
        values = self._array(("datetime", node.key), lambda: self.context.datetime(node.key), node.path)[rows]
        missing = np.isnan(values)
        if missing.any():
            default = parse_datetime(self._default(node.key, node.path), f"{node.path}.default")
            values = np.where(missing, default, values)
        return values

    def _nary(self, node: Nary, rows: np.ndarray) -> np.ndarray:
        if node.op == "mult":
            product = np.ones(rows.shape[0])
            live = np.arange(rows.shape[0])
            for arg in node.args:
                factor = self._value(arg, rows[live])
                product[live] = np.where(factor == 0.0, 0.0, product[live] * factor)
                live = live[factor != 0.0]  # a zero factor ends the product: later ones are skipped
            return product
        start = {"sum": 0.0, "max": -np.inf, "min": np.inf}[node.op]
        combine = {"sum": np.add, "max": np.fmax, "min": np.fmin}[node.op]
        total = np.full(rows.shape[0], start)
        for arg in node.args:
            total = combine(total, self._value(arg, rows))
        return total

    def _unary(self, node: Unary, rows: np.ndarray) -> np.ndarray:
        value = self._value(node.arg, rows)
        if node.op == "neg":
            return -value
        if node.op == "abs":
            return np.abs(value)
        function = {"sqrt": np.sqrt, "exp": np.exp, "log10": np.log10, "ln": np.log, "acosh": np.arccosh}[node.op]
        return _finite_or_fail(function(value), value, node.path)

    def _div(self, node: Div, rows: np.ndarray) -> np.ndarray:
        left = self._value(node.left, rows)
        result = np.zeros(rows.shape[0])
        live = np.flatnonzero(left != 0.0)  # a zero numerator is 0 without evaluating `right`
        right = self._value(node.right, rows[live])
        quotient = left[live] / right
        if node.by_zero_default is not None:
            quotient = np.where(right == 0.0, node.by_zero_default, quotient)
        result[live] = _finite_or_fail(quotient, left[live], node.path, right)
        return result

    def _decay(self, node: Decay, rows: np.ndarray) -> np.ndarray:
        x = self._value(node.x, rows)
        target = 0.0 if node.target is None else self._value(node.target, rows)
        if node.kind == "lin":
            return np.maximum(0.0, 1.0 - node.lam * np.abs(x - target))
        if node.kind == "exp":
            return np.exp(node.lam * np.abs(x - target))
        return np.exp(node.lam * (x - target) ** 2)

    def _default(self, key: str, path: str) -> Any:
        default = self.formula.payload_defaults.get(key, _MISSING)
        if default is _MISSING or default is None:
            raise ValueError(f"{path}: no value for {key!r} in the payload nor in the formula defaults")
        return default

    def _array(self, key: tuple[str, Any], fetch: Any, path: str) -> np.ndarray:
        if key not in self.cache:
            self.cache[key] = self._checked(fetch(), path)
        return self.cache[key]

    def _pair(self, key: tuple[str, Any], fetch: Any, path: str) -> tuple[np.ndarray, np.ndarray]:
        if key not in self.cache:
            first, second = fetch()
            self.cache[key] = (self._checked(first, path), self._checked(second, path))
        return self.cache[key]

    def _checked(self, values: Any, path: str) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        if array.shape != (self.n,):
            raise ValueError(f"{path}: the context returned shape {array.shape}, expected ({self.n},)")
        return array


def haversine_m(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres: 2 R asin(sqrt(hav(dlat) + cos lat1 cos lat2 hav(dlon)))."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    half_dlat = (phi2 - phi1) / 2.0
    half_dlon = (np.radians(lon2) - np.radians(lon1)) / 2.0
    a = np.sin(half_dlat) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlon) ** 2
    return 2.0 * MEAN_EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _finite_or_fail(result: np.ndarray, operand: np.ndarray, path: str, other: np.ndarray | None = None) -> np.ndarray:
    bad = ~np.isfinite(result)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        operands = f"{operand[first]!r}" if other is None else f"{operand[first]!r}, {other[first]!r}"
        raise ValueError(f"{path}: produced a non-finite number from ({operands})")
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
