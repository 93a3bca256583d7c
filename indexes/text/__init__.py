"""BM25 text fields on tantivy: one index per text field per collection."""

from indexes.text.analysis import tokenize
from indexes.text.index import MATCH_KINDS, TextIndex
from indexes.text.params import Stopwords, TextIndexParams

__all__ = ["MATCH_KINDS", "Stopwords", "TextIndex", "TextIndexParams", "tokenize"]
