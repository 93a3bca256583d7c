"""Parse a Qdrant formula expression (JSON shape of the OpenAPI `Expression`) into a tree.

Parsing happens once per request and validates everything that does not depend on points;
every error names its path in the expression, e.g. "formula.sum[1].div.left". Evaluation
lives in `fusion.formula`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Union

from fusion.datetimes import parse_datetime

DEFAULT_DECAY_MIDPOINT = 0.5
DEFAULT_DECAY_SCALE = 1.0

NARY_OPS = ("sum", "mult", "max", "min")
UNARY_OPS = ("neg", "abs", "sqrt", "exp", "log10", "ln", "acosh")
DECAY_OPS = ("lin_decay", "exp_decay", "gauss_decay")
OTHER_OPS = ("div", "pow", "geo_distance", "datetime", "datetime_key")
EXPRESSION_KEYS = frozenset(NARY_OPS + UNARY_OPS + DECAY_OPS + OTHER_OPS)
#: Keys of the filter `Condition` variants (FieldCondition, IsEmpty, IsNull, HasId,
#: HasVector, Nested, and a nested Filter); such a dict scores 1.0 when it holds, else 0.0.
CONDITION_KEYS = frozenset(
    ("key", "is_empty", "is_null", "has_id", "has_vector", "nested", "must", "should", "must_not", "min_should")
)
_SCORE_VARIABLE = re.compile(r"\$score(?:\[(\d+)\])?")


@dataclass(frozen=True, slots=True)
class Constant:
    value: float
    path: str


@dataclass(frozen=True, slots=True)
class ScoreVariable:
    """`$score` / `$score[i]`: the score of prefetch i (0 or its default when absent)."""

    index: int
    path: str


@dataclass(frozen=True, slots=True)
class PayloadVariable:
    key: str
    path: str


@dataclass(frozen=True, slots=True, eq=False)
class ConditionVariable:
    condition: Mapping[str, Any]
    path: str


@dataclass(frozen=True, slots=True)
class GeoDistance:
    """Haversine metres from the constant origin to the geo point in payload `key`."""

    lat: float
    lon: float
    key: str
    path: str


@dataclass(frozen=True, slots=True)
class DatetimeKey:
    """Seconds since the epoch of the datetime string in payload `key`."""

    key: str
    path: str


@dataclass(frozen=True, slots=True)
class Nary:
    op: str  # one of NARY_OPS
    args: tuple["Node", ...]
    path: str


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # one of UNARY_OPS
    arg: "Node"
    path: str


@dataclass(frozen=True, slots=True)
class Div:
    left: "Node"
    right: "Node"
    by_zero_default: float | None
    path: str


@dataclass(frozen=True, slots=True)
class Pow:
    base: "Node"
    exponent: "Node"
    path: str


@dataclass(frozen=True, slots=True)
class Decay:
    """kind "lin" | "exp" | "gauss" with Qdrant's precomputed `lam` (see `decay_lambda`)."""

    kind: str
    x: "Node"
    target: "Node | None"
    lam: float
    path: str


Node = Union[
    Constant, ScoreVariable, PayloadVariable, ConditionVariable, GeoDistance, DatetimeKey, Nary, Unary, Div, Pow, Decay
]


def parse_expression(expression: Any, path: str = "formula") -> Node:
    """Turn one JSON expression into a `Node`; raises ValueError/TypeError naming `path`."""
    if isinstance(expression, bool):
        raise TypeError(f"{path}: a boolean is not an expression")
    if isinstance(expression, (int, float)):
        return Constant(_finite(expression, path), path)
    if isinstance(expression, str):
        return parse_variable(expression, path)
    if not isinstance(expression, Mapping):
        raise TypeError(f"{path}: expected a number, a variable name or an object, got {type(expression).__name__}")
    present = {key for key, value in expression.items() if value is not None}
    operators = present & EXPRESSION_KEYS
    if not operators:
        if present & CONDITION_KEYS:
            return ConditionVariable(expression, path)
        raise ValueError(f"{path}: unknown expression with keys {sorted(present)}")
    if len(present) != 1:
        raise ValueError(f"{path}: an expression object takes exactly one operator, got {sorted(present)}")
    (op,) = operators
    return _parse_operator(op, expression[op], f"{path}.{op}")


