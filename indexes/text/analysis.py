"""Text analysis with Qdrant's semantics, run natively by tantivy.

Pipeline per token (Qdrant's `TokensProcessor` order): split -> ASCII folding -> lowercase ->
stop words -> stemming -> length bounds (characters, after stemming).  tantivy's filters do the
first five steps; the length bounds have no exact tantivy filter (its `remove_long` counts bytes
and there is no `remove_short`), so they run as one C-level regex over the space-joined tokens.

The index stores the analysed tokens joined by spaces and re-split by tantivy's whitespace
tokenizer. That costs a little indexing speed but gives Qdrant's token-sequence model: a dropped
token (stop word, too long) leaves no position gap, so the phrase "cat dog" matches "cat the
dog" when "the" is a stop word, exactly as in Qdrant.  Tokens never contain a space: every
tokenizer splits on whitespace or on non-alphanumerics.
"""

from __future__ import annotations

import re
from functools import lru_cache

import tantivy

from indexes.text.params import TextIndexParams

#: Scripts written without spaces: the multilingual tokenizer emits one token per character.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}"
_SPLITTERS = {
    "word": tantivy.Tokenizer.simple,  # split on !char::is_alphanumeric, as Qdrant's word tokenizer
    "prefix": tantivy.Tokenizer.simple,
    "whitespace": lambda: tantivy.Tokenizer.regex(r"\S+"),  # Unicode whitespace, as split_whitespace
    "multilingual": lambda: tantivy.Tokenizer.regex(
        rf"[\p{{Alphabetic}}\p{{N}}--[{_UNSPACED}]]+|[{_UNSPACED}]"
    ),
}


def _analyzer(params: TextIndexParams, stopwords: bool) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(_SPLITTERS[params.tokenizer]())
    if params.ascii_folding or params.tokenizer == "multilingual":
        builder = builder.filter(tantivy.Filter.ascii_fold())
    if params.lowercase:
        builder = builder.filter(tantivy.Filter.lowercase())
    if stopwords and params.stopwords is not None:
        for language in params.stopwords.languages:
            builder = builder.filter(tantivy.Filter.stopword(language))
        if params.stopwords.custom:
            custom = params.stopwords.custom
            if params.lowercase:  # Qdrant lowercases the stop list along with the tokens
                custom = tuple(word.lower() for word in custom)
            builder = builder.filter(tantivy.Filter.custom_stopword(list(custom)))
    if params.stemmer is not None:
        builder = builder.filter(tantivy.Filter.stemmer(params.stemmer))
    return builder.build()


def text_analyzer(params: TextIndexParams) -> tantivy.TextAnalyzer:
    """The native part of the analysis (everything but the length bounds): register it on a
    plain tantivy index to get "tantivy used directly with the same tokenizer"."""
    return _analyzer(params, stopwords=True)


def _bounds(low: int | None, high: int | None) -> str:
    return f"{{{low or 0},{'' if high is None else high}}}"


class Analysis:
    """Document and query analysis for one `TextIndexParams` (build with `analysis_for`)."""

    def __init__(self, params: TextIndexParams) -> None:
        self.params = params
        self._doc = _analyzer(params, stopwords=True)
        # Qdrant's prefix tokenizer indexes all prefixes up to max_token_len, so a word longer
        # than max still matches: only min_token_len drops document tokens.
        high = None if params.tokenizer == "prefix" else params.max_token_len
        self._length = None
        if params.min_token_len is not None or high is not None:
            self._length = re.compile(rf"(?<![^ ])[^ ]{_bounds(params.min_token_len, high)}(?![^ ])")
        # Prefix queries keep stop words (a typed "the" may become "theory"), drop tokens shorter
        # than min_token_len and truncate to max_token_len (the longest indexed prefix).
        self._prefix_query = _analyzer(params, stopwords=False) if params.tokenizer == "prefix" else None
        self._truncate = re.compile(
            rf"(?<![^ ])([^ ]{_bounds(params.min_token_len or 1, params.max_token_len)})[^ ]*"
        )

    def joined(self, text: str) -> str:
        """Analysed tokens of `text` joined by single spaces (what the index stores)."""
        joined = " ".join(self._doc.analyze(text))
        if self._length is not None:
            joined = " ".join(self._length.findall(joined))
        return joined

    def tokens(self, text: str) -> list[str]:
        """Analysed tokens of `text`, in order (document analysis, also used for BM25 queries)."""
        joined = self.joined(text)
        return joined.split(" ") if joined else []

    def match_tokens(self, text: str) -> list[str]:
        """Tokens of a text-match query: document analysis, or prefix-query analysis for the
        prefix tokenizer (each returned token then matches as a prefix of an indexed word)."""
        if self._prefix_query is None:
            return self.tokens(text)
        return self._truncate.findall(" ".join(self._prefix_query.analyze(text)))


@lru_cache(maxsize=64)
def analysis_for(params: TextIndexParams) -> Analysis:
    """Shared `Analysis` per params (building tantivy analyzers is not free)."""
    return Analysis(params)


def tokenize(params: TextIndexParams, text: str) -> list[str]:
    """Tokens the index stores for `text`: the same analysis as `TextIndex` (test oracle).

    For the prefix tokenizer these are whole words; Qdrant's prefix n-grams are emulated at
    query time by prefix queries over them.
    """
    return analysis_for(params).tokens(text)
