"""`{"order_by": ..}` and `{"sample": "random"}` over the collection or over prefetched points.

order_by returns one entry per distinct (point, value) of the payload key, like Qdrant: a
point with several values may appear several times. Values are numbers, datetimes as UTC
microseconds (`hybrid.filters.order_pairs`). Order: by value (descending when asked), then
by point id; `start_from` keeps values >= it (<= when descending). Scores are 0.0 and each
point carries its `order_value`, as in Qdrant's server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.errors import BadRequest
from hybrid.query.parse import OrderBy, parse_order_by
from hybrid.query.search import Candidates, filter_mask, record

if TYPE_CHECKING:
    from hybrid.view import CollectionView


def domain_masks(c: "CollectionView", flt: Any, pool: Optional[Candidates]) -> list[tuple[Any, np.ndarray]]:
    """(segment, allowed offsets mask) for every segment: live + filter, or the pool's points."""
    if pool is not None:
        out = []
        for i, seg in enumerate(pool.segs):
            mask = np.zeros(seg.size, dtype=bool)
            mask[pool.off[pool.seg == i]] = True
            out.append((seg, mask))
        return out
    segments = c.segments
    return [(seg, filter_mask(seg, flt)) for seg in segments if seg.size]


def order_by(c: "CollectionView", op: OrderBy, flt: Any, pool: Optional[Candidates], limit: int) -> tuple[Candidates, np.ndarray]:
    """(candidates in order, their float64 order values)."""
    from hybrid.filters import order_pairs

    segs, seg_ix, offs, values = [], [], [], []
    for seg, allowed in domain_masks(c, flt, pool):
        owners, vals = order_pairs(op.key, seg)
        keep = allowed[owners]
        if op.start_from is not None:
            keep &= (vals <= op.start_from) if op.descending else (vals >= op.start_from)
        if not keep.any():
            continue
        segs.append(seg)
        seg_ix.append(np.full(int(keep.sum()), len(segs) - 1, np.int32))
        offs.append(owners[keep].astype(np.int64))
        values.append(vals[keep])
    if not segs:
        return Candidates.empty(), np.empty(0)
    value = np.concatenate(values)
    cand = Candidates(segs, np.concatenate(seg_ix), np.concatenate(offs), np.zeros(value.size, np.float32))
    order = np.lexsort((cand.keys(), -value if op.descending else value))[:limit]
    return cand.take(order), value[order]


def sample(c: "CollectionView", flt: Any, pool: Optional[Candidates], limit: int) -> Candidates:
    """`limit` points drawn uniformly without replacement (a new random order per request)."""
    pool_all = Candidates.from_masks(domain_masks(c, flt, pool))
    picked = np.random.default_rng().choice(len(pool_all), size=min(limit, len(pool_all)), replace=False)
    return pool_all.take(picked)


def order_value_output(value: float) -> int | float:
    """Qdrant reports integer order values (ints, datetime microseconds) as integers."""
    return int(value) if float(value).is_integer() and abs(value) < 2**63 else float(value)


#: Payload index types that serve ranges, so scroll `order_by` can use them (Qdrant's rule).
RANGE_INDEXES = ("integer", "float", "datetime")


def scroll_ordered(c: "CollectionView", flt: Any, limit: int, spec: Any, with_payload: Any,
                   with_vectors: Any) -> tuple[list[m.Record], None]:
    """Scroll by a payload value, as Qdrant's server: the key needs a range-capable payload
    index; a point appears once per distinct value (ties by point id), values from
    `start_from` on; each record carries its `order_value`; there is no next page offset
    (page with `start_from` and a filter)."""
    order = parse_order_by(m.to_builtins(spec))
    schema = c.field_indexes.get(order.key)
    if not isinstance(schema, dict) or schema.get("type") not in RANGE_INDEXES or schema.get("range") is False:
        raise BadRequest(f"No range index for `order_by` key: `{order.key}`. Please create one to use `order_by`: "
                         f"a payload index of type {', '.join(RANGE_INDEXES)} (integer with range enabled)")
    cand, values = order_by(c, order, flt, None, limit)
    records = [record(cand.segs[s], o, with_payload, with_vectors)
               for s, o in zip(cand.seg.tolist(), cand.off.tolist())]
    for rec, value in zip(records, values.tolist()):
        rec.order_value = order_value_output(value)
    return records, None
