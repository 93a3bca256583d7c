"""The read side: leaf searches over all segments, top-k merge, hydration, scroll and count.

Inside, candidates are (segment, offset, internal score) arrays; ids, payloads and vectors are
attached only to the final top-k (`hydrate`). Internal scores are higher-is-better; `display`
converts them to Qdrant's reported values once, at the edge.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Optional

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.config import DEFAULT_VECTOR
from hybrid.errors import ValidationError
from hybrid.query.allowed import filtered_hits
from hybrid.filtering.parse import parse_filter
from hybrid.ids import ID_KEY_DTYPE, KeyIds, PointId, id_key_bytes, ids_at
from hybrid.payload import select_payload
from hybrid.segment import Segment

if TYPE_CHECKING:
    from hybrid.view import CollectionView


class Candidates(msgspec.Struct):
    """A ranked list of points: parallel arrays, best first (ties by point id). A Struct: a
    query builds several."""

    segs: list[Segment]  # segment table; `seg` indexes into it
    seg: np.ndarray  # int32
    off: np.ndarray  # int64
    score: np.ndarray  # float32 internal scores

    @staticmethod
    def empty() -> "Candidates":
        return Candidates([], np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.float32))

    @staticmethod
    def from_masks(pairs: Any) -> "Candidates":
        """Every offset set in each (segment, bool mask) pair, in segment order (scores 0)."""
        segs, seg_ix, offs = [], [], []
        for seg, mask in pairs:
            offsets = np.flatnonzero(mask)
            if offsets.size:
                segs.append(seg)
                seg_ix.append(np.full(offsets.size, len(segs) - 1, np.int32))
                offs.append(offsets)
        if not segs:
            return Candidates.empty()
        off = np.concatenate(offs)
        return Candidates(segs, np.concatenate(seg_ix), off, np.zeros(off.size, np.float32))

    def __len__(self) -> int:
        return int(self.off.size)

    def keys(self) -> np.ndarray:
        """Sortable id keys (S17) of the candidates."""
        if len(self.segs) == 1:
            return self.segs[0].keys[self.off]
        out = np.empty(len(self), dtype=ID_KEY_DTYPE)
        for i, seg in enumerate(self.segs):
            mask = self.seg == i
            if mask.any():
                out[mask] = seg.keys[self.off[mask]]
        return out

    def ids(self) -> list[PointId]:
        """The candidates' point ids, in order (decoded per segment in one pass)."""
        return self._per_segment(lambda seg, offsets: ids_at(seg.ids, offsets))

    def versions(self) -> list[int]:
        return self._per_segment(lambda seg, offsets: seg.versions[offsets].tolist())

    def _per_segment(self, values_at: Any) -> list:
        """[values_at(segment, its offsets) ...] spliced back into candidate order."""
        if len(self.segs) == 1:
            return values_at(self.segs[0], self.off)
        out: list = [None] * len(self)
        for i, seg in enumerate(self.segs):
            rows = np.flatnonzero(self.seg == i)
            for row, value in zip(rows.tolist(), values_at(seg, self.off[rows])):
                out[row] = value
        return out

    def take(self, index: np.ndarray) -> "Candidates":
        return Candidates(self.segs, self.seg[index], self.off[index], self.score[index])

    def sort_keys(self) -> np.ndarray:
        """Keys that order as the point ids: the ids themselves when one segment holds only
        integer ids (numeric sorts run ~2x faster), else the S17 keys."""
        if len(self.segs) == 1:
            ids = self.segs[0].ids
            if isinstance(ids, KeyIds) and ids.integers:
                return ids.numbers(self.off)
        return self.keys()

    def head(self, limit: Optional[int]) -> "Candidates":
        if limit is None or limit >= len(self):
            return self
        return Candidates(self.segs, self.seg[:limit], self.off[:limit], self.score[:limit])

    def ranked(self, limit: Optional[int] = None) -> "Candidates":
        """Sorted by descending score, ties by ascending point id, cut to `limit`."""
        score = self.score
        if score.size < 2 or (score[1:] < score[:-1]).all():
            return self.head(limit)  # already best first without ties, as one segment's Hits usually come
        descending = -score
        if score.size <= _SMALL:  # one sort by (score, id) beats a score sort plus a test for ties
            order = np.lexsort((self.sort_keys(), descending))
        else:
            order = np.argsort(descending, kind="stable")
            ordered = descending[order]
            if (ordered[1:] == ordered[:-1]).any():  # ids only settle ties
                order = np.lexsort((self.sort_keys(), descending))
        return self.take(order[:limit])


