"""Shared fixtures of the adapter tests, and async support for LangChain's standard suite."""

from __future__ import annotations

import inspect

import pytest


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """Mark coroutine tests (LangChain's standard async tests) for pytest-asyncio, here only.

    Running innermost, this adds the mark before pytest-asyncio's own wrapper turns marked
    coroutine functions into async test items, without switching the whole repo to auto mode."""
    outcome = yield
    items = outcome.get_result()
    for item in items if isinstance(items, list) else [items] if items is not None else []:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.asyncio)


# ---------------------------------------------------------------- a small corpus and the real model
TEXTS = [
    ("The Eiffel Tower is a wrought-iron lattice tower in Paris.", "travel", 1889),
    ("Photosynthesis turns light, water and carbon dioxide into sugar.", "science", 1779),
    ("The Louvre in Paris is the world's most-visited museum.", "travel", 1793),
    ("Mitochondria produce most of the chemical energy of a cell.", "science", 1857),
    ("Venice is built on more than a hundred small islands.", "travel", 421),
    ("Black holes bend light so strongly that none escapes.", "science", 1916),
    ("Kyoto has over a thousand Buddhist temples.", "travel", 794),
    ("DNA stores genetic information as sequences of four bases.", "science", 1953),
]
QUESTION = "Which museums can I visit in Paris?"


@pytest.fixture(scope="session")
def corpus() -> list[tuple[str, str, int]]:
    return list(TEXTS)


@pytest.fixture(scope="session")
def minilm():
    """The real MiniLM embedder, loaded once per test session (the adapters share this instance)."""
    from hybrid.integrations.store import dense_embedder

    embedder = dense_embedder()
    embedder.embed_query("warm up")  # load now, so the first test is not the slow one
    return embedder

