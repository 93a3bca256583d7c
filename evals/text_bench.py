"""BM25 latency of `TextIndex.search` against bare tantivy (`python -m evals.text_bench`).

Builds `--docs` documents recombined from msmarco-5k (seeded: the first half of one passage +
the second half of another), indexes them once through `TextIndex` and once into a plain
tantivy index with the same analyzer, then times the 50 msmarco queries (p50/p99 over
`--reps` rounds). "bare" = tantivy's query parser + search + pid lookup from a fast field, i.e.
what a caller of tantivy needs to get ids; "bare (search only)" skips parsing and ids.
Filtered rows time both filter strategies (pid pushdown vs over-fetch + numpy mask).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tantivy

from indexes.text import TextIndex, TextIndexParams
from indexes.text import index as text_index_module
from indexes.text.analysis import text_analyzer

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "msmarco-5k"


def recombined_corpus(n_docs: int, seed: int, dataset: Path) -> tuple[list[str], list[str]]:
    passages = [json.loads(line)["text"] for line in (dataset / "corpus.jsonl").open()]
    queries = [json.loads(line)["text"] for line in (dataset / "queries.jsonl").open()]
    words = [p.split() for p in passages]
    rng = np.random.default_rng(seed)
    heads, tails = rng.integers(0, len(words), n_docs), rng.integers(0, len(words), n_docs)
    docs = [
        " ".join(words[h][: len(words[h]) // 2] + words[t][len(words[t]) // 2 :])
        for h, t in zip(heads.tolist(), tails.tolist())
    ]
    return docs, queries


def build_bare(params: TextIndexParams, pids: np.ndarray, docs: list[str]) -> tantivy.Index:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pid", fast=True)
    builder.add_text_field("body", tokenizer_name="ours", index_option="freq")
    index = tantivy.Index(builder.build())
    index.register_tokenizer("ours", text_analyzer(params))
    writer = index.writer(heap_size=64_000_000, num_threads=1)
    for pid, doc in zip(pids.tolist(), docs):
        writer.add_document(tantivy.Document(pid=pid, body=doc))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def bare_searcher(bare: tantivy.Index, limit: int) -> Callable[[str], np.ndarray]:
    """tantivy used directly: its query parser + search + pids read from the fast field."""

    def search(text: str) -> np.ndarray:
        query = bare.parse_query(re.sub(r"[\W_]+", " ", text).lower(), ["body"])
        searcher = bare.searcher()
        hits = searcher.search(query, limit, count=False).hits
        return np.array(searcher.fast_field_values("pid", [a for _, a in hits]), dtype=np.int64)

    return search


def percentiles(run: Callable[[str], object], queries: list[str], reps: int) -> tuple[float, float]:
    for text in queries[:5]:  # warm-up
        run(text)
    times = []
    for _ in range(reps):
        for text in queries:
            start = time.perf_counter()
            run(text)
            times.append(time.perf_counter() - start)
    p50, p99 = np.percentile(np.array(times) * 1e3, [50, 99])
    return float(p50), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args()

    params = TextIndexParams()
    docs, queries = recombined_corpus(args.docs, args.seed, args.dataset)
    pids = np.random.default_rng(args.seed).permutation(args.docs).astype(np.int64)

    start = time.perf_counter()
    ours = TextIndex(params)
    ours.upsert(pids, docs)
    ours.commit(0)
    print(f"TextIndex build: {time.perf_counter() - start:.1f} s for {ours.count()} docs")
    start = time.perf_counter()
    bare = build_bare(params, pids, docs)
    print(f"bare tantivy build: {time.perf_counter() - start:.1f} s")

    limit = args.limit

    bare_search = bare_searcher(bare, limit)
    parsed = {text: bare.parse_query(re.sub(r"[\W_]+", " ", text).lower(), ["body"]) for text in queries}

    def bare_search_only(text: str) -> object:
        return bare.searcher().search(parsed[text], limit, count=False).hits

    rows = [
        ("bare (search only)", percentiles(bare_search_only, queries, args.reps)),
        ("bare", percentiles(bare_search, queries, args.reps)),
        ("TextIndex.search", percentiles(lambda t: ours.search(t, limit), queries, args.reps)),
    ]
    rng = np.random.default_rng(args.seed + 1)
    default_threshold = text_index_module.PUSHDOWN_MAX_PIDS
    for n_allowed in sorted({min(n, args.docs) for n in (10, 100, 256, 1_000, 10_000, 50_000)}):
        allowed = rng.choice(pids, size=n_allowed, replace=False)
        for strategy, threshold in (("pushdown", 1 << 62), ("mask", 0)):
            if strategy == "pushdown" and n_allowed > 1_000:
                continue  # a disjunction of 10k+ terms is far slower; not worth the wait
            text_index_module.PUSHDOWN_MAX_PIDS = threshold
            timing = percentiles(lambda t: ours.search(t, limit, allowed_pids=allowed), queries, 1)
            rows.append((f"filtered {n_allowed:>6} pids, {strategy}", timing))
    text_index_module.PUSHDOWN_MAX_PIDS = default_threshold
    for kind, text in (("text", "what is"), ("text_any", "thermometer fahrenheit"), ("prefix", "The")):
        timing = percentiles(lambda _: ours.match(kind, text), queries[:10], 1)
        hits = len(ours.match(kind, text))
        rows.append((f"match {kind} {text!r} ({hits} hits)", timing))

    print(f"\n{args.docs} docs, {len(queries)} queries x {args.reps} reps, limit {limit}")
    print(f"{'':46s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for name, (p50, p99) in rows:
        print(f"{name:46s} {p50:8.3f} {p99:8.3f}")
    base, ours_p50 = rows[1][1][0], rows[2][1][0]
    print(f"\nTextIndex.search p50 overhead over bare tantivy: {100 * (ours_p50 / base - 1):+.1f}%")
    ours.close()


if __name__ == "__main__":
    main()
