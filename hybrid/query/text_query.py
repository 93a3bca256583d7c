"""Qdrant 1.20's BM25 text query, as a request shape of our one BM25 implementation.

`{"query": {"text": "quick fox"}, "using": "title"}` (or `{"text": {"query": ..., "scoring":
{"bm25": {"k": 1.5, "b": 0.7}}}}`) ranks points by BM25 over the text index of payload field
`using`, which must have `scoring` set (`true`, or `{"bm25": {"k", "b"}}` as the field's
defaults). It becomes our extension's `{"bm25": {"text", "field", "k1", "b"}}` before planning,
so both shapes share the index, the global statistics and the scores. (A document to embed,
`{"text", "model"}`, names a model and stays what it is.)
"""

from __future__ import annotations

from typing import Any, Optional

from hybrid.errors import ValidationError
from hybrid.query.parse import shallow


def is_text_query(query: Any) -> bool:
    return isinstance(query, dict) and "text" in query and "model" not in query


def _bm25_params(scoring: Any, where: str) -> dict:
    """{k, b} of a `scoring` value (`true`, `{"bm25": {"k", "b"}}`), None where unset. `{"type": "bm25"}`
    (qdrant-client 1.20's TextScoringParams, what its gRPC conversion makes of `true`) is `true`."""
    if scoring is True or scoring is None or scoring == {"type": "bm25"}:
        return {}
    bm25 = scoring.get("bm25") if isinstance(scoring, dict) and set(scoring) == {"bm25"} else None
    if not isinstance(bm25, dict) or set(bm25) - {"k", "b"}:
        raise ValidationError(where, "expected true or {bm25: {k, b}}")
    for name, value in bm25.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValidationError(f"{where}.bm25.{name}", "expected a number")
    return {name: value for name, value in bm25.items() if value is not None}


def as_bm25(query: dict, using: Any, field_indexes: dict, where: str = "query") -> dict:
    """The `{"bm25": ...}` query of a text query on field `using`."""
    body = query["text"]
    if isinstance(body, str):
        text, asked = body, {}
    elif isinstance(body, dict) and isinstance(body.get("query"), str) and set(body) <= {"query", "scoring"}:
        text, asked = body["query"], _bm25_params(body.get("scoring"), f"{where}.text.scoring")
    else:
        raise ValidationError(f"{where}.text", "expected a string or {query, scoring}")
    schema = field_indexes.get(using) if isinstance(using, str) else None
    if not isinstance(schema, dict) or schema.get("type") != "text":
        raise ValidationError("using", f"a text query needs `using` to name a payload field with a text index "
                              f"(got {using!r})")
    if not schema.get("scoring"):
        raise ValidationError("using", f"the text index of {using!r} has no `scoring`: create it with "
                              "{'type': 'text', 'scoring': true} to rank by BM25")
    params = {**_bm25_params(schema["scoring"], "scoring"), **asked}
    return {"bm25": {"text": text, "field": using, "k1": params.get("k"), "b": params.get("b")}}


def rewrite(query: Any, using: Optional[str], prefetch: Any, field_indexes: dict,
            where: str = "query") -> tuple[Any, Optional[str], Any]:
    """(query, using, prefetch) with every text query (here and in nested prefetches) as BM25."""
    plain = shallow(query)
    if is_text_query(plain):  # other queries stay as given (a model is converted where it is read)
        query, using = as_bm25(plain, using, field_indexes, where), None
    prefetch = shallow(prefetch)
    if isinstance(prefetch, dict):
        prefetch = _rewrite_prefetch(prefetch, field_indexes, "prefetch")
    elif isinstance(prefetch, list):
        prefetch = [_rewrite_prefetch(p, field_indexes, f"prefetch[{i}]") for i, p in enumerate(prefetch)]
    return query, using, prefetch


def _rewrite_prefetch(raw: Any, field_indexes: dict, where: str) -> Any:
    item = shallow(raw)
    if not isinstance(item, dict):
        return item
    return _replaced(item, *rewrite(item.get("query"), item.get("using"), item.get("prefetch"), field_indexes,
                                    f"{where}.query"))


def rewrite_request(request: dict, field_indexes: dict) -> dict:
    """A whole query request (dict) with its text queries as BM25."""
    if not isinstance(request, dict):
        return request
    return _replaced(request, *rewrite(request.get("query"), request.get("using"), request.get("prefetch"),
                                       field_indexes))


def _replaced(request: dict, query: Any, using: Any, prefetch: Any) -> dict:
    """`request` with the three keys set, adding none it did not have (the fast paths read
    the set of keys)."""
    new = dict(request)
    for key, value in (("query", query), ("using", using), ("prefetch", prefetch)):
        if key in request or value is not None:
            new[key] = value
    return new
