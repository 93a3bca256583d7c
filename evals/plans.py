"""Retrieval plans: named Query API requests with placeholders for each query's inputs.

A plan is what a user would POST to ``/collections/{name}/points/query``, written once for every
query of a dataset. String values that are exactly one of these placeholders are replaced per query:

- ``"$text"``: the query text (e.g. ``{"bm25": {"text": "$text", "field": "text"}}``, or a
  server-side ``{"text": "$text", "model": "qdrant/bm25"}`` document);
- ``"$dense"``: the query's dense vector from the dataset's embedder (vector ``dense``);
- ``"$sparse"``: the query's ``qdrant/bm25`` sparse vector ``{"indices", "values"}`` (vector
  ``sparse``);
- ``"$tokens"``: the query's per-token matrix for MaxSim (multivector ``tokens``).

The runner indexes a collection with the vectors ``dense``, ``sparse`` and ``tokens`` and the
BM25 text field ``text`` (see :mod:`evals.runner`) and sets ``limit`` (the evaluation depth).

A plan file is JSON: one ``{"name": ..., "request": {...}}`` object, or a list of them, or
``{"plans": [...]}``. Built-in plans (:func:`builtin_plans`) fuse BM25 (tantivy) with dense:

- ``rrf``: ``1 / (k + r)`` per list at 0-based rank r, summed (k = 60, the literature default);
- ``dbsf``: each list scaled by mean +- 3 sigma, summed;
- ``linear_<a>``: ``(1 - a) * bm25 + a * dense`` after min-max scaling (``linear_sweep`` = every
  a in 0.1 .. 0.9);
- ``rrf_maxsim``: the ``rrf`` top ``depth`` reranked by MaxSim over MiniLM token vectors.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Mapping

import msgspec

PLACEHOLDERS = ("$text", "$dense", "$sparse", "$tokens")
TEXT_FIELD = "text"
#: Vector names of the evaluation collection, with the placeholder that feeds each one.
VECTOR_OF_PLACEHOLDER = {"$dense": "dense", "$sparse": "sparse", "$tokens": "tokens"}
DEFAULT_PLANS = ("bm25", "sparse", "dense", "multivector", "rrf", "dbsf", "linear_0.5", "rrf_maxsim")
LINEAR_ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RRF_K = 60
PREFETCH_DEPTH = 100


class Plan(msgspec.Struct, frozen=True):
    """A named Query API request (with placeholders); ``description`` is shown in reports."""

    name: str
    request: dict[str, Any]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("name: a plan needs a non-empty name")
        if not isinstance(self.request, dict):
            raise TypeError(f"request: plan {self.name!r} needs a JSON object, got {type(self.request).__name__}")


def bm25_text(field: str = TEXT_FIELD) -> dict[str, Any]:
    """The BM25 query over a tantivy text field (the engine's ``bm25`` Query API extension)."""
    return {"bm25": {"text": "$text", "field": field}}


def bm25_and_dense(depth: int = PREFETCH_DEPTH) -> list[dict[str, Any]]:
    """The two prefetches every built-in fusion plan combines, in this order: BM25, dense."""
    return [{"query": bm25_text(), "limit": depth}, {"query": "$dense", "using": "dense", "limit": depth}]


def fused(query: dict[str, Any], depth: int = PREFETCH_DEPTH) -> dict[str, Any]:
    """A fusion of BM25 and dense under ``query`` (e.g. ``{"rrf": {"k": 60}}``)."""
    return {"prefetch": bm25_and_dense(depth), "query": query}


def linear_plan(alpha: float, normalization: str = "minmax", depth: int = PREFETCH_DEPTH) -> Plan:
    """``(1 - alpha) * norm(bm25) + alpha * norm(dense)``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a dense weight in [0, 1], got {alpha!r}")
    weights = [round(1.0 - alpha, 6), round(alpha, 6)]
    suffix = "" if normalization == "minmax" else f"_{normalization}"
    return Plan(
        f"linear_{alpha:g}{suffix}",
        fused({"linear": {"weights": weights, "normalization": normalization}}, depth),
        f"{weights[0]:g} * {normalization}(bm25) + {weights[1]:g} * {normalization}(dense)",
    )


def rrf_plan(k: float = RRF_K, weights: list[float] | None = None, depth: int = PREFETCH_DEPTH) -> Plan:
    """RRF of BM25 and dense with constant ``k`` and optional per-list weights."""
    body: dict[str, Any] = {"k": k}
    name = f"rrf_k{k:g}"
    if weights is not None:
        body["weights"] = list(weights)
        name += "_w" + ",".join(f"{w:g}" for w in weights)
    return Plan(name, fused({"rrf": body}, depth), f"RRF(bm25, dense), k={k:g}, weights={weights or [1, 1]}")


def builtin_plans(depth: int = PREFETCH_DEPTH) -> dict[str, Plan]:
    """Every built-in plan by name (see module docstring); prefetches keep ``depth`` points."""
    plans = [
        Plan("bm25", {"query": bm25_text()}, "BM25 over the tantivy text field"),
        Plan("sparse", {"query": "$sparse", "using": "sparse"}, "qdrant/bm25 sparse vectors, idf modifier"),
        Plan("dense", {"query": "$dense", "using": "dense"}, "dense nearest (cosine)"),
        Plan("multivector", {"query": "$tokens", "using": "tokens"}, "MaxSim over token vectors, full scan"),
        Plan("rrf", fused({"rrf": {"k": RRF_K}}, depth), f"RRF(bm25, dense), k={RRF_K}"),
        Plan("rrf_default", fused({"fusion": "rrf"}, depth), "RRF(bm25, dense), engine default k"),
        Plan("dbsf", fused({"fusion": "dbsf"}, depth), "DBSF(bm25, dense)"),
        Plan(
            "rrf_maxsim",
            {"prefetch": [{**fused({"rrf": {"k": RRF_K}}, depth), "limit": depth}], "query": "$tokens", "using": "tokens"},
            f"RRF(bm25, dense) top {depth} reranked by MaxSim",
        ),
        Plan(
            "rrf3",
            {
                "prefetch": [*bm25_and_dense(depth), {"query": "$sparse", "using": "sparse", "limit": depth}],
                "query": {"rrf": {"k": RRF_K}},
            },
            f"RRF(bm25, dense, sparse), k={RRF_K}",
        ),
    ]
    plans += [linear_plan(alpha, depth=depth) for alpha in LINEAR_ALPHAS]
    return {plan.name: plan for plan in plans}


#: Names that stand for several built-in plans.
PLAN_GROUPS = {
    "default": DEFAULT_PLANS,
    "linear_sweep": tuple(f"linear_{alpha:g}" for alpha in LINEAR_ALPHAS),
}


def select_plans(names: Iterable[str], extra: Iterable[Plan] = (), depth: int = PREFETCH_DEPTH) -> list[Plan]:
    """Plans by name (built-in, group, or one of ``extra``), in the order given, without repeats."""
    known = {**builtin_plans(depth), **{plan.name: plan for plan in extra}}
    chosen: dict[str, Plan] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        for member in PLAN_GROUPS.get(name, (name,)):
            if member not in known:
                raise ValueError(f"plans: unknown plan {member!r}; known: {sorted(known)} and groups {sorted(PLAN_GROUPS)}")
            chosen.setdefault(member, known[member])
    if not chosen:
        raise ValueError("plans: no plan selected")
    return list(chosen.values())


def load_plans(path: str | Path) -> list[Plan]:
    """Plans from a JSON file (one plan, a list, or ``{"plans": [...]}``)."""
    path = Path(path)
    try:
        data = msgspec.json.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError) as error:
        raise ValueError(f"{path}: cannot read plans: {error}") from None
    if isinstance(data, dict) and "plans" in data:
        data = data["plans"]
    items = data if isinstance(data, list) else [data]
    try:
        return [msgspec.convert(item, Plan) for item in items]
    except msgspec.ValidationError as error:
        raise ValueError(f"{path}: not a plan ({{'name', 'request'}}): {error}") from None


def placeholders(value: Any) -> set[str]:
    """The placeholders used anywhere in a request."""
    if isinstance(value, str):
        return {value} if value in PLACEHOLDERS else set()
    if isinstance(value, Mapping):
        return set().union(*(placeholders(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(placeholders(item) for item in value))
    return set()


def vector_names(value: Any) -> set[str]:
    """Vector names a request searches: every ``using`` plus those implied by placeholders."""
    found = {VECTOR_OF_PLACEHOLDER[name] for name in placeholders(value) if name in VECTOR_OF_PLACEHOLDER}
    if isinstance(value, Mapping):
        if isinstance(value.get("using"), str):
            found.add(value["using"])
        for item in value.values():
            found |= vector_names(item)
    elif isinstance(value, list):
        for item in value:
            found |= vector_names(item)
    return found


def fill(request: Any, inputs: Mapping[str, Any]) -> Any:
    """A copy of ``request`` with every placeholder string replaced by ``inputs[placeholder]``.

    Containers are copied, input values are shared (not copied): a request is built per query.
    """
    if isinstance(request, str):
        if request in PLACEHOLDERS:
            if request not in inputs:
                raise ValueError(f"request: placeholder {request} has no value for this query")
            return inputs[request]
        return request
    if isinstance(request, Mapping):
        return {key: fill(value, inputs) for key, value in request.items()}
    if isinstance(request, list):
        return [fill(value, inputs) for value in request]
    return copy.copy(request)
