import pytest

from indexes.text import Stopwords, TextIndexParams


def test_from_json_reads_every_qdrant_option():
    params = TextIndexParams.from_json({
        "type": "text", "tokenizer": "prefix", "lowercase": False, "ascii_folding": True,
        "phrase_matching": True, "min_token_len": 2, "max_token_len": 10, "on_disk": True,
        "stopwords": {"languages": ["english", "french"], "custom": ["foo"]},
        "stemmer": {"type": "snowball", "language": "english"},
    })
    assert params == TextIndexParams(
        tokenizer="prefix", lowercase=False, ascii_folding=True, phrase_matching=True,
        min_token_len=2, max_token_len=10, stemmer="english",
        stopwords=Stopwords(("english", "french"), ("foo",)),
    )


def test_nulls_mean_defaults_and_json_round_trips():
    assert TextIndexParams.from_json({"type": "text", "tokenizer": None, "lowercase": None}) == TextIndexParams()
    params = TextIndexParams(stopwords="english", stemmer="german", max_token_len=5)
    assert TextIndexParams.from_json(params.to_json()) == params


def test_stopwords_language_string_equals_set_form():
    assert TextIndexParams(stopwords="english") == TextIndexParams.from_json(
        {"stopwords": {"languages": ["english"]}}
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "keyword"}, "type"),
        ({"tokenizer": "ngram"}, "tokenizer"),
        ({"min_token_len": -1}, "min_token_len"),
        ({"min_token_len": 5, "max_token_len": 2}, "min_token_len"),
        ({"stemmer": {"type": "snowball", "language": "armenian"}}, "stemmer"),
        ({"stemmer": "english"}, "stemmer"),
        ({"stopwords": "hinglish"}, "stopwords"),
        ({"stopwords": {"languages": ["english"], "extra": 1}}, "stopwords"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_raises_value_error_naming_the_field(payload, field):
    with pytest.raises(ValueError, match=field):
        TextIndexParams.from_json(payload)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="lowercase"):
        TextIndexParams(lowercase="yes")
    with pytest.raises(TypeError):
        TextIndexParams.from_json(["text"])
