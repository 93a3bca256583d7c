"""Payload indexes: turn one field condition into a bitset over offsets without reading JSON.

Kinds follow Qdrant's `PayloadSchemaType`: keyword, integer, float, bool, datetime, uuid, geo
(text is a tantivy index owned by `indexes/text`). Each index is built from a segment's
payloads, updated per offset (`add`, `remove`) in the appendable segment, and answers
`match(condition, size) -> bool[size] | None` and `cardinality(condition) -> (min, exp, max) |
None`; None means "not a condition this index serves", and the caller scans the column.
`FieldColumns` is the exact scan used for unindexed fields and as the test oracle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from indexes.payload.columns import FieldColumns
from indexes.payload.geo_index import GeoIndex
from indexes.payload.keyword import BoolIndex, KeywordIndex, UuidIndex
from indexes.payload.numeric import DatetimeIndex, FloatIndex, IntegerIndex, OrderedIndex
from indexes.payload.pairs import PayloadValueIndex

INDEX_KINDS: dict[str, type[PayloadValueIndex]] = {
    "keyword": KeywordIndex,
    "integer": IntegerIndex,
    "float": FloatIndex,
    "bool": BoolIndex,
    "datetime": DatetimeIndex,
    "uuid": UuidIndex,
    "geo": GeoIndex,
}


def _as_dict(schema: Any) -> dict:
    if isinstance(schema, dict):
        return schema
    if hasattr(schema, "model_dump"):
        return schema.model_dump(exclude_none=True)
    if isinstance(schema, msgspec.Struct):
        return msgspec.structs.asdict(schema)
    return dict(getattr(schema, "__dict__", {}))


def create_payload_index(
    schema: str | dict | Any, key: str, payloads: Sequence[dict | None] = (),
) -> PayloadValueIndex:
    """Build the index for `schema` (a type name, or Qdrant's params object with "type") on `key`.

    Integer params `lookup`/`range` are honoured; other params (on_disk, is_tenant, ...) do not
    change results and are ignored here.
    """
    if isinstance(schema, str):
        kind, params = schema, {}
    else:
        params = _as_dict(schema)
        if "type" not in params:
            raise TypeError("field_schema: expected a type name or an object with a 'type'")
        kind = str(getattr(params["type"], "value", params["type"]))
    if kind not in INDEX_KINDS:
        raise ValueError(f"field_schema: unsupported payload index type {kind!r} (text belongs to indexes/text)")
    extra = {}
    if kind == "integer":
        extra = {name: bool(params[name]) for name in ("lookup", "range") if params.get(name) is not None}
    return INDEX_KINDS[kind].build(key, payloads, **extra)


__all__ = [
    "BoolIndex", "DatetimeIndex", "FieldColumns", "FloatIndex", "GeoIndex", "INDEX_KINDS",
    "IntegerIndex", "KeywordIndex", "OrderedIndex", "PayloadValueIndex", "UuidIndex",
    "create_payload_index",
]
