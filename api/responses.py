"""Qdrant's response envelopes and the one place where exceptions become HTTP errors.

Success: `{"result": ..., "status": "ok", "time": seconds}`.
Error: `{"status": {"error": message}, "time": seconds}` with the status code of the error:
engine errors carry theirs (hybrid.errors); malformed JSON is 400; a body or query parameter of
the wrong shape is 422 naming the field path; unknown routes 404; oversized bodies 413;
anything else is an internal fault: 500 with a generic message and an error id naming the
traceback in the server log (a ValueError from inside the engine is no user mistake).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Generic, Optional, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from hybrid.errors import HybridError, ValidationError

T = TypeVar("T")
log = logging.getLogger("hybrid.api")


class Envelope(msgspec.Struct, Generic[T]):
    """A successful answer."""

    result: T
    status: str = "ok"
    time: float = 0.0


class ErrorStatus(msgspec.Struct):
    error: str


class ErrorEnvelope(msgspec.Struct):
    """A failed request: `status.error` says why."""

    status: ErrorStatus
    time: float = 0.0


def ok(result: T, started: float) -> Envelope[T]:
    return Envelope(result=result, time=time.perf_counter() - started)


def _started(request: Request) -> float:
    return request.scope.get("state", {}).get("started", time.perf_counter())


def error_response(status_code: int, message: str, started: Optional[float] = None) -> Response:
    elapsed = time.perf_counter() - started if started is not None else 0.0
    body = msgspec.json.encode(ErrorEnvelope(ErrorStatus(message), elapsed))
    return Response(content=body, status_code=status_code, media_type="application/json")


def _validation_message(exc: ValidationException) -> tuple[int, str]:
    """Litestar's parameter/body errors -> (status, "Validation error in ...: [path: problem]")."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    if any(p.get("key") == "data" and p.get("message") == "'data'" for p in problems if isinstance(p, dict)):
        return 400, "Empty request body: a JSON body is required"
    parts = []
    for p in problems:
        if isinstance(p, dict):
            key = p.get("key", "")
            where = "body" if p.get("source") == "body" else f"{p.get('source', 'request')} parameter"
            field = "" if key == "data" else f"{key}: "
            parts.append(f"{where} {field}{p.get('message', '')}".strip())
    return 422, "Validation error: [" + "; ".join(parts or [str(exc.detail)]) + "]"


def to_error(exc: Exception) -> tuple[int, str]:
    """(HTTP status, message) for any exception a handler can raise."""
    if isinstance(exc, ValidationError):
        return 422, f"Validation error: {exc.message}"
    if isinstance(exc, HybridError):
        prefix = "Not found: " if exc.status_code == 404 else ""
        return exc.status_code, prefix + exc.message
    if isinstance(exc, ValidationException):
        return _validation_message(exc)
    if isinstance(exc, HTTPException):
        detail = str(exc.detail)
        if exc.status_code == 400 and detail.startswith("JSON is malformed"):
            return 400, f"Format error in JSON body: {detail}"
        return exc.status_code, detail
    if isinstance(exc, msgspec.DecodeError):
        return 400, f"Format error in JSON body: {exc}"
    # Anything else (a ValueError or IndexError from inside the engine included) is our fault,
    # not the caller's: the engine raises hybrid.errors for every user mistake.
    return 500, "Service internal error: the request could not be processed"


def handle_exception(request: Request, exc: Exception) -> Response:
    status, message = to_error(exc)
    if status >= 500:
        error_id = uuid.uuid4().hex[:16]  # names the logged traceback in the answer
        message = f"{message} (error id {error_id}; the traceback is in the server log)"
        # method and route only: headers (API keys) and bodies stay out of the log
        log.error("%s %s failed (error id %s)", request.method,
                  request.scope.get("path_template", request.url.path), error_id, exc_info=exc)
    return error_response(status, message, _started(request))


def with_defaults(value: Any) -> Any:
    """JSON builtins of a Struct tree keeping fields equal to their defaults (the wire models omit
    them, but Qdrant's clients require e.g. every hnsw_config field); None fields stay omitted."""
    if isinstance(value, msgspec.Struct):
        return {f: with_defaults(v) for f in value.__struct_fields__ if (v := getattr(value, f)) is not None}
    if isinstance(value, dict):
        return {k: with_defaults(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [with_defaults(v) for v in value]
    return value


def as_builtin(value: Any) -> Any:
    """A request Struct (or None) as Qdrant-shaped JSON builtins for the engine."""
    return None if value is None else msgspec.to_builtins(value)