#: Candidate lists up to this size are ranked by one lexsort (see `Candidates.ranked`).
_SMALL = 64


def display(score: np.ndarray, distance: Optional[str]) -> np.ndarray:
    """Internal score -> Qdrant's reported score (Euclid/Manhattan as distances)."""
    if distance == "Euclid":
        return np.sqrt(np.abs(score))
    if distance == "Manhattan":
        return np.abs(score)
    return score


def internal_threshold(threshold: Optional[float], distance: Optional[str]) -> Optional[float]:
    """score_threshold in internal units: for distances it is a maximum distance."""
    if threshold is None:
        return None
    if distance == "Euclid":
        return -(threshold * threshold)
    if distance == "Manhattan":
        return -threshold
    return threshold


def parse(flt: Any, field: str = "filter") -> Any:
    """Parse a filter in any accepted form (None passes through)."""
    if flt is None:
        return None
    key = _json_key(flt)
    try:
        return _parse_json(key, field) if key is not None else parse_filter(flt, field)
    except (ValueError, TypeError) as exc:
        raise ValidationError.from_message(exc, field) from None


@functools.lru_cache(maxsize=4096)
def _parse_json(key: bytes, field: str) -> Any:
    """Parsed filters by their JSON. Clients repeat a few filters, and parsing one costs as much
    as scoring a few hundred vectors; parsed filters are immutable, so they are shared."""
    return parse_filter(msgspec.json.decode(key), field)


def _json_key(flt: Any) -> Optional[bytes]:
    """A plain-JSON filter's encoding; None for model objects, non-JSON values, and nulls (NaN
    and inf encode as null too, and must not share a null's parse)."""
    if type(flt) is not dict:
        return None
    try:
        key = msgspec.json.encode(flt)
    except (TypeError, msgspec.EncodeError):
        return None
    return None if b"null" in key else key


def filter_mask(seg: Segment, flt: Any) -> np.ndarray:
    """Live points of `seg` that match a parsed filter (None: all live)."""
    live = seg.live
    if flt is None:
        return live
    from hybrid.filters import evaluate

    return live & evaluate(flt, seg)[: seg.size]


def search_args(params: Optional[m.SearchParams]) -> dict[str, Any]:
    """SearchParams -> keyword arguments of a store's search (hnsw_ef, exact, quantization)."""
    if params is None:
        return {}
    args: dict[str, Any] = {"exact": params.exact}
    if params.hnsw_ef is not None:
        args["ef"] = params.hnsw_ef
    if params.quantization:
        q = params.quantization
        args.update(ignore_quantization=bool(q.get("ignore", False)), rescore=q.get("rescore", True),
                    oversampling=float(q.get("oversampling") or 1.0))
    return args


def searchable(c: "CollectionView", using: str, flt: Any = None) -> list[tuple[Segment, np.ndarray, int]]:
    """(segment, allowed mask, allowed count) of every segment with a live, matching point that
    has vector `using`."""
    segments = c.segments
    out = []
    for seg in segments:
        if seg.size == 0:
            continue
        allowed, count = seg.base_allowed(using)
        if flt is not None:
            allowed = allowed & filter_mask(seg, flt)
            count = int(np.count_nonzero(allowed))
        if count:
            out.append((seg, allowed, count))
    return out


#: Segment indices of one segment's hits (read-only views of it stand for small lists).
_ZEROS = np.zeros(256, np.int32)
_ZEROS.flags.writeable = False


def merge_hits(parts: list[tuple[Segment, Any]]) -> Candidates:
    """Per-segment Hits -> one Candidates list (unranked)."""
    if not parts:
        return Candidates.empty()
    if len(parts) == 1:
        seg, hits = parts[0]
        return Candidates([seg], _ZEROS[: hits.offsets.size] if hits.offsets.size <= _ZEROS.size else
                          np.zeros(hits.offsets.size, np.int32), hits.offsets, hits.scores.astype(np.float32, copy=False))
    segs = [seg for seg, _ in parts]
    seg_ix = np.concatenate([np.full(h.offsets.size, i, np.int32) for i, (_, h) in enumerate(parts)])
    return Candidates(segs, seg_ix, np.concatenate([h.offsets for _, h in parts]),
                      np.concatenate([h.scores for _, h in parts]).astype(np.float32, copy=False))


