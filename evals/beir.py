"""Load BEIR-format datasets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Formats (https://github.com/beir-cellar/beir):

- ``corpus.jsonl``: one JSON object per line, ``{"_id", "title"?, "text", "metadata"?}``.
- ``queries.jsonl``: one JSON object per line, ``{"_id", "text", "metadata"?}``.
- ``qrels/<split>.tsv``: ``query-id <TAB> corpus-id <TAB> score`` with or without a header line;
  the 4-column TREC form ``query-id iteration corpus-id score`` (any whitespace) is also read.

Qrels and runs use pytrec_eval's shapes so they plug into :mod:`evals.metrics` directly:
``Qrels = {query_id: {doc_id: grade}}`` and ``Run = {query_id: {doc_id: score}}``.
Every malformed line raises :class:`DatasetError` naming the file and the 1-based line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import msgspec

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and line."""


class Document(msgspec.Struct, frozen=True):
    """One corpus passage."""

    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = {}


class Query(msgspec.Struct, frozen=True):
    """One query."""

    id: str
    text: str
    metadata: dict[str, Any] = {}


class BeirDataset(msgspec.Struct, frozen=True):
    """A loaded dataset: corpus and queries in file order, qrels of one split."""

    name: str
    split: str
    corpus: dict[str, Document]
    queries: dict[str, Query]
    qrels: Qrels

    def judged_query_ids(self) -> list[str]:
        """Ids of queries with at least one relevant (grade > 0) document, in query-file order."""
        judged = {qid for qid, docs in self.qrels.items() if any(g > 0 for g in docs.values())}
        return [qid for qid in self.queries if qid in judged]


# Wire shapes of one JSONL line: msgspec validates types and reports the offending field.
class _CorpusLine(msgspec.Struct):
    id: str | int = msgspec.field(name="_id")
    text: str = ""
    title: str | None = ""
    metadata: dict[str, Any] | None = None


class _QueryLine(msgspec.Struct):
    id: str | int = msgspec.field(name="_id")
    text: str
    metadata: dict[str, Any] | None = None


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a file with their 1-based line numbers."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def _decode_jsonl(path: Path, line_type: type) -> Iterator[tuple[int, Any]]:
    decoder = msgspec.json.Decoder(line_type)
    for number, line in _numbered_lines(path):
        try:
            yield number, decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise DatasetError(f"{path}:{number}: {error}") from None


def _check_new_id(seen: dict[str, Any], item_id: str, path: Path, number: int) -> None:
    if not item_id:
        raise DatasetError(f"{path}:{number}: empty `_id`")
    if item_id in seen:
        raise DatasetError(f"{path}:{number}: duplicate `_id` {item_id!r}")


def load_corpus(path: str | Path) -> dict[str, Document]:
    """Read ``corpus.jsonl`` into ``{doc_id: Document}`` (file order kept)."""
    path = Path(path)
    corpus: dict[str, Document] = {}
    for number, row in _decode_jsonl(path, _CorpusLine):
        doc_id = str(row.id)
        _check_new_id(corpus, doc_id, path, number)
        corpus[doc_id] = Document(doc_id, row.text, row.title or "", row.metadata or {})
    return corpus


def load_queries(path: str | Path) -> dict[str, Query]:
    """Read ``queries.jsonl`` into ``{query_id: Query}`` (file order kept)."""
    path = Path(path)
    queries: dict[str, Query] = {}
    for number, row in _decode_jsonl(path, _QueryLine):
        query_id = str(row.id)
        _check_new_id(queries, query_id, path, number)
        queries[query_id] = Query(query_id, row.text, row.metadata or {})
    return queries


def _parse_grade(field: bytes) -> int:
    """An integer grade; BEIR files sometimes write ``1.0``."""
    value = float(field)
    if not value.is_integer():
        raise ValueError(f"grade {field.decode(errors='replace')!r} is not an integer")
    return int(value)


def load_qrels(path: str | Path) -> Qrels:
    """Read a qrels TSV into ``{query_id: {doc_id: grade}}``.

    A first line whose score column is not a number is taken as the header and skipped.
    A repeated (query, doc) pair is an error, since the intended grade is ambiguous.
    """
    path = Path(path)
    qrels: Qrels = {}
    for number, line in _numbered_lines(path):
        fields = line.split(b"\t") if b"\t" in line else line.split()
        fields = [field.strip() for field in fields]
        if len(fields) not in (3, 4):
            raise DatasetError(
                f"{path}:{number}: expected 3 tab-separated columns "
                f"(query-id, corpus-id, score) or 4 TREC columns, got {len(fields)}"
            )
        query_id, doc_id = fields[0].decode(), fields[-2].decode()
        try:
            grade = _parse_grade(fields[-1])
        except ValueError:
            if number == 1 and not qrels:
                continue  # header line, e.g. "query-id\tcorpus-id\tscore"
            raise DatasetError(
                f"{path}:{number}: score {fields[-1].decode(errors='replace')!r} is not an integer"
            ) from None
        if not query_id or not doc_id:
            raise DatasetError(f"{path}:{number}: empty query-id or corpus-id")
        judged = qrels.setdefault(query_id, {})
        if doc_id in judged:
            raise DatasetError(f"{path}:{number}: duplicate judgment for ({query_id!r}, {doc_id!r})")
        judged[doc_id] = grade
    return qrels


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Load a BEIR folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    if not isinstance(split, str) or not split:
        raise ValueError("split must be a non-empty string")
    return BeirDataset(
        name=folder.name,
        split=split,
        corpus=load_corpus(folder / "corpus.jsonl"),
        queries=load_queries(folder / "queries.jsonl"),
        qrels=load_qrels(folder / "qrels" / f"{split}.tsv"),
    )
