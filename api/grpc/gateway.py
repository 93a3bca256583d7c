"""The gRPC gateway: every RPC is one REST route called as a function (`route.fn`).

The request is converted to the route's arguments, the route makes its engine call through
`Runtime.call` (a worker thread under the same capacity limiter as REST, so a slow query never
stalls the loop or the other RPCs), and its result is converted back. The route's `access` mark
decides what key the RPC needs, checked by the REST layer's own KeyGuard. Errors map to the status
codes Qdrant's server sends (lib/storage/src/content_manager/conversions.rs): a client mistake
never becomes INTERNAL.
"""

from __future__ import annotations

import logging
import uuid
from time import perf_counter
from typing import Any, Callable

import grpc
from litestar.handlers import HTTPRouteHandler

from api.auth import KeyGuard, READ
from api.responses import Envelope, to_error
from api.runtime import Runtime
from hybrid.errors import AlreadyExists, BadRequest, DataDamaged, HybridError, StandaloneMode

log = logging.getLogger("hybrid.api")
Code = grpc.StatusCode

#: HTTP status of an error -> the gRPC code Qdrant sends for that kind of error
CODES = {400: Code.INVALID_ARGUMENT, 401: Code.UNAUTHENTICATED, 403: Code.PERMISSION_DENIED,
         404: Code.NOT_FOUND, 408: Code.DEADLINE_EXCEEDED, 409: Code.FAILED_PRECONDITION,
         412: Code.FAILED_PRECONDITION, 413: Code.RESOURCE_EXHAUSTED, 422: Code.INVALID_ARGUMENT,
         429: Code.RESOURCE_EXHAUSTED, 501: Code.UNIMPLEMENTED, 503: Code.UNAVAILABLE, 507: Code.RESOURCE_EXHAUSTED,
         504: Code.DEADLINE_EXCEEDED}
#: where Qdrant is more specific than the HTTP status (409 is also a locked data folder; REST's
#: 405 "standalone mode" is tonic's Unimplemented in Qdrant's conversions.rs)
CLASS_CODES = {AlreadyExists: Code.ALREADY_EXISTS, DataDamaged: Code.DATA_LOSS, StandaloneMode: Code.UNIMPLEMENTED}


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """(gRPC code, message) of an exception an RPC raised; internal faults are logged."""
    status, message = to_error(exc)
    code = next((c for cls, c in CLASS_CODES.items() if isinstance(exc, cls)), None)
    code = code or CODES.get(status) or (Code.INTERNAL if status >= 500 else Code.INVALID_ARGUMENT)
    if code in (Code.INTERNAL, Code.DATA_LOSS):
        error_id = uuid.uuid4().hex[:16]
        message = f"{message} (error id {error_id}; the traceback is in the server log)"
        log.error("gRPC call failed (error id %s)", error_id, exc_info=exc)
    return code, message


Decode = Callable[[Any], dict[str, Any]]
Encode = Callable[[Any, float], Any]


class Gateway:
    """What the servicers share: the runtime (client, settings, thread limiter) and the key guard."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.guard = KeyGuard(rt.settings)

    async def serve(self, route: HTTPRouteHandler, decode: Decode, encode: Encode, request: Any,
                    context: grpc.aio.ServicerContext) -> Any:
        started = perf_counter()
        try:
            self.guard.check(route.opt.get("access", READ), dict(context.invocation_metadata() or ()))
            try:
                kwargs = decode(request)
            except HybridError:
                raise
            except Exception as exc:  # a message qdrant-client's conversions or the body Struct reject
                raise BadRequest(f"{type(request).__name__}: {exc}") from exc
            answer = route.fn(rt=self.rt, **kwargs)
            answer = await answer if hasattr(answer, "__await__") else answer
            result = answer.result if isinstance(answer, Envelope) else answer
            return encode(result, perf_counter() - started)
        except Exception as exc:
            code, message = status_of(exc)
            await context.abort(code, message)


def rpc(route: HTTPRouteHandler, decode: Decode, encode: Encode) -> Callable[..., Any]:
    """A servicer method answering with `route`."""

    async def method(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.gateway.serve(route, decode, encode, request, context)

    return method

