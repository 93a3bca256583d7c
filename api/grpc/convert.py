"""gRPC messages <-> the REST shapes the routes take and return, through qdrant-client's own
conversions (`GrpcToRest`, `RestToGrpc`): a request becomes the REST body Struct its route
decodes (api/schemas.py), a route's result becomes the REST model, then the gRPC reply."""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

import msgspec
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc
from qdrant_client.http import models as rest

from api.responses import with_defaults
from hybrid import models as m

T = TypeVar("T")
B = TypeVar("B")
to_rest, to_grpc = GrpcToRest, RestToGrpc


def given(message: Any, field: str, convert: Optional[Callable[[Any], Any]] = None) -> Any:
    """A message or `optional` field converted to REST, None when the request leaves it unset."""
    if not message.HasField(field):
        return None
    value = getattr(message, field)
    return convert(value) if convert is not None else value


def body(schema: type[B], **values: Any) -> B:
    """The route's body Struct from REST values (qdrant-client models included); None left out.

    It goes through the JSON shapes REST receives, so a gRPC request is validated exactly as the
    same REST request is (msgspec.ValidationError names the field)."""
    plain = to_jsonable_python(present(**values), exclude_none=True,
                               by_alias=True)
    return msgspec.convert(plain, schema)


def present(**values: Any) -> dict[str, Any]:
    """The values a request sets: an unset gRPC field is an absent REST key, never a JSON null."""
    return {k: v for k, v in values.items() if v is not None}


def as_rest(model: type[T], value: Any) -> T:
    """A route's result (a hybrid.models Struct or builtins) as qdrant-client's REST model."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    return model.model_validate(m.to_builtins(with_defaults(value)))


def rest_many(model: type[T], values: Any) -> list[T]:
    return [as_rest(model, v) for v in values]


def points_selector(message: Any, field: str) -> dict[str, Any]:
    """REST's selector keys (`points` or `filter`) of a gRPC PointsSelector field."""
    selector = given(message, field, to_rest.convert_points_selector)
    if isinstance(selector, rest.PointIdsList):
        return {"points": selector.points}
    if isinstance(selector, rest.FilterSelector):
        return {"filter": selector.filter}
    return {}


def wait(message: Any) -> Optional[bool]:
    return message.wait if message.HasField("wait") else None


__all__ = ["as_rest", "body", "given", "points_selector", "present", "rest", "rest_many", "to_grpc", "to_rest", "wait"]
