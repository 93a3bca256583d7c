"""Suite-wide settings: the shared embedding cache lives in a temporary folder, never in the
user's ~/.cache (hybrid.embed.cache.default_cache_path)."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    os.environ["HYBRID_CACHE_DIR"] = tempfile.mkdtemp(prefix="hybrid-test-cache-")
