from indexes.text import TextIndexParams, tokenize
from indexes.text.analysis import analysis_for


def test_word_tokenizer_splits_on_non_alphanumerics_and_lowercases():
    assert tokenize(TextIndexParams(), "Hello, world! Привет, мир! x_y 3.14") == [
        "hello", "world", "привет", "мир", "x", "y", "3", "14"
    ]
    assert tokenize(TextIndexParams(lowercase=False), "Hello World") == ["Hello", "World"]


def test_whitespace_tokenizer_splits_on_unicode_whitespace_only():
    assert tokenize(TextIndexParams(tokenizer="whitespace"), "a-b C\u00a0d\te") == ["a-b", "c", "d", "e"]


def test_multilingual_emits_one_token_per_cjk_character_and_folds_accents():
    assert tokenize(TextIndexParams(tokenizer="multilingual"), "Ação 今天 ok") == ["acao", "今", "天", "ok"]


def test_ascii_folding_stopwords_and_stemming_in_qdrant_order():
    params = TextIndexParams(ascii_folding=True, stopwords="english", stemmer="english")
    assert tokenize(params, "The Café had running THE races") == ["cafe", "had", "run", "race"]


def test_custom_stopwords_are_lowercased_with_the_tokens():
    params = TextIndexParams(stopwords={"custom": ["Dog"]})
    assert tokenize(params, "cat DOG dog") == ["cat"]
    assert tokenize(TextIndexParams(stopwords={"custom": ["Dog"]}, lowercase=False), "Dog dog") == ["dog"]


def test_length_bounds_count_characters_after_stemming():
    params = TextIndexParams(min_token_len=3, max_token_len=4, stemmer="english")
    # "runs" -> "run" (kept), "go" too short, "running" -> "run", "ééé" is 3 chars (6 bytes)
    assert tokenize(params, "runs go running ééé abcdxyz") == ["run", "run", "ééé"]


def test_prefix_tokenizer_queries_truncate_to_max_and_keep_stopwords():
    params = TextIndexParams(tokenizer="prefix", min_token_len=2, max_token_len=3, stopwords="english")
    analysis = analysis_for(params)
    assert tokenize(params, "the theory a x") == ["theory"]  # documents: min applies, max does not
    assert analysis.match_tokens("the theory a Hello") == ["the", "the", "hel"]


def test_empty_and_symbol_only_text_has_no_tokens():
    assert tokenize(TextIndexParams(), "") == []
    assert tokenize(TextIndexParams(), " ,.;!? ") == []
