"""Collection-level BM25 text fields: one tantivy index per text-indexed payload field.

One index per field for the whole collection keeps BM25 statistics global (DESIGN.md section
3). Documents are keyed by the point's internal `pid`; after every applied write the affected
points are re-indexed from their current payload (or removed), so hits are never stale. The
index commits with the WAL sequence at each checkpoint; recovery replays only later writes
(or rebuilds the index from the segments when it is older than the checkpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid.errors import ValidationError
from hybrid.query.search import Candidates, filter_mask
from indexes.payload.jsonpath import parse_path, values_at

if TYPE_CHECKING:
    from hybrid.collection import Collection
    from hybrid.view import CollectionView


class TextFields:
    def __init__(self, collection: "Collection") -> None:
        self.c = collection
        self.indexes: dict[str, Any] = {}
        self._paths: dict[str, tuple] = {}
        self.replay_after: dict[str, int] = {}  # field -> last seq already in its index

    def _dir(self, field: str) -> Optional[Path]:
        return None if self.c.path is None else self.c.path / "text" / field.replace("/", "_")

    # ------------------------------------------------------------------ lifecycle
    def create(self, field: str, params_json: dict, rebuild: bool = True) -> None:
        from indexes.text import TextIndex, TextIndexParams

        try:
            params = TextIndexParams.from_json({k: v for k, v in params_json.items() if k != "type"})
        except (ValueError, TypeError) as exc:
            raise ValidationError("field_schema", str(exc)) from None
        directory = self._dir(field)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        index = TextIndex(params, directory)
        self.indexes[field] = index
        self._paths[field] = parse_path(field)
        self.replay_after[field] = index.last_seq
        if rebuild:
            self.reindex_all(field)

    def reindex_all(self, field: str) -> None:
        index = self.indexes[field]
        for seg in self.c.segments:
            live = np.flatnonzero(seg.live)
            index.upsert(seg.pids[live], [self._value(seg.payloads[o], field) for o in live.tolist()])

    def drop(self, field: str) -> None:
        index = self.indexes.pop(field, None)
        if index is not None:
            index.close()
            directory = self._dir(field)
            if directory is not None:
                from hybrid.storage.files import remove_tree

                remove_tree(directory)

    def commit(self, seq: int) -> None:
        for field, index in self.indexes.items():
            index.commit(seq)
            self.replay_after[field] = seq

    def close(self) -> None:
        for index in self.indexes.values():
            index.close()

    # ------------------------------------------------------------------ writes
    def _value(self, payload: Optional[dict], field: str) -> Any:
        found = values_at(payload or {}, self._paths[field], flat=True)
        texts = [v for v in found if isinstance(v, str)]
        return texts if texts else None

    def points_changed(self, ids: list, seq: int) -> None:
        """Re-index (or remove) the given points in every text field after a write."""
        for field, index in self.indexes.items():
            if seq <= self.replay_after.get(field, -1):
                continue
            pids, values, gone = [], [], []
            for pid in ids:
                loc = self.c.where.get(pid)
                if loc is None:
                    key = self.c.pid_of_deleted.pop(pid, None)
                    if key is not None:
                        gone.append(key)
                    continue
                seg, off = loc
                pids.append(int(seg.pids[off]))
                values.append(self._value(seg.payloads[off], field))
            if pids:
                index.upsert(np.asarray(pids, np.int64), values)
            if gone:
                index.delete(np.asarray(gone, np.int64))

    # ------------------------------------------------------------------ reads
    def view(self, collection_view: "CollectionView") -> "TextView":
        """The text fields as of now (called under the collection lock)."""
        return TextView(collection_view, {field: (index, index.searcher()) for field, index in self.indexes.items()})

    def match(self, seg: Any, field: str, kind: str, text: str) -> Optional[np.ndarray]:
        """Filter hook of segments read outside a view (the write path's filters)."""
        index = self.indexes.get(field)
        return None if index is None else _match(index, None, seg, kind, text)


class TextView:
    """BM25 search and text filters over tantivy searchers opened when the view was taken."""

    def __init__(self, view: "CollectionView", fields: dict[str, tuple[Any, Any]]) -> None:
        self.view = view
        self.fields = fields

    @property
    def indexes(self) -> dict[str, Any]:
        return {field: index for field, (index, _) in self.fields.items()}

    def index_of(self, field: str, where: str) -> tuple[Any, Any]:
        found = self.fields.get(field)
        if found is None:
            raise ValidationError(where, f"no text index on field {field!r}: create one with "
                                  f"create_payload_index(field_name={field!r}, field_schema={{'type': 'text'}})")
        return found

    def search(self, field: str, text: str, limit: int, flt: Any, k1: Optional[float], b: Optional[float],
               where: str = "query.bm25", stats: Optional[tuple] = None) -> Candidates:
        """BM25 top-`limit` over live points matching `flt`, as Candidates; `stats` (see
        `term_stats`, summed over the shards of a sharded read) replace the field's own."""
        index, searcher = self.index_of(field, f"{where}.field")
        allowed = None
        if flt is not None:
            segments = self.view.segments
            allowed = np.concatenate([seg.pids[: seg.size][filter_mask(seg, flt)] for seg in segments])
            if allowed.size == 0:
                return Candidates.empty()
            allowed.sort()
        try:
            pids, scores = index.search(text, limit, allowed, k1=k1, b=b, ties=True, searcher=searcher, stats=stats)
        except (ValueError, TypeError) as exc:
            raise ValidationError(where, str(exc)) from None
        return self._candidates(pids, scores, limit)

    def term_stats(self, field: str, text: str, within: Optional[np.ndarray] = None
                   ) -> tuple[int, np.ndarray, int, int]:
        """(documents, documents per unique query token, tokens, documents those tokens are
        of) of a BM25 query on `field`; `within`: the first two counted over those (sorted
        internal keys) only (IDF over a corpus filter; the length norm stays the field's)."""
        index, searcher = self.index_of(field, "query.bm25.field")
        tokens = index.query_terms(text)
        return index.term_stats(tokens, searcher) if within is None else index.term_stats_within(tokens, within, searcher)

    def _candidates(self, pids: np.ndarray, scores: np.ndarray, limit: int) -> Candidates:
        """The hits (best first, ties by pid, those tied at the cut included) as the top
        `limit` Candidates, ties by point id (hits are live in the view: same instant)."""
        segs, seg_ix, offs = self.view.where.locate_pids(pids)
        scores = np.asarray(scores, np.float32)
        if (seg_ix < 0).any():  # hits of points not live in the view
            keep = np.flatnonzero(seg_ix >= 0)
            if not keep.size:
                return Candidates.empty()
            seg_ix, offs, scores = seg_ix[keep], offs[keep], scores[keep]
        return Candidates(segs, seg_ix, offs, scores).ranked(limit)

    def match(self, seg: Any, field: str, kind: str, text: str) -> Optional[np.ndarray]:
        """Filter hook: offsets of `seg` whose field matches, or None when the field has no index."""
        found = self.fields.get(field)
        return None if found is None else _match(found[0], found[1], seg, kind, text)


def _match(index: Any, searcher: Any, seg: Any, kind: str, text: str) -> np.ndarray:
    try:
        pids = index.match(kind, text, searcher=searcher)
    except ValueError:
        return np.zeros(seg.size, dtype=bool)  # e.g. phrase without phrase_matching: no match, as Qdrant
    return np.isin(seg.pids[: seg.size], pids)
