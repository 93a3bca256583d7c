from __future__ import annotations

import pytest

from hybrid import Client


@pytest.fixture(params=["memory", "disk"])
def client(request, tmp_path):
    """A Client in each storage mode."""
    c = Client() if request.param == "memory" else Client(path=tmp_path / "data")
    yield c
    c.close()
