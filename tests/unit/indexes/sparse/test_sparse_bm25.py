"""Bm25Encoder against fastembed's Bm25 ("Qdrant/bm25").

Expected vectors below were produced by fastembed 0.9.1 (with mmh3 5.3.1) run offline on the
stopword list we ship; `test_matches_fastembed_live` re-checks random texts when fastembed and
mmh3 are importable.
"""

import random

import numpy as np
import pytest

from indexes.sparse.bm25 import Bm25Encoder, bundled_stopwords, token_ids

FASTEMBED_DOCUMENTS = {
    "The quick brown foxes are running_fast over 3 lazy dogs.": (
        [226376294, 264741300, 741580288, 771291085, 1171646665, 1312749093, 1621867415], [1.660867] * 7,
    ),
    "Running dogs, running cats!": ([243905464, 1312749093, 1751422759], [1.901418, 1.6741974, 1.6741974]),
    "İstanbul ÇAĞLAR straße naïve café _ __": (
        [215691602, 605818632, 756638508, 1260611345, 1304640163, 2095602437], [1.6652868] * 6,
    ),
    "C++ is fun; e-mail: foo@bar.com (2024) -- 3.14 don't": (
        [116628897, 156908512, 264741300, 516762017, 1158584717, 1555540962, 1701593959, 1746685302,
         1749031367, 1757643985],
        [1.6477472] * 10,
    ),
    "": ([], []),
    # "lzgrfnz" and "hzzcbfj" share a token id: the stem that first occurs later wins.
    "lzgrfnz hzzcbfj hzzcbfj cats": ([465823123, 1751422759], [1.901418, 1.6741974]),
    "hzzcbfj lzgrfnz lzgrfnz lzgrfnz cats": ([465823123, 1751422759], [1.989403, 1.6697302]),
}


@pytest.fixture(scope="module")
def encoder():
    return Bm25Encoder()


@pytest.mark.parametrize("text", list(FASTEMBED_DOCUMENTS))
def test_documents_and_queries_match_fastembed(encoder, text):
    indices, values = encoder.embed_document(text)
    expected_indices, expected_values = FASTEMBED_DOCUMENTS[text]
    assert indices.dtype == np.uint32 and values.dtype == np.float32
    assert indices.tolist() == expected_indices
    np.testing.assert_allclose(values, expected_values, rtol=1e-6)
    query_indices, query_values = encoder.embed_query(text)
    assert query_indices.tolist() == expected_indices and query_values.dtype == np.float32
    assert np.all(query_values == 1.0)


def test_tokenize_follows_fastembed_rules(encoder):
    assert encoder.tokenize("The quick brown foxes are running_fast over 3 lazy dogs.") == [
        "quick", "brown", "fox", "running_fast", "3", "lazi", "dog",
    ]
    assert encoder.tokenize("Running dogs, running cats!") == ["run", "dog", "run", "cat"]
    assert encoder.tokenize("x" * 41 + " " + "z" * 40) == ["z" * 40]  # longer than 40: dropped
    assert encoder.tokenize("_ a_b") == ["a_b"]
    with pytest.raises(TypeError, match="text"):
        encoder.tokenize(None)


def test_token_ids_are_abs_signed_murmur3():
    # abs(mmh3.hash(s)) for s in the list (mmh3 5.3.1)
    words = ["", "a", "ab", "abc", "abcd", "hello", "naïve", "日本語", "x" * 40]
    expected = [0, 1009084850, 1681926305, 1277324294, 1139631978, 613153351, 992511445, 1515949417, 1309653151]
    assert token_ids(words[1:]).tolist() == expected[1:]
    assert token_ids([]).size == 0


def test_bm25_formula_with_custom_parameters():
    encoder = Bm25Encoder(k1=1.5, b=0.5, avg_len=10.0)
    text = "cats chase cats and mice chase rats"
    stems = encoder.tokenize(text)
    assert stems == ["cat", "chase", "cat", "mice", "chase", "rat"]
    norm = 1.5 * (1 - 0.5 + 0.5 * len(stems) / 10.0)
    by_stem = {stem: f * 2.5 / (f + norm) for stem, f in (("cat", 2), ("chase", 2), ("mice", 1), ("rat", 1))}
    ids = token_ids(list(by_stem))
    indices, values = encoder.embed_document(text)
    order = np.argsort(ids)
    assert indices.tolist() == ids[order].tolist()
    np.testing.assert_allclose(values, np.array(list(by_stem.values()))[order], rtol=1e-6)
    assert [v.tolist() for v in encoder.embed_documents([text, ""])[0]] == [indices.tolist(), values.tolist()]


def test_stopword_and_stemmer_options():
    text = "The Running dogs of the city"
    assert Bm25Encoder(disable_stemmer=True).tokenize(text) == ["the", "running", "dogs", "of", "the", "city"]
    assert Bm25Encoder(stopwords={"Dogs"}).tokenize(text) == ["the", "run", "of", "the", "citi"]
    assert Bm25Encoder(token_max_length=4).tokenize(text) == ["dog", "citi"]
    assert Bm25Encoder(language="german", stopwords=set()).tokenize("Häuser") == ["haus"]
    assert len(bundled_stopwords("english")) == 179 and "the" in bundled_stopwords("english")


@pytest.mark.parametrize(
    "options",
    [{"k1": -1}, {"b": 1.5}, {"avg_len": 0}, {"token_max_length": 0}, {"language": "klingon"}, {"language": "german"}],
)
def test_invalid_options_raise(options):
    with pytest.raises(ValueError):
        Bm25Encoder(**options)


def test_matches_fastembed_live(tmp_path, encoder):
    bm25 = pytest.importorskip("fastembed.sparse.bm25")
    pytest.importorskip("mmh3")
    # fastembed cannot download its model files here: give it our stopword list as the model.
    (tmp_path / "english.txt").write_text("\n".join(sorted(bundled_stopwords("english"))))
    (tmp_path / "config.json").write_text("{}")
    model = bm25.Bm25("Qdrant/bm25", specific_model_path=str(tmp_path), local_files_only=True)
    rng = random.Random(0)
    words = "The of Information retrieval systems RUNNING dogs cats generously city's naïve résumé Ω θ 42 x_y _".split()
    for _ in range(100):
        text = " ".join(rng.choice(words) + rng.choice(["", ",", ".", "!", " -", "'s"]) for _ in range(rng.randint(0, 50)))
        expected = list(model.embed([text]))[0]
        order = np.argsort(expected.indices)
        indices, values = encoder.embed_document(text)
        assert indices.tolist() == expected.indices[order].tolist()
        np.testing.assert_array_equal(values, np.asarray(expected.values, np.float64)[order].astype(np.float32))
        assert encoder.embed_query(text)[0].tolist() == sorted(list(model.query_embed(text))[0].indices.tolist())
