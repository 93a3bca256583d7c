"""EmbeddingCache and CachedEmbedder with a counting fake embedder (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.embed.cache import CachedEmbedder, EmbeddingCache, cache_key


class CountingEmbedder:
    """Deterministic fake: a text's vector is derived from its hash; counts embedded texts."""

    model_id = "fake/model"
    dim = 4

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(abs(hash(text)) % 2**32)
        vector = rng.normal(size=self.dim).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_documents(self, texts):
        self.embedded += texts
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text):
        self.embedded.append(text)
        return -self._vector(text)  # differs from the document vector on purpose

    def embed_tokens(self, texts):
        self.embedded += texts
        return [np.stack([self._vector(w) for w in t.split()]) if t else np.zeros((0, 4), np.float32) for t in texts]


@pytest.fixture
def cache(tmp_path):
    with EmbeddingCache(tmp_path / "embeddings.sqlite") as opened:
        yield opened


def test_second_call_is_served_from_cache(cache):
    fake = CountingEmbedder()
    cached = CachedEmbedder(fake, cache)
    first = cached.embed_documents(["a", "b", "a"])
    assert fake.embedded == ["a", "b"]  # duplicates embedded once
    np.testing.assert_array_equal(first[0], first[2])
    again = cached.embed_documents(["b", "c", "a"])
    assert fake.embedded == ["a", "b", "c"]
    np.testing.assert_array_equal(again[0], first[1])
    assert again.dtype == np.float32 and again.shape == (3, 4)


def test_kinds_and_models_are_separate_entries(cache):
    fake = CountingEmbedder()
    cached = CachedEmbedder(fake, cache)
    document = cached.embed_documents(["x"])[0]
    query = cached.embed_query("x")
    np.testing.assert_array_equal(query, -document)
    assert cached.embed_query("x").shape == (4,)
    other = CountingEmbedder()
    other.model_id = "fake/other"
    CachedEmbedder(other, cache).embed_documents(["x"])
    assert other.embedded == ["x"]
    assert len(cache) == 3


def test_token_matrices_round_trip_including_empty(cache):
    fake = CountingEmbedder()
    cached = CachedEmbedder(fake, cache)
    first = cached.embed_tokens(["one two three", ""])
    second = cached.embed_tokens(["one two three", ""])
    assert fake.embedded == ["one two three", ""]
    assert [m.shape for m in second] == [(3, 4), (0, 4)]
    np.testing.assert_array_equal(second[0], first[0])


def test_entries_persist_across_reopening(tmp_path):
    path = tmp_path / "nested" / "cache.sqlite"
    with EmbeddingCache(path) as cache:
        CachedEmbedder(CountingEmbedder(), cache).embed_documents(["kept"])
    fake = CountingEmbedder()
    with EmbeddingCache(path) as cache:
        CachedEmbedder(fake, cache).embed_documents(["kept"])
    assert fake.embedded == []


def test_many_keys_span_several_select_chunks(cache):
    texts = [f"text {i}" for i in range(1234)]
    cache.put_many("m", "document", texts, np.arange(1234 * 2, dtype=np.float32).reshape(1234, 2))
    found = cache.get_many("m", "document", [*texts, "absent"])
    assert found[-1] is None
    assert np.array_equal(np.vstack(found[:-1]), np.arange(1234 * 2).reshape(1234, 2))


def test_keys_do_not_collide_by_concatenation():
    assert cache_key("ab", "document", "c") != cache_key("a", "document", "bc")
    assert cache_key("m", "query", "t") != cache_key("m", "document", "t")


def test_invalid_arguments(cache):
    with pytest.raises(ValueError, match="kind"):
        cache.get_many("m", "sentences", ["x"])
    with pytest.raises(ValueError, match="length"):
        cache.put_many("m", "document", ["x", "y"], [np.zeros(2)])
    with pytest.raises(TypeError, match="token"):
        CachedEmbedder(object(), cache).embed_tokens(["x"])
