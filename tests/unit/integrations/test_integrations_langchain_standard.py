"""LangChain's own standard suite for vector stores (`langchain-tests`), over the embedded Client."""

from __future__ import annotations

from typing import Iterator

import pytest

pytest.importorskip("pytest_asyncio")
standard = pytest.importorskip("langchain_tests.integration_tests")

from hybrid.integrations.langchain import HybridVectorStore  # noqa: E402


class TestHybridVectorStoreStandard(standard.VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Iterator[HybridVectorStore]:
        store = HybridVectorStore(self.get_embeddings(), collection_name="standard")
        try:
            yield store
        finally:
            store.close()


class TestHybridVectorStoreStandardHybridMode(standard.VectorStoreIntegrationTests):
    """The same suite with hybrid retrieval as the default mode (dense + BM25, RRF)."""

    @pytest.fixture()
    def vectorstore(self) -> Iterator[HybridVectorStore]:
        store = HybridVectorStore(self.get_embeddings(), collection_name="standard", retrieval_mode="hybrid")
        try:
            yield store
        finally:
            store.close()