def parse_variable(name: str, path: str) -> ScoreVariable | PayloadVariable:
    """`$score`, `$score[i]` or a payload key; any other `$` word is reserved and rejected."""
    if name.startswith("$"):
        match = _SCORE_VARIABLE.fullmatch(name)
        if match is None:
            raise ValueError(f"{path}: invalid reserved variable {name!r} (only $score and $score[i])")
        return ScoreVariable(int(match.group(1) or 0), path)
    if not name.strip():
        raise ValueError(f"{path}: an empty string is not a payload key")
    return PayloadVariable(name, path)


def decay_lambda(kind: str, midpoint: float | None, scale: float | None, path: str) -> float:
    """Qdrant's decay constant: lin (1 - m) / s, exp ln(m) / s, gauss ln(m) / s^2."""
    midpoint = DEFAULT_DECAY_MIDPOINT if midpoint is None else _number(midpoint, f"{path}.midpoint")
    scale = DEFAULT_DECAY_SCALE if scale is None else _number(scale, f"{path}.scale")
    if kind == "lin" and not 0.0 <= midpoint <= 1.0:
        raise ValueError(f"{path}.midpoint: linear decay midpoint must be in [0, 1], got {midpoint}")
    if kind != "lin" and not 0.0 < midpoint < 1.0:
        raise ValueError(f"{path}.midpoint: decay midpoint must be in (0, 1), got {midpoint}")
    if scale <= 0.0:
        raise ValueError(f"{path}.scale: decay scale must be > 0, got {scale}")
    if kind == "lin":
        return (1.0 - midpoint) / scale
    if kind == "exp":
        return math.log(midpoint) / scale
    return math.log(midpoint) / (scale * scale)


def _parse_operator(op: str, body: Any, path: str) -> Node:
    if op in NARY_OPS:
        if isinstance(body, (str, bytes, Mapping)) or not isinstance(body, (list, tuple)):
            raise TypeError(f"{path}: expected a list of expressions")
        if op in ("max", "min") and not body:
            raise ValueError(f"{path}: needs at least one operand")
        return Nary(op, tuple(parse_expression(item, f"{path}[{i}]") for i, item in enumerate(body)), path)
    if op in UNARY_OPS:
        return Unary(op, parse_expression(body, path), path)
    if op in DECAY_OPS:
        params = _object(body, path, required=("x",), optional=("target", "scale", "midpoint"))
        kind = op.removesuffix("_decay")
        target = params.get("target")
        return Decay(
            kind,
            parse_expression(params["x"], f"{path}.x"),
            None if target is None else parse_expression(target, f"{path}.target"),
            decay_lambda(kind, params.get("midpoint"), params.get("scale"), path),
            path,
        )
    if op == "div":
        params = _object(body, path, required=("left", "right"), optional=("by_zero_default",))
        default = params.get("by_zero_default")
        return Div(
            parse_expression(params["left"], f"{path}.left"),
            parse_expression(params["right"], f"{path}.right"),
            None if default is None else _finite(_number(default, f"{path}.by_zero_default"), f"{path}.by_zero_default"),
            path,
        )
    if op == "pow":
        params = _object(body, path, required=("base", "exponent"), optional=())
        return Pow(parse_expression(params["base"], f"{path}.base"), parse_expression(params["exponent"], f"{path}.exponent"), path)
    if op == "geo_distance":
        params = _object(body, path, required=("origin", "to"), optional=())
        lat, lon = parse_geo_point(params["origin"], f"{path}.origin")
        return GeoDistance(lat, lon, _key(params["to"], f"{path}.to"), path)
    if op == "datetime":
        return Constant(parse_datetime(body, path), path)
    return DatetimeKey(_key(body, path), path)  # "datetime_key"


def parse_geo_point(value: Any, path: str) -> tuple[float, float]:
    """`{"lat": .., "lon": ..}` with lat in [-90, 90] and lon in [-180, 180]."""
    params = _object(value, path, required=("lat", "lon"), optional=())
    lat = _finite(_number(params["lat"], f"{path}.lat"), f"{path}.lat")
    lon = _finite(_number(params["lon"], f"{path}.lon"), f"{path}.lon")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"{path}.lat: latitude must be in [-90, 90], got {lat}")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"{path}.lon: longitude must be in [-180, 180], got {lon}")
    return lat, lon


def _object(body: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise TypeError(f"{path}: expected an object")
    for name in required:
        if body.get(name) is None:
            raise ValueError(f"{path}.{name}: is required")
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {unknown}")
    return body


def _key(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{path}: expected a non-empty payload key")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{path}: expected a number, got {type(value).__name__}")
    return float(value)


def _finite(value: float, path: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{path}: must be finite, got {value}")
    return value
