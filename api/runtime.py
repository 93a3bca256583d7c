"""What every handler needs: the embedded Client, the settings, and a bounded thread pool.

Engine calls block (numpy, numba, fsync), so handlers never run them on the event loop:
`await rt.call(fn, ...)` runs `fn` in a worker thread. A capacity limiter bounds how many run
at once (`Settings.threads`); numpy and numba release the GIL, so they use every core.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, TypeVar

import anyio
import anyio.to_thread

from api.metrics import Metrics
from api.settings import Settings
from hybrid import Client

T = TypeVar("T")


class Runtime:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.metrics = Metrics()
        self._limiter: Optional[anyio.CapacityLimiter] = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created on first use, inside the server's event loop
            self._limiter = anyio.CapacityLimiter(self.settings.threads)
        return self._limiter

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a worker thread."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self.limiter)

    def resolve(self, collection_name: str) -> str:
        """A collection name or alias -> the collection name."""
        return self.client.resolve_alias(collection_name)
