"""KeyGuard: which key grants what, where keys are read from."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from api.auth import PUBLIC, READ, WRITE, KeyGuard, access, presented_key
from api.settings import Settings
from hybrid.errors import Forbidden, Unauthorized


def connection(headers: dict, path: str = "/collections") -> SimpleNamespace:
    return SimpleNamespace(headers=headers, scope={"path": path})


def handler(level: str | None) -> SimpleNamespace:
    return SimpleNamespace(opt={} if level is None else access(level))


@pytest.mark.parametrize("headers, key", [
    ({"api-key": "k1"}, "k1"),
    ({"authorization": "Bearer k2"}, "k2"),
    ({"authorization": "bearer   k3 "}, "k3"),
    ({"authorization": "Basic abc"}, None),
    ({"authorization": "Bearer "}, None),
    ({}, None),
])
def test_presented_key(headers, key):
    assert presented_key(headers) == key


def test_granted_levels():
    guard = KeyGuard(Settings(api_key="full", read_only_api_key="ro"))
    assert guard.granted("full") == WRITE
    assert guard.granted("ro") == READ
    assert guard.granted("ful") is None and guard.granted("") is None


def run_guard(guard: KeyGuard):
    return lambda conn, h: asyncio.run(guard(conn, h))


def test_guard_decisions():
    guard = run_guard(KeyGuard(Settings(api_key="full", read_only_api_key="ro")))
    guard(connection({"api-key": "full"}), handler(WRITE))
    guard(connection({"api-key": "ro"}), handler(READ))
    guard(connection({}), handler(PUBLIC))
    guard(connection({}, "/docs/openapi.json"), handler(None))  # Litestar's own docs pages
    with pytest.raises(Forbidden):
        guard(connection({"api-key": "ro"}), handler(WRITE))
    with pytest.raises(Unauthorized, match="Must provide"):
        guard(connection({}), handler(READ))
    with pytest.raises(Unauthorized, match="Invalid"):
        guard(connection({"api-key": "nope"}), handler(None))


def test_only_read_only_key_configured_cannot_write():
    guard = KeyGuard(Settings(read_only_api_key="ro"))
    assert guard.granted("ro") == READ and guard.granted("") is None
    with pytest.raises(Forbidden):
        run_guard(guard)(connection({"api-key": "ro"}), handler(WRITE))


def test_no_keys_means_open():
    run_guard(KeyGuard(Settings()))(connection({}), handler(WRITE))
