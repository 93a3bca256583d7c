"""Formula queries against qdrant-client's local-mode evaluator, operator by operator."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from qdrant_client.http import models
from qdrant_client.hybrid.formula import evaluate_expression, parse_defaults, validate_expression
from qdrant_client.local.geo import geo_distance
from qdrant_client.local.payload_filters import check_filter

from fusion.formula import Formula, haversine_m

N = 24


def _payloads(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    payloads = []
    for i in range(N):
        payload = {
            "price": float(np.round(rng.uniform(0.5, 10.0), 3)),
            "count": int(rng.integers(0, 4)),
            "tag": str(rng.choice(["a", "b"])),
            "loc": {"lat": float(rng.uniform(-60, 60)), "lon": float(rng.uniform(-170, 170))},
            "ts": (base + timedelta(seconds=int(rng.integers(0, 10**7)))).isoformat(),
        }
        if i % 5 == 4:  # some points lack the optional fields: defaults kick in
            for key in ("price", "loc", "ts"):
                del payload[key]
        payloads.append(payload)
    return payloads


def _prefetch_scores(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 100)
    first = rng.uniform(0.1, 1.0, N)
    second = np.where(np.arange(N) % 2 == 0, rng.uniform(-1.0, 1.0, N), np.nan)  # half absent
    return [first, second]


class PayloadContext:
    """What the engine provides, built naively from payload dicts."""

    def __init__(self, payloads: list[dict], scores: list[np.ndarray]) -> None:
        self.payloads = payloads
        self.scores = scores

    def variable(self, key: str) -> np.ndarray:
        values = [p.get(key) for p in self.payloads]
        if any(v is not None and not isinstance(v, (int, float)) for v in values):
            raise ValueError(f"{key}: not a number")
        return np.array([np.nan if v is None else float(v) for v in values])

    def condition(self, condition: dict) -> np.ndarray:
        flt = models.Filter.model_validate({"must": [condition]})
        return np.array([check_filter(flt, p, i, {}) for i, p in enumerate(self.payloads)])

    def geo(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        points = [p.get(key) or {"lat": np.nan, "lon": np.nan} for p in self.payloads]
        return np.array([g["lat"] for g in points]), np.array([g["lon"] for g in points])

    def datetime(self, key: str) -> np.ndarray:
        return np.array([datetime.fromisoformat(p[key]).timestamp() if key in p else np.nan for p in self.payloads])


def _client(expression, defaults, payloads, scores) -> np.ndarray:
    query = models.FormulaQuery(formula=expression, defaults=defaults)
    validate_expression(query.formula)
    parsed_defaults = parse_defaults(query.defaults or {})
    by_id = [{i: float(s) for i, s in enumerate(column) if not np.isnan(s)} for column in scores]
    return np.array(
        [evaluate_expression(query.formula, i, by_id, p, {}, parsed_defaults) for i, p in enumerate(payloads)],
        dtype=np.float32,
    )


DEFAULTS = {"price": 2.0, "loc": {"lat": 10.0, "lon": 20.0}, "ts": "2024-03-01T00:00:00Z", "$score[1]": -0.25}
ORIGIN = {"lat": 52.52, "lon": 13.405}
CASES = {
    "constant": 3.25,
    "score": "$score",
    "score_index_default": "$score[1]",
    "score_out_of_range": "$score[7]",
    "payload": "price",
    "condition": {"key": "tag", "match": {"value": "a"}},
    "nested_filter_condition": {"must": [{"key": "count", "range": {"gte": 2}}]},
    "sum": {"sum": ["$score", "price", 0.5]},
    "mult": {"mult": ["$score", "price", -2]},
    "mult_condition_boost": {"sum": ["$score", {"mult": [0.5, {"key": "tag", "match": {"any": ["b"]}}]}]},
    "neg": {"neg": "price"},
    "abs": {"abs": "$score[1]"},
    "div": {"div": {"left": "price", "right": {"sum": ["count", 1]}}},
    "div_by_zero_default": {"div": {"left": "price", "right": "count", "by_zero_default": 7.5}},
    "sqrt": {"sqrt": "price"},
    "pow": {"pow": {"base": "price", "exponent": 1.5}},
    "exp": {"exp": "$score"},
    "log10": {"log10": "price"},
    "ln": {"ln": {"sum": ["count", 1]}},
    "max": {"max": ["$score", "$score[1]", 0.3]},
    "min": {"min": ["$score", "$score[1]"]},
    "lin_decay": {"lin_decay": {"x": "price", "target": 5.0, "scale": 3.0, "midpoint": 0.2}},
    "exp_decay": {"exp_decay": {"x": "price", "scale": 4.0}},
    "gauss_decay": {"gauss_decay": {"x": "$score", "target": 0.5, "midpoint": 0.3}},
    "geo_distance": {"geo_distance": {"origin": ORIGIN, "to": "loc"}},
    "geo_decay": {"exp_decay": {"x": {"geo_distance": {"origin": ORIGIN, "to": "loc"}}, "scale": 5e6}},
    "datetime": {"datetime": "2024-02-03T04:05:06+01:00"},
    "datetime_key": {"datetime_key": "ts"},
    "time_decay": {
        "gauss_decay": {"x": {"datetime_key": "ts"}, "target": {"datetime": "2024-02-01"}, "scale": 86400 * 30}
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_formula_operator_matches_qdrant_client(name, seed):
    payloads, scores = _payloads(seed), _prefetch_scores(seed)
    expression = CASES[name]
    ours = Formula.parse(expression, DEFAULTS).evaluate(PayloadContext(payloads, scores), N)
    expected = _client(expression, DEFAULTS, payloads, scores)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-6)


def test_formula_score_defaults_and_missing_prefetch():
    scores = [np.array([0.5, np.nan]), np.array([np.nan, np.nan])]
    ctx = PayloadContext([{}, {}], scores)
    assert Formula.parse("$score").evaluate(ctx, 2).tolist() == [0.5, 0.0]
    assert Formula.parse("$score[0]", {"$score": 9}).evaluate(ctx, 2).tolist() == [0.5, 9.0]
    assert Formula.parse("$score[1]", {"$score[1]": "x"}).evaluate(ctx, 2).tolist() == [0.0, 0.0]


def test_formula_missing_variable_without_default_is_an_error():
    ctx = PayloadContext([{"price": 1.0}, {}], [np.ones(2)])
    with pytest.raises(ValueError, match=r"formula.sum\[1\].*'price'"):
        Formula.parse({"sum": ["$score", "price"]}).evaluate(ctx, 2)
    with pytest.raises(ValueError, match="not a number"):
        Formula.parse("price", {"price": "cheap"}).evaluate(ctx, 2)


def test_formula_short_circuits_like_qdrant():
    # the missing `price` is never read: a zero factor ends mult, a zero numerator ends div
    ctx = PayloadContext([{"count": 0}, {"count": 0}], [np.ones(2)])
    assert Formula.parse({"mult": ["count", "price"]}).evaluate(ctx, 2).tolist() == [0.0, 0.0]
    assert Formula.parse({"div": {"left": "count", "right": "price"}}).evaluate(ctx, 2).tolist() == [0.0, 0.0]
    ctx = PayloadContext([{"count": 0}, {"count": 1}], [np.ones(2)])
    with pytest.raises(ValueError, match="price"):
        Formula.parse({"mult": ["count", "price"]}).evaluate(ctx, 2)


@pytest.mark.parametrize(
    "expression, path",
    [
        ({"div": {"left": 1, "right": "count"}}, "formula.div"),
        ({"sqrt": -1}, "formula.sqrt"),
        ({"log10": 0}, "formula.log10"),
        ({"ln": {"neg": 2}}, "formula.ln"),
        ({"exp": 1000}, "formula.exp"),
        ({"pow": {"base": -8, "exponent": 0.5}}, "formula.pow"),
        ({"pow": {"base": 0, "exponent": -1}}, "formula.pow"),
        ({"acosh": 0.5}, "formula.acosh"),
        ({"mult": [1e30, 1e30]}, "formula"),  # overflows float32 at the end
    ],
)
def test_formula_non_finite_results_are_errors_like_qdrant_client(expression, path):
    ctx = PayloadContext([{"count": 0}], [np.ones(1)])
    with pytest.raises(ValueError, match=path):
        Formula.parse(expression).evaluate(ctx, 1)
    with pytest.raises(ValueError), np.errstate(over="ignore"):
        score = _client(expression, {}, [{"count": 0}], [np.ones(1)])
        if not np.isfinite(score).all():
            raise ValueError("non-finite")


def test_haversine_matches_qdrant_client():
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(-90, 90, 50), rng.uniform(-180, 180, 50)
    ours = haversine_m(48.85, 2.35, lat, lon)
    expected = [geo_distance(2.35, 48.85, b, a) for a, b in zip(lat, lon)]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "expression, error, path",
    [
        ({"sum": [1, {"div": {"left": "$nope", "right": 1}}]}, ValueError, r"formula.sum\[1\].div.left"),
        ({"sum": [1, {"div": {"right": 1}}]}, ValueError, r"formula.sum\[1\].div.left"),
        ({"mult": 3}, TypeError, "formula.mult"),
        ({"max": []}, ValueError, "formula.max"),
        ({"neg": True}, TypeError, "formula.neg"),
        ({"abs": 1, "neg": 2}, ValueError, "formula"),
        ({"foo": 1}, ValueError, "formula"),
        ({"exp_decay": {"x": 1, "midpoint": 1.0}}, ValueError, "formula.exp_decay.midpoint"),
        ({"lin_decay": {"x": 1, "midpoint": 1.5}}, ValueError, "formula.lin_decay.midpoint"),
        ({"gauss_decay": {"x": 1, "scale": 0}}, ValueError, "formula.gauss_decay.scale"),
        ({"datetime": "yesterday"}, ValueError, "formula.datetime"),
        ({"geo_distance": {"origin": {"lat": 91, "lon": 0}, "to": "loc"}}, ValueError, "origin.lat"),
        ({"pow": {"base": 1, "exponent": 2, "modulo": 3}}, ValueError, "formula.pow"),
        ("$score[x]", ValueError, "formula"),
        ("", ValueError, "formula"),
        ([1, 2], TypeError, "formula"),
    ],
)
def test_formula_parse_errors_name_the_path(expression, error, path):
    with pytest.raises(error, match=path):
        Formula.parse(expression)


def test_formula_defaults_keys_are_validated():
    with pytest.raises(ValueError, match="defaults"):
        Formula.parse("$score", {"$other": 1})


def test_formula_rank_orders_and_limits():
    ctx = PayloadContext([{}, {}, {}], [np.array([0.2, 0.9, 0.2])])
    keys, scores = Formula.parse({"mult": ["$score", 2]}).rank(np.array([30, 10, 20]), ctx, limit=2)
    assert keys.tolist() == [10, 20] and scores.tolist() == pytest.approx([1.8, 0.4])


def test_formula_context_arrays_are_read_once():
    class Counting(PayloadContext):
        calls = 0

        def variable(self, key):
            Counting.calls += 1
            return super().variable(key)

    ctx = Counting([{"price": 2.0}], [np.ones(1)])
    Formula.parse({"sum": ["price", {"mult": ["price", "price"]}]}).evaluate(ctx, 1)
    assert Counting.calls == 1


def test_formula_accepts_msgspec_structs():
    import msgspec

    class Div(msgspec.Struct):
        left: object
        right: object
        by_zero_default: float | None = None

    class DivExpression(msgspec.Struct):
        div: Div

    ctx = PayloadContext([{"count": 4}], [np.ones(1)])
    formula = Formula.parse(DivExpression(Div("$score", "count")))
    assert formula.evaluate(ctx, 1).tolist() == [0.25]
