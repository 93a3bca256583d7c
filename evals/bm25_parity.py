"""BM25 parity check: our Query API's BM25 against tantivy used directly with the same tokenizer.

:func:`tantivy_direct_run` indexes ``title + " " + text`` into a plain tantivy index whose text
field uses the analyzer of the runner's text index (``indexes.text.analysis.text_analyzer``),
and answers each query with tantivy's own query parser (default OR, BM25 k1=1.2, b=0.75), the
way a tantivy user would. Query syntax characters are replaced by spaces and the text is
lowercased first, so operators (``AND``, ``-``, ``:``) cannot change the query. Any nDCG gap to
the ``bm25`` plan then comes from our engine, not from different analysis.
"""

from __future__ import annotations

import re
from typing import Sequence

import tantivy

from evals.beir import BeirDataset, Run
from evals.runner import TEXT_INDEX, document_texts
from indexes.text.analysis import text_analyzer
from indexes.text.params import TextIndexParams

_SYNTAX = re.compile(r"[\W_]+")
_WRITER_HEAP = 64_000_000


def build_tantivy_index(texts: Sequence[str], params: TextIndexParams) -> tantivy.Index:
    """An in-memory tantivy index of ``texts`` (doc position in fast field ``pid``)."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pid", fast=True, stored=False)
    builder.add_text_field("body", tokenizer_name="ours", index_option="freq")
    index = tantivy.Index(builder.build())
    index.register_tokenizer("ours", text_analyzer(params))
    writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
    for pid, text in enumerate(texts):
        writer.add_document(tantivy.Document(pid=pid, body=text))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def tantivy_direct_run(
    dataset: BeirDataset,
    query_ids: Sequence[str],
    *,
    depth: int = 100,
    params: TextIndexParams | None = None,
) -> Run:
    """BM25 top ``depth`` per query from plain tantivy (see module docstring)."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError("depth must be a positive integer")
    params = TextIndexParams.from_json(TEXT_INDEX) if params is None else params
    index = build_tantivy_index(document_texts(dataset), params)
    searcher = index.searcher()
    doc_ids = list(dataset.corpus)
    run: Run = {}
    for qid in query_ids:
        cleaned = _SYNTAX.sub(" ", dataset.queries[qid].text).lower().strip()
        if not cleaned:
            run[qid] = {}
            continue
        hits = searcher.search(index.parse_query(cleaned, ["body"]), depth).hits
        pids = searcher.fast_field_values("pid", [address for _, address in hits]) if hits else []
        run[qid] = {doc_ids[int(pid)]: float(score) for (score, _), pid in zip(hits, pids)}
    return run
