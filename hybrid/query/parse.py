"""A `query` as written (Qdrant's JSON `Query`, or a qdrant-client model) -> a typed operation.

Accepted shapes (Qdrant's `QueryInterface`, plus our `linear` fusion):

- a vector input: dense `[..]`, multivector `[[..], ..]`, sparse `{"indices", "values"}`,
  a point id, a document `{"text", "model"}`; or `{"nearest": <input>, "mmr": {..}}`;
- `{"recommend": {"positive", "negative", "strategy"}}`, strategy `average_vector` (default),
  `best_score` or `sum_scores`;
- `{"discover": {"target", "context": [{"positive", "negative"}, ..]}}`, `{"context": [..]}`;
- `{"order_by": "key" | {"key", "direction", "start_from"}}`, `{"sample": "random"}`;
- `{"fusion": "rrf" | "dbsf"}`, `{"rrf": {"k", "weights"}}`, `{"linear": {"weights",
  "normalization"}}` (our extension: min-max or z-score normalised, weighted sum);
- `{"formula": <expression>, "defaults": {..}}` (see `fusion.formula`);
- `{"relevance_feedback": {"target", "feedback": [{"example", "score"}], "strategy":
  {"naive": {"a", "b", "c"}}}}`;
- `{"bm25": {"text", "field", "k1", "b"}}` (our extension): BM25 over a text-indexed payload
  field (hybrid.text).

`parse_query` only checks shapes; vector inputs stay as written (ids and documents are
resolved by `hybrid.query.vectors`). Errors are `ValidationError`s naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from hybrid import models as m
from hybrid.errors import ValidationError
from indexes.payload.jsonpath import parse_path

STRATEGIES = ("average_vector", "best_score", "sum_scores")


@dataclass(frozen=True)
class Mmr:
    diversity: Optional[float]
    candidates_limit: Optional[int]


@dataclass(frozen=True)
class Nearest:
    example: Any
    mmr: Optional[Mmr] = None


@dataclass(frozen=True)
class Recommend:
    positive: list
    negative: list
    strategy: str


@dataclass(frozen=True)
class Discover:
    target: Any
    pairs: list  # [(positive, negative), ..]


@dataclass(frozen=True)
class Context:
    pairs: list  # [(positive, negative), ..]


@dataclass(frozen=True)
class Feedback:
    """Relevance feedback, naive strategy: a * sim(target) + sum c * conf^b * delta."""

    target: Any
    examples: list
    scores: list[float]
    a: float
    b: float
    c: float


@dataclass(frozen=True)
class OrderBy:
    key: str
    descending: bool
    start_from: Optional[float]  # in order-value units (numbers; datetimes as UTC microseconds)


@dataclass(frozen=True)
class Bm25:
    text: str
    field: str
    k1: Optional[float] = None
    b: Optional[float] = None


@dataclass(frozen=True)
class Sample:
    pass


@dataclass(frozen=True)
class Fusion:
    method: str  # "rrf" | "dbsf" | "linear"
    k: Optional[int] = None
    weights: Optional[list] = None
    normalization: str = "minmax"


@dataclass(frozen=True)
class FormulaQuery:
    formula: Any  # fusion.Formula


Operation = Union[Nearest, Recommend, Discover, Context, Feedback, OrderBy, Sample, Fusion, FormulaQuery, Bm25]
#: Operations that score points by their vectors on `using`.
VECTOR_OPERATIONS = (Nearest, Recommend, Discover, Context, Feedback)
#: Operations that merge prefetch results instead of reading the collection.
MERGE_OPERATIONS = (Fusion, FormulaQuery)


_PLAIN = (dict, list, tuple, str, int, float, bool, type(None), np.ndarray)


def shallow(obj: Any) -> Any:
    """JSON builtins at the top level only: a model becomes JSON, a plain container is kept as
    it is (its items are converted where they are read), so long vectors are never walked
    number by number."""
    return obj if isinstance(obj, _PLAIN) else m.to_builtins(obj)


def parse_query(raw: Any, field: str = "query") -> Optional[Operation]:
    """The typed operation of a query (None when there is no query)."""
    query = shallow(raw)
    if query is None:
        return None
    if not isinstance(query, dict) or ("indices" in query) or ("text" in query and "model" in query):
        return Nearest(query)
    for key, parser in _PARSERS.items():
        if key in query:
            return parser(query, f"{field}.{key}" if key != "formula" else field)
    raise ValidationError(field, f"unknown query with keys {sorted(query)}")


def _nearest(query: dict, field: str) -> Nearest:
    mmr = shallow(query.get("mmr"))
    if mmr is None:
        return Nearest(query["nearest"])
    if not isinstance(mmr, dict):
        raise ValidationError(field.replace("nearest", "mmr"), "expected {diversity, candidates_limit}")
    limit = mmr.get("candidates_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError(field.replace("nearest", "mmr.candidates_limit"), "expected a non-negative integer")
    return Nearest(query["nearest"], Mmr(mmr.get("diversity"), limit))


def _recommend(query: dict, field: str) -> Recommend:
    body = _body(query["recommend"], field)
    strategy = body.get("strategy") or "average_vector"
    if strategy not in STRATEGIES:
        raise ValidationError(f"{field}.strategy", f"unknown strategy {strategy!r}: expected one of {STRATEGIES}")
    positive, negative = _list(body.get("positive"), f"{field}.positive"), _list(body.get("negative"), f"{field}.negative")
    if strategy == "average_vector" and not positive:
        raise ValidationError(f"{field}.positive", "average_vector needs at least one positive example")
    if not positive and not negative:
        raise ValidationError(field, "needs at least one positive or negative example")
    return Recommend(positive, negative, strategy)


def _pairs(raw: Any, field: str) -> list:
    items = raw if isinstance(raw, list) else [raw]
    pairs = []
    for i, pair in enumerate(items):
        pair = shallow(pair)
        if not isinstance(pair, dict) or pair.get("positive") is None or pair.get("negative") is None:
            raise ValidationError(f"{field}[{i}]", "expected a context pair {positive, negative}")
        pairs.append((pair["positive"], pair["negative"]))
    return pairs


def _discover(query: dict, field: str) -> Discover:
    body = _body(query["discover"], field)
    if body.get("target") is None:
        raise ValidationError(f"{field}.target", "is required")
    return Discover(body["target"], _pairs(body.get("context") or [], f"{field}.context"))


def _context(query: dict, field: str) -> Context:
    pairs = _pairs(query["context"] if query["context"] is not None else [], field)
    if not pairs:
        raise ValidationError(field, "needs at least one context pair")
    return Context(pairs)


def _feedback(query: dict, field: str) -> Feedback:
    body = _body(query["relevance_feedback"], field)
    items = _list(body.get("feedback"), f"{field}.feedback")
    strategy = shallow(body.get("strategy"))
    naive = shallow(strategy.get("naive")) if isinstance(strategy, dict) else None
    if body.get("target") is None or not isinstance(naive, dict):
        raise ValidationError(field, "expected {target, feedback, strategy: {naive: {a, b, c}}}")
    examples, scores = [], []
    for i, item in enumerate(items):
        item = shallow(item)
        if not isinstance(item, dict) or "example" not in item or not _is_number(item.get("score")):
            raise ValidationError(f"{field}.feedback[{i}]", "expected {example, score}")
        examples.append(item["example"])
        scores.append(float(item["score"]))
    coefficients = [naive.get(name) for name in ("a", "b", "c")]
    if not all(_is_number(v) for v in coefficients):
        raise ValidationError(f"{field}.strategy.naive", "a, b and c must be numbers")
    return Feedback(body["target"], examples, scores, *(float(v) for v in coefficients))


def parse_order_by(value: Any, field: str = "order_by") -> OrderBy:
    """A scroll's `order_by`: a payload key or {key, direction, start_from}."""
    return _order_by({"order_by": value}, field)


