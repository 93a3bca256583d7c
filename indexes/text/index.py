"""BM25 text field index: one tantivy index per text field per collection.

One index per field (not per segment) keeps BM25 statistics global: document frequencies and
the average length are over the whole collection, so a point scores the same wherever it lives.

Contract with the engine:
- Documents are keyed by a collection-unique int64 `pid`; `upsert` replaces, `delete` removes.
- Read-your-writes: writes are buffered in tantivy's writer and committed lazily, once, by the
  first search/match/count after them (so a batch of upserts costs one tantivy commit and no
  reader ever sees stale hits). `commit(seq)` commits too and records `seq` durably.
- Recovery: the index may hold operations newer than `last_seq` (lazy commits are durable on
  disk) but never misses one at or before it; upsert and delete are idempotent, so the engine
  replays its WAL after `last_seq`.
- BM25 uses tantivy's constants k1=1.2, b=0.75 (tantivy-py exposes neither the parameters nor
  term frequencies, so other values cannot be computed exactly): other values raise ValueError.
  Statistics count deleted documents until tantivy merges their segments (as Lucene does).
- Statistics from elsewhere (a sharded collection's, summed from every shard's `term_stats`):
  `search(stats=...)` scores exactly with them (indexes.text.global_bm25).
"""

from __future__ import annotations

import json
import math
import os
import threading
from operator import itemgetter
from pathlib import Path

import numpy as np
import tantivy

from indexes.text import queries as q
from indexes.text.global_bm25 import CollectionBm25, Rescorer
from indexes.text.analysis import analysis_for, tokenize
from indexes.text.params import TextIndexParams

__all__ = ["MATCH_KINDS", "TextIndex", "TextIndexParams", "tokenize"]

MATCH_KINDS = ("text", "text_any", "phrase", "prefix")
BM25_K1, BM25_B = 1.2, 0.75

#: Filters with at most this many pids are pushed into tantivy as a pid disjunction; larger ones
#: over-fetch the unfiltered ranking and mask it with numpy. Measured p50 on 100k docs
#: (`python -m evals.text_bench`): 256 pids 1.5 ms pushed vs 28 ms masked; 1000 pids 17 vs 11 ms.
PUSHDOWN_MAX_PIDS = 256
#: Over-fetch factor on top of 1 / selectivity for masked filtering (grown 4x when short).
OVERFETCH = 2.0
#: Hits fetched beyond `limit` so that ties at the cut are usually settled by the first search
#: (a second search costs a full one). On 30k msmarco documents (evals.keyword_bench) 45 of 50
#: queries have no document tied with the 10th beyond it and 5 have one; tantivy's top-k p50
#: is ~208 us for k = 14 against ~225 us for k = 42 (block-max pruning keeps a lower bar).
TIE_MARGIN = 4

_META = "text_index.json"
#: Sidecar format: 2 added the `len` fast field; an index of an older format is rebuilt.
_FORMAT = 2
_WRITER_HEAP = 64_000_000


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def _as_pids(pids: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(pids)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name}: expected a 1-D integer array, got {array.dtype} with shape {array.shape}")
    return array.astype(np.int64, copy=False)


