"""Full-text matching without a text index: Qdrant's default word tokenizer over string values.

Tokens are maximal runs of Unicode letters and digits (`[^\\W_]+`), lower-cased. On a field with
no text index Qdrant matches `text` when every query token is a document token (any order),
`text_any` when one is, `phrase` when the query tokens appear consecutively; an empty query
matches nothing.

`TokenTable` tokenises a list of distinct strings once (at column build time) into a flat
token-id array with CSR boundaries; every query is then vectorised over that array.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from indexes.payload.conditions import TextKind

_TOKEN = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of `text`."""
    return [token.lower() for token in _TOKEN.findall(text)]


class TokenTable:
    """Token ids of many strings: string s owns tokens[starts[s]:starts[s + 1]]."""

    def __init__(self, strings: Sequence[str]) -> None:
        vocabulary: dict[str, int] = {}
        ids: list[int] = []
        lengths = np.zeros(len(strings), dtype=np.int64)
        for position, text in enumerate(strings):
            tokens = tokenize(text)
            lengths[position] = len(tokens)
            ids.extend(vocabulary.setdefault(token, len(vocabulary)) for token in tokens)
        self.vocabulary = vocabulary
        self.tokens = np.asarray(ids, dtype=np.int64)
        self.owner = np.repeat(np.arange(len(strings), dtype=np.int64), lengths)
        self.n_strings = len(strings)

    def _has_token(self, token_id: int) -> np.ndarray:
        out = np.zeros(self.n_strings, dtype=bool)
        out[self.owner[self.tokens == token_id]] = True
        return out

    def match(self, query: str, kind: TextKind) -> np.ndarray:
        """Boolean per string: does it satisfy the `kind` text query?"""
        query_ids = [self.vocabulary.get(token, -1) for token in tokenize(query)]
        if not query_ids:
            return np.zeros(self.n_strings, dtype=bool)
        if kind == "text_any":
            return self._any_of(query_ids)
        if -1 in query_ids:  # a query token no document has
            return np.zeros(self.n_strings, dtype=bool)
        if kind == "text":
            out = np.ones(self.n_strings, dtype=bool)
            for token_id in set(query_ids):
                out &= self._has_token(token_id)
            return out
        return self._phrase(query_ids)

    def _any_of(self, query_ids: list[int]) -> np.ndarray:
        out = np.zeros(self.n_strings, dtype=bool)
        out[self.owner[np.isin(self.tokens, [t for t in query_ids if t >= 0])]] = True
        return out

    def _phrase(self, query_ids: list[int]) -> np.ndarray:
        """Start positions p with tokens[p + j] == query[j] inside one string, for every j."""
        n = self.tokens.shape[0]
        starts = np.flatnonzero(self.tokens == query_ids[0])
        for j, token_id in enumerate(query_ids[1:], start=1):
            starts = starts[starts + j < n]
            same = (self.tokens[starts + j] == token_id) & (self.owner[starts + j] == self.owner[starts])
            starts = starts[same]
        out = np.zeros(self.n_strings, dtype=bool)
        out[self.owner[starts]] = True
        return out
