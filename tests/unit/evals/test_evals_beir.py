"""BEIR loader: well-formed folders, header/no-header qrels, and errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.beir import DatasetError, Document, load_beir, load_corpus, load_qrels, load_queries

REPO = Path(__file__).resolve().parents[3]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_dataset(folder: Path, qrels_lines: list[str]) -> Path:
    write_lines(folder / "corpus.jsonl", [
        json.dumps({"_id": "d1", "title": "Title", "text": "first passage", "metadata": {"url": "u"}}),
        json.dumps({"_id": 2, "text": "numeric id, no title"}),
        "",
        json.dumps({"_id": "d3", "title": None, "text": "null title"}),
    ])
    write_lines(folder / "queries.jsonl", [json.dumps({"_id": "q1", "text": "what is first"}), json.dumps({"_id": "q2", "text": "other"})])
    write_lines(folder / "qrels" / "test.tsv", qrels_lines)
    return folder


@pytest.mark.parametrize("header", [True, False])
def test_load_beir_with_and_without_qrels_header(tmp_path, header):
    lines = ["q1\td1\t2", "q1\t2\t0", "q2\td3\t1.0"]
    folder = make_dataset(tmp_path / "toy", (["query-id\tcorpus-id\tscore"] if header else []) + lines)
    dataset = load_beir(folder)
    assert dataset.name == "toy" and dataset.split == "test"
    assert list(dataset.corpus) == ["d1", "2", "d3"]
    assert dataset.corpus["d1"] == Document("d1", "first passage", "Title", {"url": "u"})
    assert dataset.corpus["d3"].title == ""
    assert dataset.queries["q1"].text == "what is first"
    assert dataset.qrels == {"q1": {"d1": 2, "2": 0}, "q2": {"d3": 1}}
    assert dataset.judged_query_ids() == ["q1", "q2"]


def test_trec_four_column_qrels(tmp_path):
    path = write_lines(tmp_path / "qrels.txt", ["q1 0 d1 1", "q1 0 d2 0"])
    assert load_qrels(path) == {"q1": {"d1": 1, "d2": 0}}


@pytest.mark.parametrize(
    ("lines", "line_number", "message"),
    [
        ([json.dumps({"_id": "a", "text": "x"}), "{not json"], 2, "malformed|JSON"),
        ([json.dumps({"text": "no id"})], 1, "_id"),
        ([json.dumps({"_id": "a", "text": 5})], 1, "text"),
        ([json.dumps({"_id": "a", "text": "x"}), "", json.dumps({"_id": "a", "text": "y"})], 3, "duplicate"),
        ([json.dumps({"_id": "", "text": "x"})], 1, "empty"),
    ],
)
def test_malformed_corpus_names_file_and_line(tmp_path, lines, line_number, message):
    path = write_lines(tmp_path / "corpus.jsonl", lines)
    with pytest.raises(DatasetError, match=message) as info:
        load_corpus(path)
    assert f"corpus.jsonl:{line_number}:" in str(info.value)


def test_query_without_text_is_an_error(tmp_path):
    path = write_lines(tmp_path / "queries.jsonl", [json.dumps({"_id": "q"})])
    with pytest.raises(DatasetError, match=r"queries.jsonl:1:.*text"):
        load_queries(path)


@pytest.mark.parametrize(
    ("lines", "line_number", "message"),
    [
        (["q1\td1\t1", "q1\td2"], 2, "3 tab-separated columns"),
        (["q1\td1\t1", "q1\td2\tabc"], 2, "not an integer"),
        (["q1\td1\t1", "q1\td2\t0.5"], 2, "not an integer"),
        (["q1\td1\t1", "q1\td1\t2"], 2, "duplicate"),
        (["query-id\tcorpus-id\tscore", "a\tb\tscore"], 2, "not an integer"),
    ],
)
def test_malformed_qrels_names_file_and_line(tmp_path, lines, line_number, message):
    path = write_lines(tmp_path / "test.tsv", lines)
    with pytest.raises(DatasetError, match=message) as info:
        load_qrels(path)
    assert f"test.tsv:{line_number}:" in str(info.value)


def test_missing_files_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="folder not found"):
        load_beir(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="corpus.jsonl: file not found"):
        load_beir(tmp_path / "empty")
    assert issubclass(DatasetError, ValueError)


def test_shipped_msmarco_5k_loads():
    dataset = load_beir(REPO / "datasets" / "msmarco-5k")
    assert (len(dataset.corpus), len(dataset.queries)) == (5000, 50)
    assert sum(len(docs) for docs in dataset.qrels.values()) == 4102
    assert len(dataset.judged_query_ids()) == 43
    assert set(dataset.judged_query_ids()) <= set(dataset.queries)
    assert {grade for docs in dataset.qrels.values() for grade in docs.values()} == {1, 2, 3}
