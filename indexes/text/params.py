"""Qdrant's `TextIndexParams` as a frozen, validated config.

Only analysis options live here; storage and ranking options of the Qdrant JSON (`on_disk`,
`enable_hnsw`, `scoring`) are accepted by `from_json` and left to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TOKENIZERS = ("word", "whitespace", "prefix", "multilingual")

#: Stop-word languages tantivy ships (its lists are Lucene/Snowball's, not Qdrant's NLTK lists).
STOPWORD_LANGUAGES = (
    "danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
    "norwegian", "portuguese", "russian", "spanish", "swedish",
)

#: Snowball stemmers tantivy ships (Qdrant's list minus armenian).
STEMMER_LANGUAGES = (
    "arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek", "hungarian",
    "italian", "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish", "tamil",
    "turkish",
)

_JSON_KEYS = frozenset({
    "type", "tokenizer", "min_token_len", "max_token_len", "lowercase", "ascii_folding",
    "phrase_matching", "stopwords", "stemmer", "on_disk", "enable_hnsw", "scoring",
})


@dataclass(frozen=True)
class Stopwords:
    """Stop words: the union of built-in language lists and a custom list."""

    languages: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextIndexParams:
    """How a text field is analysed (Qdrant semantics, see `analysis.py` for the pipeline).

    tokenizer: "word" (split on non-alphanumeric), "whitespace", "prefix" (word tokens; text
        matches treat query tokens as prefixes) or "multilingual" (approximation: word tokens,
        one token per CJK character, accents folded).
    stemmer: Snowball language or None.  stopwords: a language, a `Stopwords`, or None.
    min_token_len / max_token_len: bounds in characters, applied after stemming.
    phrase_matching: index positions so `phrase` matches work.
    """

    tokenizer: str = "word"
    lowercase: bool = True
    ascii_folding: bool = False
    stemmer: str | None = None
    stopwords: Stopwords | None = None
    min_token_len: int | None = None
    max_token_len: int | None = None
    phrase_matching: bool = False

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer: expected one of {TOKENIZERS}, got {self.tokenizer!r}")
        for name in ("lowercase", "ascii_folding", "phrase_matching"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected a bool, got {getattr(self, name)!r}")
        if self.stemmer is not None and self.stemmer not in STEMMER_LANGUAGES:
            raise ValueError(
                f"stemmer: unsupported language {self.stemmer!r}; supported: {STEMMER_LANGUAGES}"
            )
        object.__setattr__(self, "stopwords", _as_stopwords(self.stopwords))
        for name in ("min_token_len", "max_token_len"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{name}: expected a non-negative integer or null, got {value!r}")
        if None not in (self.min_token_len, self.max_token_len) and self.min_token_len > self.max_token_len:
            raise ValueError("min_token_len: must not exceed max_token_len")

    @classmethod
    def from_json(cls, d: dict) -> TextIndexParams:
        """Parse Qdrant's `TextIndexParams` JSON (nulls mean defaults)."""
        if not isinstance(d, dict):
            raise TypeError(f"text index params: expected an object, got {type(d).__name__}")
        unknown = sorted(set(d) - _JSON_KEYS)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown text index parameter")
        if d.get("type", "text") != "text":
            raise ValueError(f"type: expected 'text', got {d.get('type')!r}")
        kwargs = {
            key: d[key]
            for key in ("tokenizer", "lowercase", "ascii_folding", "phrase_matching",
                        "min_token_len", "max_token_len")
            if d.get(key) is not None
        }
        return cls(**kwargs, stemmer=_stemmer_from_json(d.get("stemmer")), stopwords=d.get("stopwords"))

    def to_json(self) -> dict[str, Any]:
        """Qdrant-shaped JSON; `from_json(p.to_json()) == p`."""
        out: dict[str, Any] = {
            "type": "text", "tokenizer": self.tokenizer, "lowercase": self.lowercase,
            "ascii_folding": self.ascii_folding, "phrase_matching": self.phrase_matching,
            "min_token_len": self.min_token_len, "max_token_len": self.max_token_len,
            "stemmer": None if self.stemmer is None else {"type": "snowball", "language": self.stemmer},
            "stopwords": None,
        }
        if self.stopwords is not None:
            out["stopwords"] = {"languages": list(self.stopwords.languages), "custom": list(self.stopwords.custom)}
        return out


def _stemmer_from_json(value: Any) -> str | None:
    if value is None or value == {"type": "none"}:  # Qdrant 1.20's explicit "no stemming"
        return None
    if not isinstance(value, dict) or value.get("type") != "snowball" or "language" not in value:
        raise ValueError(f"stemmer: expected {{'type': 'snowball', 'language': ...}}, got {value!r}")
    return value["language"]


def _as_stopwords(value: Any) -> Stopwords | None:
    """Normalise a language name, a Qdrant `StopwordsSet` dict or a `Stopwords`."""
    if value is None:
        return None
    if isinstance(value, str):
        value = Stopwords(languages=(value,))
    elif isinstance(value, dict):
        unknown = sorted(set(value) - {"languages", "custom"})
        if unknown:
            raise ValueError(f"stopwords: unknown key {unknown[0]!r}")
        value = Stopwords(tuple(value.get("languages") or ()), tuple(value.get("custom") or ()))
    elif not isinstance(value, Stopwords):
        raise TypeError(f"stopwords: expected a language, an object or null, got {value!r}")
    for language in value.languages:
        if language not in STOPWORD_LANGUAGES:
            raise ValueError(
                f"stopwords: no built-in list for {language!r}; supported: {STOPWORD_LANGUAGES}"
            )
    if not all(isinstance(word, str) for word in value.custom):
        raise TypeError("stopwords: custom stop words must be strings")
    # Sorted so that equal sets compare equal (persisted params are checked on reopen).
    return Stopwords(tuple(sorted(set(value.languages))), tuple(sorted(set(value.custom))))
