"""Example inputs -> vectors: raw values, point ids (optionally from `lookup_from`), documents.

`Examples` turns every vector input of one query into a *raw* vector of the searched name
(dense `(d,)`, multivector `(n, d)` float32, sparse `(indices uint32, values float32)`), then
into a *prepared* query for its store (`prepare`: Cosine normalisation, sparse IDF weights).
Point ids read the vector stored under `lookup_from.vector` (default: `using`) in
`lookup_from.collection` (default: the searched one); ids of the searched collection are
remembered in `mentioned`, because Qdrant excludes them from the results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from hybrid.errors import PointNotFound, ValidationError
from hybrid.ids import PointId, normalize_id
from hybrid.points import validate_sparse
from hybrid.query.parse import shallow

if TYPE_CHECKING:
    from hybrid.view import CollectionView

Lookup = Callable[[str], "CollectionView"]


class Examples:
    """Resolves the vector inputs of one query on `using` of collection `c`."""

    def __init__(self, c: "CollectionView", using: str, infer: Any = None, lookup_from: Any = None,
                 lookup: Optional[Lookup] = None, field: str = "") -> None:
        self.c = c
        self.using = using
        self.kind = c.schema.kind_of(using)
        self.infer = infer
        self.mentioned: list[PointId] = []
        self.source, self.source_vector = c, using
        lookup_from = shallow(lookup_from)
        if lookup_from is not None:
            if not isinstance(lookup_from, dict) or not isinstance(lookup_from.get("collection"), str):
                raise ValidationError(f"{field}lookup_from", "expected {collection, vector}")
            name = lookup_from["collection"]
            if name != c.name:
                if lookup is None:
                    raise ValidationError(f"{field}lookup_from.collection", "looking up another collection needs the client")
                self.source = lookup(name)
            self.source_vector = lookup_from.get("vector") or using
            self.source.schema.kind_of(self.source_vector)

    # ------------------------------------------------------------------ raw vectors
    def raw(self, example: Any, field: str) -> Any:
        """The raw vector of one input, validated against the searched vector's kind and size."""
        example = shallow(example)
        if isinstance(example, (int, str)) and not isinstance(example, bool):
            example = self._stored(example, field)
        elif isinstance(example, dict) and "text" in example and "model" in example:
            if self.infer is None:
                raise ValidationError(field, "documents need an embedder: none is configured for this client")
            example = shallow(self.infer(example, self.using, self.kind, field))
        if self.kind == "sparse":
            if not (isinstance(example, dict) and "indices" in example and "values" in example):
                raise ValidationError(field, f"vector {self.using!r} is sparse: expected {{indices, values}}")
            return validate_sparse(example["indices"], example["values"], field)
        return self._dense(example, field)

    def _stored(self, point_id: Any, field: str) -> Any:
        pid = normalize_id(point_id, field)
        loc = self.source.where.get(pid)
        if loc is None:
            raise PointNotFound(pid)
        value = loc[0].vector_of(loc[1], self.source_vector)
        if value is None:
            raise ValidationError(field, f"point {pid} has no vector {self.source_vector or '(default)'!r}")
        if self.source is self.c:
            self.mentioned.append(pid)
        return value

    def _dense(self, example: Any, field: str) -> np.ndarray:
        try:
            arr = np.asarray(example, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValidationError(field, "expected a vector (list of numbers)") from None
        size = self.c.schema.dense[self.using].size
        want_ndim = 2 if self.kind == "multivector" else 1
        if arr.ndim != want_ndim:
            raise ValidationError(field, f"vector {self.using or '(default)'!r} expects a "
                                  + ("multivector (list of vectors)" if want_ndim == 2 else "list of numbers"))
        if arr.shape[-1] != size or arr.size == 0:
            raise ValidationError(field, f"Wrong input: Vector dimension error: expected dim: {size}, got {arr.shape[-1]}")
        if not np.isfinite(arr).all():
            raise ValidationError(field, "query vector contains NaN or inf")
        return arr

    # ------------------------------------------------------------------ prepared queries
    def prepare(self, raw: Any) -> Any:
        """Query form of a raw vector for the searched store (normalised / IDF-weighted)."""
        if self.kind == "sparse":
            idx, val = raw
            if self.c.schema.sparse[self.using].idf:
                val = val * idf_weights(self.c, self.using, idx)
            return idx, np.asarray(val, dtype=np.float32)
        return self.c.appendable.vectors[self.using].prepare_query(raw)

    def prepared(self, example: Any, field: str) -> Any:
        return self.prepare(self.raw(example, field))

    def average(self, positive: list, negative: list, field: str) -> Any:
        """Recommend `average_vector`: avg(pos) + (avg(pos) - avg(neg)), then prepared.

        Multivectors concatenate the positive rows and the negated negative rows (Qdrant's rule).
        """
        from fusion.recommend import average_sparse, average_vector

        pos = [self.raw(v, f"{field}.positive[{i}]") for i, v in enumerate(positive)]
        neg = [self.raw(v, f"{field}.negative[{i}]") for i, v in enumerate(negative)]
        if self.kind == "sparse":
            return self.prepare(average_sparse(pos, neg))
        if self.kind == "multivector":
            return self.prepare(np.concatenate(pos + [-v for v in neg]))
        return self.prepare(average_vector(np.stack(pos), np.stack(neg) if neg else None))


def idf_weights(c: "CollectionView", name: str, idx: np.ndarray) -> np.ndarray:
    """Qdrant's IDF: ln(1 + (N - df + 0.5) / (df + 0.5)) over live points having the vector."""
    df = c.df[name].df(idx)
    n = c.docs_with(name)
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
