"""Server-side BM25 inference for `{"text": ..., "model": "qdrant/bm25"}` documents.

Reproduces fastembed's `Bm25` sparse model (the one qdrant-client runs for `models.Document`):

1. punctuation and symbols -> spaces (`[^\\w\\s]`), lowercase, split into `\\w+` runs;
2. drop the token "_" (the only word character that is punctuation), English stopwords
   (NLTK's list, as shipped with the model) and tokens longer than `token_max_length`;
3. Snowball stemming (`py_rust_stemmers`), dropping empty stems;
4. token id = |murmur3_x86_32(utf-8 stem, seed 0)| read as a signed int32.

Document value of a stem with f occurrences in a document of |d| kept tokens:
    tf(f, d) = f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avg_len)).
Query value: 1.0 for each distinct id. The BM25 score is then the sparse dot product with the
query multiplied by idf, so the vector must be configured with `modifier: idf`. When two stems of
a document hash to the same id, the one that occurs first later in the text wins (fastembed
overwrites in first-occurrence order).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from importlib import resources
from itertools import filterfalse
from typing import Iterable

import numpy as np
from py_rust_stemmers import SnowballStemmer

from indexes.sparse import _hash_kernels

#: Languages with a Snowball stemmer (fastembed's list); stopwords ship for English only.
LANGUAGES = (
    "arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek", "hungarian",
    "italian", "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish", "tamil",
    "turkish",
)
_SYMBOLS = re.compile(r"[^\w\s]")
#: Word characters that fastembed drops as punctuation (Unicode category P*): only "_".
_PUNCTUATION_WORDS = frozenset({"_"})


@cache
def bundled_stopwords(language: str) -> frozenset[str]:
    """Stopwords shipped in `indexes/sparse/stopwords/<language>.txt` (empty set if none)."""
    source = resources.files("indexes.sparse").joinpath("stopwords", f"{language}.txt")
    if not source.is_file():
        return frozenset()
    return frozenset(source.read_text(encoding="utf-8").splitlines())


def token_ids(tokens: list[str]) -> np.ndarray:
    """fastembed's token id of each token: |signed murmur3_32(utf-8)|, as uint32."""
    if not tokens:
        return np.zeros(0, dtype=np.uint32)
    # "\0" cannot occur inside a \w token, so it delimits tokens in one byte buffer.
    data = np.frombuffer("\0".join(tokens).encode("utf-8"), dtype=np.uint8)
    stops = np.append(np.flatnonzero(data == 0), data.size).astype(np.int64)
    starts = np.concatenate(([0], stops[:-1] + 1)).astype(np.int64)
    return _hash_kernels.murmur3_abs(data.copy(), starts, stops).astype(np.uint32)


class Bm25Encoder:
    """Text -> sparse vector, compatible with fastembed's `Bm25("Qdrant/bm25")`.

    k1, b, avg_len: BM25 term-frequency saturation, length normalisation and assumed average
    document length (fastembed's k, b, avg_len). `stopwords=None` uses the bundled list of
    `language` (required unless the list ships or stemming is disabled); an explicit set replaces
    it (empty: keep everything). `disable_stemmer=True` keeps lowercase tokens and, like fastembed,
    drops the default stopwords.
    """

    def __init__(
        self,
        k1: float = 1.2,
        b: float = 0.75,
        avg_len: float = 256.0,
        language: str = "english",
        token_max_length: int = 40,
        disable_stemmer: bool = False,
        stopwords: Iterable[str] | None = None,
    ) -> None:
        if not k1 >= 0:
            raise ValueError(f"k1 must be >= 0, got {k1}")
        if not 0 <= b <= 1:
            raise ValueError(f"b must be in [0, 1], got {b}")
        if not avg_len > 0:
            raise ValueError(f"avg_len must be > 0, got {avg_len}")
        if token_max_length < 1:
            raise ValueError(f"token_max_length must be >= 1, got {token_max_length}")
        if not disable_stemmer and language not in LANGUAGES:
            raise ValueError(f"language {language!r} is not supported; choose one of {', '.join(LANGUAGES)}")
        if stopwords is not None:
            words = frozenset(word.lower() for word in stopwords)
        elif disable_stemmer:
            words = frozenset()
        else:
            words = bundled_stopwords(language)
            if not words and language != "tamil":
                raise ValueError(f"no stopword list ships for {language!r}: pass stopwords explicitly")
        self.k1, self.b, self.avg_len = float(k1), float(b), float(avg_len)
        self.language = language
        self.token_max_length = int(token_max_length)
        self.disable_stemmer = disable_stemmer
        self.stopwords = words
        self._dropped = words | _PUNCTUATION_WORDS
        # Maximal \w runs no longer than the limit (longer runs are dropped, as in fastembed).
        self._words = re.compile(r"(?<!\w)\w{1,%d}(?!\w)" % self.token_max_length)
        self._stemmer = None if disable_stemmer else SnowballStemmer(language)

    def tokenize(self, text: str) -> list[str]:
        """The stemmed tokens of `text` in order (fastembed's `_stem` output)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        words = self._words.findall(_SYMBOLS.sub(" ", text).lower())
        kept = list(filterfalse(self._dropped.__contains__, words))
        stems = kept if self._stemmer is None else self._stemmer.stem_words(kept)
        return list(filter(None, stems))

    def embed_document(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse vector of one document: (uint32 ids sorted, float32 tf(f, d) values)."""
        stems = self.tokenize(text)
        counts = Counter(stems)  # ordered by first occurrence, like fastembed's counter
        if not counts:
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float32)
        ids = token_ids(list(counts))
        frequency = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        length_norm = 1 - self.b + self.b * len(stems) / self.avg_len
        tf = frequency * (self.k1 + 1) / (frequency + self.k1 * length_norm)
        # np.unique keeps the first of equal ids: reverse so a later stem overwrites, as in fastembed.
        unique_ids, first = np.unique(ids[::-1], return_index=True)
        return unique_ids, tf[::-1][first].astype(np.float32)

    def embed_documents(self, texts: Iterable[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """`embed_document` of each text."""
        return [self.embed_document(text) for text in texts]

    def embed_query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse vector of a query: each distinct token id (sorted) with value 1.0."""
        ids = np.unique(token_ids(self.tokenize(text)))
        return ids, np.ones(ids.size, dtype=np.float32)