def search_leaf(c: "CollectionView", using: str, query: Any, limit: int, flt: Any = None,
                params: Optional[m.SearchParams] = None, threshold: Optional[float] = None,
                exclude: Optional[PointId] = None) -> Candidates:
    """Top `limit` points for one prepared query on one vector name, over every segment."""
    args = search_args(params)
    want = limit + (1 if exclude is not None else 0)
    spec = c.schema.dense.get(using)
    if spec is not None and not spec.multivector:  # the filter as index offsets or a bitset, per segment
        segments = c.segments
        cand = merge_hits(filtered_hits(segments, using, query, want, flt, **args))
    else:
        cand = merge_hits([(seg, seg.vectors[using].search(query, want, allowed, seg.size, allowed_count=count,
                                                           **args))
                           for seg, allowed, count in searchable(c, using, flt)])
    if exclude is not None:
        cand = cand.take(np.flatnonzero(cand.keys() != id_key_bytes(exclude)))
    if threshold is not None:
        cand = cand.take(np.flatnonzero(cand.score >= threshold))
    return cand.ranked(limit)


def vector_output(seg: Segment, off: int, selector: Any) -> Any:
    """with_vectors: True (all), False/None, or a list of names. Unnamed-only collections get a list."""
    if not selector:
        return None
    names = list(seg.vectors) if selector is True else [n for n in selector if n in seg.vectors]
    out = {n: v for n in names if (v := seg.vector_of(off, n)) is not None}
    if list(seg.vectors) == [DEFAULT_VECTOR]:
        return out.get(DEFAULT_VECTOR)
    return out


def hydrate(cand: Candidates, with_payload: Any, with_vectors: Any, distance: Optional[str]) -> list[m.ScoredPoint]:
    """ScoredPoints of the final top-k (a loop over at most `limit` points, not over the data)."""
    shown = display(cand.score, distance).tolist()
    ids, versions = cand.ids(), cand.versions()
    point = m.ScoredPoint
    if with_payload is False and not with_vectors:  # the common "ids and scores" response
        return [point(id=pid, version=version, score=score) for pid, version, score in zip(ids, versions, shown)]
    segs = cand.segs
    return [point(id=pid, version=version, score=score, payload=select_payload(segs[s].payloads[off], with_payload),
                  vector=vector_output(segs[s], off, with_vectors))
            for pid, version, score, s, off in zip(ids, versions, shown, cand.seg.tolist(), cand.off.tolist())]


def record(seg: Segment, off: int, with_payload: Any, with_vectors: Any) -> m.Record:
    return m.Record(id=seg.ids[off], payload=select_payload(seg.payloads[off], with_payload),
                    vector=vector_output(seg, off, with_vectors))


def all_matching(c: "CollectionView", flt: Any) -> Candidates:
    """Every live point matching the filter, in point-id order (scores are 0)."""
    segments = c.segments
    cand = Candidates.from_masks((seg, filter_mask(seg, flt)) for seg in segments)
    return cand.take(np.argsort(cand.keys(), kind="stable"))


def scroll(c: "CollectionView", flt: Any, limit: int, offset: Optional[PointId], with_payload: Any,
           with_vectors: Any) -> tuple[list[m.Record], Optional[PointId]]:
    cand = all_matching(c, flt)
    keys = cand.keys()
    start = 0 if offset is None else int(np.searchsorted(keys, np.array(id_key_bytes(offset), dtype=ID_KEY_DTYPE)))
    page = cand.take(np.arange(start, min(start + limit + 1, len(cand))))
    records = [record(page.segs[s], o, with_payload, with_vectors)
               for s, o in zip(page.seg[:limit].tolist(), page.off[:limit].tolist())]
    nxt = page.segs[int(page.seg[limit])].ids[int(page.off[limit])] if len(page) > limit else None
    return records, nxt


def count(c: "CollectionView", flt: Any) -> int:
    segments = c.segments
    return sum(int(np.count_nonzero(filter_mask(seg, flt))) for seg in segments)
