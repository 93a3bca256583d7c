"""Numba kernels compiled on first call (never at import), shared by the index packages."""

from __future__ import annotations

import threading
from typing import Any, Callable

import numba


class LazyKernel:
    """`func` compiled with explicit `signatures` (a numba signature, a list of them, or a
    callable returning them, for types that are costly to build at import) on its first call."""

    def __init__(self, func: Callable[..., Any], signatures: Any, **options: Any) -> None:
        self._func = func
        self._signatures = signatures
        self._options = {"cache": True, "nogil": True, **options}
        self._compiled: Any = None
        self._lock = threading.Lock()
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def compile(self) -> Any:
        with self._lock:
            if self._compiled is None:
                signatures = self._signatures() if callable(self._signatures) else self._signatures
                self._compiled = numba.njit(signatures, **self._options)(self._func)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        compiled = self._compiled if self._compiled is not None else self.compile()
        return compiled(*args)


def lazy_kernel(signatures: Any, **options: Any) -> Callable[[Callable[..., Any]], LazyKernel]:
    return lambda func: LazyKernel(func, signatures, **options)
