"""Qdrant's response envelopes and the one place where exceptions become HTTP errors.

Success: `{"result": ..., "status": "ok", "time": seconds}`.
Error: `{"status": {"error": message}, "time": seconds}` with Qdrant's status code and wording:
engine errors carry theirs (hybrid.errors); malformed JSON or a value of the wrong shape is 400
("Format error in JSON body: ..."); a value breaking a declared bound is 422 ("Validation error
in JSON body: [field: problem]"); unknown routes 404; oversized bodies 413;
anything else is an internal fault: 500 with a generic message and an error id naming the
traceback in the server log (a ValueError from inside the engine is no user mistake).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Generic, Optional, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from hybrid.errors import HybridError, InsufficientStorage
from hybrid.models import with_defaults  # noqa: F401  (the name the routes and tests know)

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


#: msgspec's words for a value of the right type breaking a declared bound (`Expected `int` >= 1`,
#: `Expected `array` of length <= 8`): Qdrant's validation errors; anything else is a format error.
_BOUND = re.compile(r"^Expected `[^`]*` (?:of length )?[<>]=?")
_WHERE = {"body": "JSON body", "query": "query parameters", "path": "path parameters"}


def _validation_message(exc: ValidationException) -> tuple[int, str]:
    """Litestar's parameter/body errors as Qdrant words them: a value breaking a bound is 422
    "Validation error in JSON body: [path: problem]"; a value of the wrong shape 400 "Format error
    in JSON body: ..." (query or path parameters: "Deserialize error in query parameters: ...")."""
    problems = [p for p in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(p, dict)]
    if any(p.get("key") == "data" and p.get("message") == "'data'" for p in problems):
        return 400, "Empty request body: a JSON body is required"
    if not problems:
        return 400, f"Format error in request: {exc.detail}"
    first = problems[0]
    source = str(getattr(first.get("source"), "value", first.get("source") or "body")).lower()
    where = _WHERE.get(source, f"{source} parameters")
    parts = [f"{p['key']}: {p.get('message', '')}" if p.get("key") not in (None, "", "data")
             else str(p.get("message", "")) for p in problems]
    if all(_BOUND.match(str(p.get("message", ""))) for p in problems):
        return 422, f"Validation error in {where}: [" + "; ".join(parts) + "]"
    return 400, f"{'Format' if where == 'JSON body' else 'Deserialize'} error in {where}: " + "; ".join(parts)


def to_error(exc: Exception) -> tuple[int, str]:
    """(HTTP status, message) for any exception a handler can raise, worded as Qdrant's server
    words it ("Wrong input: ...", "Not found: ...")."""
    if isinstance(exc, HybridError) and exc.status_code < 500:
        return exc.status_code, f"{exc.label}: {exc.message}" if exc.label else exc.message
    if isinstance(exc, ValidationException):
        return _validation_message(exc)
    if isinstance(exc, HTTPException):
        detail = str(exc.detail)
        if exc.status_code == 400 and detail.startswith("JSON is malformed"):
            return 400, f"Format error in JSON body: {detail}"
        return exc.status_code, detail
    if isinstance(exc, msgspec.DecodeError):
        return 400, f"Format error in JSON body: {exc}"
    if isinstance(exc, HybridError):  # storage faults: the message names the file, no traceback needed
        return exc.status_code, f"{exc.label}: {exc.message}"
    # Anything else (a ValueError or IndexError from inside the engine included) is our fault,
    # not the caller's: the engine raises hybrid.errors for every user mistake.
    return 500, "Service internal error: the request could not be processed"


def handle_exception(request: Request, exc: Exception) -> Response:
    status, message = to_error(exc)
    if status >= 500 and not isinstance(exc, InsufficientStorage):  # a quota's refusal is no fault
        error_id = uuid.uuid4().hex[:16]  # names the logged traceback in the answer
        message = f"{message} (error id {error_id}; the traceback is in the server log)"
        # method and route only: headers (API keys) and bodies stay out of the log
        log.error("%s %s failed (error id %s)", request.method,
                  request.scope.get("path_template", request.url.path), error_id, exc_info=exc)
    return error_response(status, message, _started(request))


def as_builtin(value: Any) -> Any:
    """A request Struct (or None) as Qdrant-shaped JSON builtins for the engine."""
    return None if value is None else msgspec.to_builtins(value)