def _sorted_contains(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Membership of each `x` in `sorted_values` by binary search (no hashing of the big side)."""
    at = np.minimum(np.searchsorted(sorted_values, x), len(sorted_values) - 1)
    return sorted_values[at] == x


def _strings(value: object) -> list[str]:
    """String values of a payload value: a string, the strings of a list, else none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def _check_bm25(name: str, value: float | None, supported: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if not math.isclose(value, supported, rel_tol=0, abs_tol=1e-6):  # float32 in Qdrant and on gRPC
        raise ValueError(f"{name}: only {supported} is supported (tantivy's built-in BM25), got {value}")


class TextIndex:
    """Scored BM25 retrieval and text filters over one payload field (see module docstring)."""

    def __init__(self, params: TextIndexParams, path: Path | None = None) -> None:
        if not isinstance(params, TextIndexParams):
            raise TypeError(f"params: expected TextIndexParams, got {type(params).__name__}")
        self.params = params
        self._analysis = analysis_for(params)
        self._path = None if path is None else Path(path)
        self._last_seq = -1
        self._lock = threading.Lock()
        self._dirty = False
        self._closed = False
        schema = q.build_schema(params.phrase_matching)
        if self._path is None:
            self._index = tantivy.Index(schema)
        else:
            self._index = self._open_on_disk(schema, self._path)
        self._schema = self._index.schema
        self._index.config_reader(reload_policy="Manual")
        self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)

    def _open_on_disk(self, schema: tantivy.Schema, path: Path) -> tantivy.Index:
        meta_path, tantivy_dir = path / _META, path / "tantivy"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("version", 1) < _FORMAT:  # derived data: the engine re-indexes it (last_seq -1)
                from hybrid.storage.files import remove_tree

                remove_tree(tantivy_dir)
                meta_path.unlink()
                return self._open_on_disk(schema, path)
            stored = TextIndexParams.from_json(meta["params"])
            if stored != self.params:
                raise ValueError(f"params: {path} holds a text index built with {stored}")
            self._last_seq = int(meta["last_seq"])
            return tantivy.Index.open(str(tantivy_dir))
        tantivy_dir.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(schema, path=str(tantivy_dir), reuse=False)
        self._write_meta(path)
        return index

    def _write_meta(self, path: Path) -> None:
        """Atomically replace the sidecar (params + last_seq): write, fsync, rename, fsync dir."""
        tmp = path / (_META + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"version": _FORMAT, "params": self.params.to_json(), "last_seq": self._last_seq}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path / _META)
        dir_fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # ---- writes -------------------------------------------------------------------------------

    def upsert(self, pids: np.ndarray, values: list) -> None:
        """Replace the documents of `pids` by `values` (str, list of str, or anything else = not
        indexed, which removes the pid). A pid repeated in one call keeps its last value."""
        pids = _as_pids(pids, "pids")
        if len(values) != len(pids):
            raise ValueError(f"values: expected {len(pids)} values (one per pid), got {len(values)}")
        if not len(pids):
            return
        _, first_in_reversed = np.unique(pids[::-1], return_index=True)
        last = np.sort(len(pids) - 1 - first_in_reversed)
        # tantivy-py takes one Document per point: this loop is the write path, never a query's.
        docs = [self._document(int(pids[i]), values[i]) for i in last]
        with self._lock:
            self._check_open()
            self._writer.delete_documents_by_query(q.pid_set(self._schema, pids[last].tolist()))
            for doc in docs:
                if doc is not None:
                    self._writer.add_document(doc)
            self._dirty = True

    def _document(self, pid: int, value: object) -> tantivy.Document | None:
        strings = _strings(value)
        if not strings:
            return None
        doc = tantivy.Document()
        doc.add_integer(q.PID, pid)
        length = 0
        for string in strings:  # separate values: tantivy puts a position gap between them
            joined = self._analysis.joined(string)
            length += joined.count(" ") + 1 if joined else 0
            doc.add_text(q.TEXT, joined)
            doc.add_text(q.RAW, string[: q.RAW_PREFIX_CHARS])
        doc.add_unsigned(q.LEN, length)
        return doc

    def delete(self, pids: np.ndarray) -> None:
        """Remove the documents of `pids` (unknown pids are ignored)."""
        pids = _as_pids(pids, "pids")
        if not len(pids):
            return
        with self._lock:
            self._check_open()
            self._writer.delete_documents_by_query(q.pid_set(self._schema, np.unique(pids).tolist()))
            self._dirty = True

    def commit(self, seq: int) -> None:
        """Make every write visible and durable, then record `seq` as the last applied op."""
        if isinstance(seq, bool) or not isinstance(seq, (int, np.integer)):
            raise TypeError(f"seq: expected an integer, got {seq!r}")
        if seq < self._last_seq:
            raise ValueError(f"seq: {seq} is before the last committed seq {self._last_seq}")
        with self._lock:
            self._check_open()
            self._flush()
            self._last_seq = int(seq)
            if self._path is not None:
                self._write_meta(self._path)

    @property
    def last_seq(self) -> int:
        """Seq of the last committed operation (-1 when none): replay the WAL after it."""
        return self._last_seq

    def _flush(self) -> None:
        """Commit buffered writes and reload the reader (caller holds the lock)."""
        if self._dirty:
            self._writer.commit()
            self._index.reload()
            self._dirty = False

    def searcher(self) -> tantivy.Searcher:
        """A point-in-time searcher over every write so far (later writes do not change it):
        pass it to `search`/`match` to read one consistent state."""
        return self._searcher()

    def _searcher(self) -> tantivy.Searcher:
        if self._dirty or self._closed:
            with self._lock:
                self._check_open()
                self._flush()
        return self._index.searcher()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("TextIndex is closed")

    # ---- reads --------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        limit: int,
        allowed_pids: np.ndarray | None = None,
        k1: float | None = None,
        b: float | None = None,
        ties: bool = False,
        searcher: tantivy.Searcher | None = None,
        stats: tuple[int, np.ndarray, int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `limit` documents by BM25 of `text` (see `queries.bm25_query`), restricted to
        `allowed_pids` when given: (pids int64, scores float32), descending score, ties by
        ascending pid. Documents matching no query token are never returned. With `ties=True`
        every document tied with the `limit`-th is returned too (so possibly more than `limit`),
        for a caller that breaks ties by something else than pid (the engine: point id).
        `stats` (documents, documents per unique query token, tokens, their documents: see
        `term_stats`), e.g. summed over the shards of a collection, replace this index's
        statistics: the scores are then those of one index holding the whole collection."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a string, got {type(text).__name__}")
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
            raise ValueError(f"limit: expected a non-negative integer, got {limit!r}")
        _check_bm25("k1", k1, BM25_K1)
        _check_bm25("b", b, BM25_B)
        tokens = self._analysis.tokens(text)
        searcher = self._searcher() if searcher is None else searcher
        if not tokens or limit == 0:
            return _empty()
        boosts, rescorer = None, None
        if stats is not None:  # fetch by local score with the collection's IDF, rescore exactly
            rescorer = Rescorer(self._schema, searcher, list(dict.fromkeys(tokens)), CollectionBm25(*stats))
            boosts = rescorer.boosts()
        query = q.bm25_query(self._schema, tokens, boosts)
        allowed = None
        if allowed_pids is not None:
            allowed = _as_pids(allowed_pids, "allowed_pids")
            if not len(allowed):
                return _empty()
            if len(allowed) <= PUSHDOWN_MAX_PIDS:
                query, allowed = q.filtered(query, q.pid_filter(self._schema, allowed.tolist())), None
            else:
                allowed = np.sort(allowed)
        return self._ranked(searcher, query, int(limit), allowed, ties, rescorer)

    def _ranked(
        self, searcher: tantivy.Searcher, query: tantivy.Query, limit: int, allowed: np.ndarray | None,
        ties: bool, rescorer: Rescorer | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-`limit` with deterministic ties, optionally masked to sorted `allowed`
        (duplicates and unknown pids are fine) and rescored by `rescorer`.

        tantivy returns the exact top-k scores but breaks ties arbitrarily, so fetch more until
        `limit` kept hits score strictly above the last fetched one (or all matches are in):
        then no unfetched document can tie into the result. Rescored, the last fetched score
        times `rescorer.bound()` caps every unfetched document's new score.
        """
        n_docs = searcher.num_docs
        fetch = limit + TIE_MARGIN
        if allowed is not None:
            fetch = math.ceil(fetch * OVERFETCH * n_docs / len(allowed))
        while True:
            fetch = min(fetch, max(n_docs, 1))
            hits = searcher.search(query, fetch, count=False).hits  # by descending score
            pids, scores, addresses = self._unpack(searcher, hits)
            complete = len(hits) < fetch or fetch >= n_docs
            cap = scores[-1] if len(scores) else 0.0  # no unfetched document scores above it
            if allowed is not None:
                keep = _sorted_contains(allowed, pids)
                pids, scores, addresses = pids[keep], scores[keep], addresses[keep]
            if rescorer is not None:
                scores, cap = rescorer.scores(pids, addresses.tolist()), cap * rescorer.bound()
            settled = complete or np.count_nonzero(scores > cap) >= limit
            if settled:
                break
            fetch *= 4
        order = np.lexsort((pids, -scores))
        cut = limit
        if ties and order.size > limit:  # the hits after the limit-th that tie with it
            cut += int(np.count_nonzero(scores[order[limit:]] >= scores[order[limit - 1]]))
        return pids[order[:cut]], scores[order[:cut]]

    def query_terms(self, text: str) -> list[str]:
        """The unique analysed tokens of a BM25 query, in order (what `term_stats` counts)."""
        return list(dict.fromkeys(self._analysis.tokens(text)))

    def term_stats(self, tokens: list[str], searcher: tantivy.Searcher | None = None
                   ) -> tuple[int, np.ndarray, int, int]:
        """(documents, documents holding each unique token, tokens of all documents, documents
        again: those the tokens are of) as this index's BM25 counts them: summable over indexes
        holding disjoint documents (one tantivy lookup per query token, one sum over the `len`
        fast field)."""
        searcher = self._searcher() if searcher is None else searcher
        unique = list(dict.fromkeys(tokens))
        df = np.array([searcher.doc_freq(q.TEXT, t) for t in unique], dtype=np.float64)
        return searcher.num_docs, df, self._total_tokens(searcher), searcher.num_docs

    @staticmethod
    def _total_tokens(searcher: tantivy.Searcher) -> int:
        total = searcher.aggregate(tantivy.Query.all_query(), {"t": {"sum": {"field": q.LEN}}})["t"]["value"]
        return int(total or 0)

    @staticmethod
    def _unpack(searcher: tantivy.Searcher, hits: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pids, scores, DocAddress objects) of tantivy hits."""
        if not hits:
            return (*_empty(), np.empty(0, dtype=object))
        scores, addresses = zip(*hits)
        pids = searcher.fast_field_values(q.PID, list(addresses))
        found = np.empty(len(addresses), dtype=object)
        found[:] = addresses
        return np.array(pids, dtype=np.int64), np.array(scores, dtype=np.float32), found

    def term_stats_within(self, tokens: list[str], pids: np.ndarray,
                          searcher: tantivy.Searcher | None = None) -> tuple[int, np.ndarray, int, int]:
        """`term_stats` with documents and documents per token counted over sorted `pids` only
        (IDF over a corpus); the length statistics stay the whole index's."""
        searcher = self._searcher() if searcher is None else searcher

        def among(query: tantivy.Query) -> int:
            if searcher.num_docs == 0:
                return 0
            hits = searcher.search(query, searcher.num_docs, count=False, order_by_field=q.PID,
                                   order=tantivy.Order.Asc).hits
            found = np.fromiter(map(itemgetter(0), hits), dtype=np.int64, count=len(hits))
            return int(np.count_nonzero(_sorted_contains(pids, found))) if pids.size else 0

        unique = list(dict.fromkeys(tokens))
        df = np.array([among(q.term(self._schema, t)) for t in unique], dtype=np.float64)
        return among(tantivy.Query.all_query()), df, self._total_tokens(searcher), searcher.num_docs

    def match(self, kind: str, text: str, searcher: tantivy.Searcher | None = None) -> np.ndarray:
        """Sorted unique pids matching a Qdrant text condition:
        "text" every query token present, "text_any" at least one, "phrase" the tokens
        consecutively within one value (needs phrase_matching), "prefix" a raw string value
        starting with `text` (case-sensitive, no analysis, at most RAW_PREFIX_CHARS chars).
        With the prefix tokenizer, text/text_any/phrase tokens match as word prefixes.
        A query without tokens matches nothing."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a string, got {type(text).__name__}")
        query = self._match_query(kind, text)
        searcher = self._searcher() if searcher is None else searcher
        n_docs = searcher.num_docs
        if query is None or n_docs == 0:
            return np.empty(0, dtype=np.int64)
        # Ordering by the pid fast field skips scoring and yields the pids sorted.
        hits = searcher.search(query, n_docs, count=False, order_by_field=q.PID, order=tantivy.Order.Asc).hits
        return np.fromiter(map(itemgetter(0), hits), dtype=np.int64, count=len(hits))

    def _match_query(self, kind: str, text: str) -> tantivy.Query | None:
        if kind == "prefix":
            if len(text) > q.RAW_PREFIX_CHARS:
                raise ValueError(f"prefix: at most {q.RAW_PREFIX_CHARS} characters are indexed, got {len(text)}")
            return q.raw_prefix(self._schema, text)
        if kind not in MATCH_KINDS:
            raise ValueError(f"kind: expected one of {MATCH_KINDS}, got {kind!r}")
        if kind == "phrase" and not self.params.phrase_matching:
            raise ValueError("phrase: the text index was created with phrase_matching=false")
        tokens = self._analysis.match_tokens(text)
        if not tokens:
            return None
        prefix = self.params.tokenizer == "prefix"
        build = {"text": q.all_of, "text_any": q.any_of, "phrase": q.phrase}[kind]
        return build(self._schema, tokens, prefix)

    def count(self) -> int:
        """Number of indexed points (those with at least one string value)."""
        return self._searcher().num_docs

    def close(self) -> None:
        """Commit buffered writes (last_seq unchanged) and release the writer and its lock."""
        with self._lock:
            if self._closed:
                return
            self._flush()
            self._writer.wait_merging_threads()  # consumes the writer: frees the directory lock
            self._closed = True

    def __enter__(self) -> TextIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
