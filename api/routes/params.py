"""Typed handler parameters shared by the routes (Litestar's explicit parameter style)."""

from __future__ import annotations

from typing import Annotated, Optional

from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from api.runtime import Runtime

Rt = NamedDependency[Runtime]
CollectionName = Annotated[str, PathParameter(description="Name of the collection (or an alias of it)")]
PathName = Annotated[str, PathParameter()]
Wait = Annotated[Optional[bool], QueryParameter(
    description="true: answer when the change is applied (`completed`); false: `acknowledged`")]
QueryText = Annotated[Optional[str], QueryParameter()]
DetailsLevel = Annotated[Optional[int], QueryParameter(ge=0, description="How much detail to report")]
Timeout = Annotated[Optional[int], QueryParameter(ge=1, description="Seconds to wait")]
Flag = Annotated[Optional[bool], QueryParameter()]
