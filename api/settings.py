"""Server settings: where to listen, where the data lives, keys and limits.

Values come from arguments, else from environment variables `HYBRID_<NAME>` (e.g.
`HYBRID_API_KEY`, which keeps keys out of the process list), else the defaults below. Keys are
excluded from `repr`, so logging a Settings object never shows them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from hybrid.errors import ConfigError

#: The Qdrant API version we speak (the contract: Qdrant 1.20). qdrant-client accepts a server whose
#: major version equals its own and whose minor version is within 1 (1.19-1.21 for client 1.20).
QDRANT_VERSION = "1.20.0"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 6333
    grpc_port: int = 6334  # Qdrant's gRPC port; 0: no gRPC
    data: Optional[Path] = None  # None: in-memory
    api_key: Optional[str] = field(default=None, repr=False)
    read_only_api_key: Optional[str] = field(default=None, repr=False)
    max_request_bytes: int = 32 * MiB  # Qdrant's default max_request_size_mb
    max_snapshot_bytes: int = 64 * 1024 * MiB
    #: threads running engine calls; numpy/numba release the GIL, so 2 per core keeps both busy
    threads: int = 2 * (os.cpu_count() or 1)
    blas_threads: int = 1  # per engine call; requests already run in parallel
    version: str = QDRANT_VERSION
    log_level: str = "info"
    #: `serve` loads the text models before it listens, so a first text query does not wait for them
    warm_up: bool = True

    def __post_init__(self) -> None:
        for name in ("port", "grpc_port"):
            if not 0 <= getattr(self, name) < 65536:
                raise ConfigError(f"{name}: {getattr(self, name)} is not a TCP port (0-65535)")
        for name in ("max_request_bytes", "max_snapshot_bytes", "threads", "blas_threads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be positive")
        for name in ("api_key", "read_only_api_key"):
            if getattr(self, name) == "":
                raise ConfigError(f"{name}: must not be empty (leave it unset to disable)")
        if self.api_key is not None and self.api_key == self.read_only_api_key:
            raise ConfigError("read_only_api_key: must differ from api_key")

    @property
    def auth_enabled(self) -> bool:
        return self.api_key is not None or self.read_only_api_key is not None

    @classmethod
    def from_env(cls, environ: Optional[dict[str, str]] = None, **given: Any) -> "Settings":
        """Settings from keyword arguments (None means unset), then `HYBRID_*` variables, then defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = given.get(f.name)
            if value is None:
                value = environ.get(f"HYBRID_{f.name.upper()}")
                if value is None:
                    continue
                value = _parse(f"HYBRID_{f.name.upper()}", value, f.type)
            values[f.name] = Path(value) if f.name == "data" else value
        return cls(**values)


def _parse(variable: str, text: str, kind: Any) -> Any:
    """An environment variable's text as the field's type (`kind` is its annotation string)."""
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{variable}: {text!r} is not an integer") from None
    if kind == "bool":
        if text.strip().lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ConfigError(f"{variable}: {text!r} is not a boolean (true/false)")
        return text.strip().lower() in ("1", "true", "yes")
    return text
