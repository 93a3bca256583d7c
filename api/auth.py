"""API keys, as Qdrant checks them.

A request presents a key in the `api-key` header or as `Authorization: Bearer <key>`. The full
key (`api_key`) may do everything; the read-only key may only call handlers marked `read`
(searches are POSTs, so the mark, not the method, decides). Health probes and the API docs are
`public`. Keys are compared as SHA-256 digests with `hmac.compare_digest`: constant time, and
independent of the key lengths. Neither the keys nor presented values are ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Optional

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.settings import Settings
from hybrid.errors import Forbidden, Unauthorized

READ, WRITE, PUBLIC = "read", "write", "public"
#: Handlers without an `access` mark (Litestar's own OpenAPI pages) under these paths are public.
PUBLIC_PREFIXES = ("/docs",)


def access(level: str) -> dict[str, Any]:
    """Route handler `opt` marking what a request needs: `@post(..., opt=access(WRITE))`."""
    return {"access": level}


def presented_key(headers: Any) -> Optional[str]:
    key = headers.get("api-key")
    if key is not None:
        return key
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _digest(value: Optional[str]) -> bytes:
    return hashlib.sha256(value.encode()).digest() if value is not None else b""


class KeyGuard:
    """A Litestar guard (and the gRPC services' check): 401 without a valid key, 403 when the
    read-only key tries to write."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.auth_enabled
        self._full = _digest(settings.api_key)
        self._read_only = _digest(settings.read_only_api_key)

    def granted(self, key: str) -> Optional[str]:
        """WRITE, READ or None for a presented key; both keys are always compared."""
        presented = _digest(key)
        is_full = hmac.compare_digest(presented, self._full) and bool(self._full)
        is_read_only = hmac.compare_digest(presented, self._read_only) and bool(self._read_only)
        return WRITE if is_full else READ if is_read_only else None

    def check(self, need: str, headers: Any) -> None:
        """Raise Unauthorized (no or a wrong key) or Forbidden (the read-only key and `need` is
        WRITE) unless `headers` (HTTP headers or gRPC metadata) present a key granting `need`."""
        if not self.enabled or need == PUBLIC:
            return
        key = presented_key(headers)
        if key is None:
            raise Unauthorized("Must provide an API key or an Authorization bearer token")
        granted = self.granted(key)
        if granted is None:
            raise Unauthorized("Invalid API key or JWT")
        if need == WRITE and granted != WRITE:
            raise Forbidden("Forbidden: the read-only API key cannot perform this operation")

    async def __call__(self, connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        """Async so Litestar runs it inline (sync guards cost a thread hop per request)."""
        need = handler.opt.get("access")
        if need is None:
            need = PUBLIC if connection.scope["path"].startswith(PUBLIC_PREFIXES) else READ
        self.check(need, connection.headers)