def _order_by(query: dict, field: str) -> OrderBy:
    body = shallow(query["order_by"])
    if isinstance(body, str):
        body = {"key": body}
    if not isinstance(body, dict) or not isinstance(body.get("key"), str) or not body["key"]:
        raise ValidationError(field, "expected a payload key or {key, direction, start_from}")
    try:
        parse_path(body["key"])
    except ValueError as exc:
        raise ValidationError(f"{field}.key", str(exc)) from None
    direction = body.get("direction") or "asc"
    if direction not in ("asc", "desc"):
        raise ValidationError(f"{field}.direction", f"expected 'asc' or 'desc', got {direction!r}")
    return OrderBy(body["key"], direction == "desc", _order_value(body.get("start_from"), f"{field}.start_from"))


def _order_value(value: Any, field: str) -> Optional[float]:
    """Numbers stay; a datetime string becomes UTC microseconds (the order value of datetimes)."""
    if value is None or _is_number(value):
        return None if value is None else float(value)
    from indexes.payload.datetimes import parse_micros

    micros = parse_micros(value) if isinstance(value, str) else None
    if micros is None:
        raise ValidationError(field, "expected a number or a datetime string")
    return float(micros)


def bm25_query(query: dict, field: str) -> Bm25:
    body = _body(query["bm25"], field)
    for name in ("text", "field"):
        if not isinstance(body.get(name), str):
            raise ValidationError(f"{field}.{name}", "expected a string")
    for name in ("k1", "b"):
        if body.get(name) is not None and not _is_number(body[name]):
            raise ValidationError(f"{field}.{name}", "expected a number")
    return Bm25(body["text"], body["field"], body.get("k1"), body.get("b"))


def _sample(query: dict, field: str) -> Sample:
    if query["sample"] != "random":
        raise ValidationError(field, f"unknown sample {query['sample']!r}: expected 'random'")
    return Sample()


def _fusion(query: dict, field: str) -> Fusion:
    if query["fusion"] not in ("rrf", "dbsf"):
        raise ValidationError(field, f"unknown fusion {query['fusion']!r}: expected rrf or dbsf")
    return Fusion(query["fusion"])


def _rrf(query: dict, field: str) -> Fusion:
    body = _body(query["rrf"] or {}, field)
    return Fusion("rrf", k=body.get("k"), weights=body.get("weights"))


def _linear(query: dict, field: str) -> Fusion:
    body = _body(query["linear"] or {}, field)
    return Fusion("linear", weights=body.get("weights"), normalization=body.get("normalization") or "minmax")


def _formula(query: dict, field: str) -> FormulaQuery:
    from fusion.formula import Formula

    try:
        return FormulaQuery(Formula.parse(query["formula"], query.get("defaults")))
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, str(exc)) from None


_PARSERS = {
    "nearest": _nearest, "recommend": _recommend, "discover": _discover, "context": _context,
    "relevance_feedback": _feedback, "order_by": _order_by, "sample": _sample, "fusion": _fusion,
    "rrf": _rrf, "linear": _linear, "formula": _formula, "bm25": bm25_query,
}


def _body(value: Any, field: str) -> dict:
    value = shallow(value)
    if not isinstance(value, dict):
        raise ValidationError(field, "expected an object")
    return value


def _list(value: Any, field: str) -> list:
    value = shallow(value)
    if value is None:
        return []
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ValidationError(field, "expected a list")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
