"""Typed handler parameters shared by the routes (Litestar's explicit parameter style)."""

from __future__ import annotations

from typing import Annotated, Optional

from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from api.runtime import Runtime
from hybrid import models as m

Rt = NamedDependency[Runtime]
CollectionName = Annotated[str, PathParameter(description="Name of the collection (or an alias of it)")]
PathName = Annotated[str, PathParameter()]
Wait = Annotated[Optional[bool], QueryParameter(
    description="true: answer when the change is applied (`completed`); false: `acknowledged`")]
QueryText = Annotated[Optional[str], QueryParameter()]
DetailsLevel = Annotated[Optional[int], QueryParameter(ge=0, description="How much detail to report")]
Timeout = Annotated[Optional[int], QueryParameter(ge=1, description="Seconds to wait")]
Flag = Annotated[Optional[bool], QueryParameter()]
Consistency = Annotated[Optional[str], QueryParameter(
    description="Read consistency: a number of replicas, or majority, quorum or all")]


def read_options(consistency: Optional[str], timeout: Optional[int]) -> dict:
    """A read route's `?consistency=` and `?timeout=` as the client's keyword arguments."""
    out: dict = {}
    if consistency is not None:
        out["consistency"] = m.read_consistency(consistency)
    if timeout is not None:
        out["timeout"] = timeout
    return out
