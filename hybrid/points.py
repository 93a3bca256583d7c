"""Incoming points -> one validated, columnar `PointBatch`.

Every write is validated here, against the collection schema, before it reaches the WAL, so a
rejected batch changes nothing. Vectors are grouped per name into numpy columns: `rows` says
which points of the batch carry that vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from hybrid import models as m
from hybrid.config import DEFAULT_VECTOR, CollectionSchema
from hybrid.errors import ValidationError
from hybrid.ids import PointId, normalize_id
from indexes.sparse import vectors as sparse_vectors

#: Turns a `Document`-like {"text", "model", ...} into a vector for (vector name, kind).
Inference = Callable[[dict, str, str, str], Any]


@dataclass
class DenseColumn:
    rows: np.ndarray  # int64 positions in the batch
    data: np.ndarray  # (len(rows), dim) float32


@dataclass
class SparseColumn:
    rows: np.ndarray
    indptr: np.ndarray  # int64, len(rows) + 1
    indices: np.ndarray  # uint32, sorted within each row
    values: np.ndarray  # float32


@dataclass
class MultiColumn:
    rows: np.ndarray
    lengths: np.ndarray  # int64 tokens per row
    data: np.ndarray  # (sum(lengths), dim) float32


@dataclass
class PointBatch:
    ids: list[PointId]
    payloads: Optional[list[Optional[dict]]]  # None: vectors-only update
    dense: dict[str, DenseColumn] = field(default_factory=dict)
    sparse: dict[str, SparseColumn] = field(default_factory=dict)
    multi: dict[str, MultiColumn] = field(default_factory=dict)

    def vector_names(self) -> list[str]:
        return [*self.dense, *self.sparse, *self.multi]


def _is_sparse(value: Any) -> bool:
    return isinstance(value, dict) and "indices" in value and "values" in value


def _is_document(value: Any) -> bool:
    return isinstance(value, dict) and "text" in value and "model" in value


def validate_sparse(indices: Any, values: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted uint32 indices and float32 values; a ValidationError naming `where.indices` or
    `where.values` for non-integers, negatives, duplicates, NaN or inf."""
    try:
        return sparse_vectors.validate_sparse(indices, values, where)
    except (TypeError, ValueError) as exc:
        raise ValidationError.from_message(exc, where) from None


class _Collector:
    """Accumulates per-name vectors while walking the points of one batch."""

    def __init__(self, schema: CollectionSchema, infer: Optional[Inference]) -> None:
        self.schema = schema
        self.infer = infer
        self.dense: dict[str, tuple[list[int], list[Any]]] = {}
        self.sparse: dict[str, tuple[list[int], list[tuple[np.ndarray, np.ndarray]]]] = {}
        self.multi: dict[str, tuple[list[int], list[np.ndarray]]] = {}

    def add(self, row: int, name: str, value: Any, where: str) -> None:
        kind = self.schema.kind_of(name) if name in self.schema.dense or name in self.schema.sparse else None
        if kind is None:
            shown = name or "(default)"
            raise ValidationError(where, f"Not existing vector name error: {shown}")
        if not isinstance(value, np.ndarray):  # arrays stay arrays: no per-number conversion
            value = m.to_builtins(value)
        if _is_document(value):
            if self.infer is None:
                raise ValidationError(where, "documents need an embedder: none is configured for this client")
            value = m.to_builtins(self.infer(value, name, kind, where))
        if kind == "sparse":
            if not _is_sparse(value):
                raise ValidationError(where, f"vector {name!r} is sparse: expected {{indices, values}}")
            pair = validate_sparse(value["indices"], value["values"], where)
            self.sparse.setdefault(name, ([], []))[0].append(row)
            self.sparse[name][1].append(pair)
        elif kind == "multivector":
            self.multi.setdefault(name, ([], []))[0].append(row)
            self.multi[name][1].append(self._matrix(value, name, where))
        else:
            if _is_sparse(value) or (isinstance(value, list) and value and isinstance(value[0], list)):
                raise ValidationError(where, f"vector {name or '(default)'!r} is dense: expected a list of numbers")
            self.dense.setdefault(name, ([], []))[0].append(row)
            self.dense[name][1].append(value)

    def _matrix(self, value: Any, name: str, where: str) -> np.ndarray:
        size = self.schema.dense[name].size
        try:
            mat = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValidationError(where, "multivector must be a list of equal-length number lists") from None
        if mat.size == 0:
            raise ValidationError(where, "multivector must contain at least one vector")
        if mat.ndim != 2:
            raise ValidationError(where, f"vector {name!r} is a multivector: expected a list of vectors")
        if mat.shape[1] != size:
            raise ValidationError(where, f"Vector dimension error: expected dim: {size}, got {mat.shape[1]}")
        if not np.isfinite(mat).all():
            raise ValidationError(where, "vector contains NaN or inf")
        return mat

    def build(self, batch: PointBatch, where: str) -> PointBatch:
        for name, (rows, vals) in self.dense.items():
            size = self.schema.dense[name].size
            at = ".vector" + (f".{name}" if name else "")
            try:
                data = np.asarray(vals, dtype=np.float32)
            except (TypeError, ValueError):
                data = None
            if data is None or data.ndim != 2 or data.shape[1] != size:
                for r, v in zip(rows, vals):
                    n = len(v) if hasattr(v, "__len__") else -1
                    if n != size:
                        raise ValidationError(f"{where}[{r}]{at}", f"Vector dimension error: expected dim: {size}, got {n}")
                raise ValidationError(f"{where}{at}", "vector must be a list of numbers")
            bad = ~np.isfinite(data).all(axis=1)
            if bad.any():
                raise ValidationError(f"{where}[{rows[int(np.argmax(bad))]}]{at}", "vector contains NaN or inf")
            batch.dense[name] = DenseColumn(np.asarray(rows, dtype=np.int64), data)
        for name, (rows, pairs) in self.sparse.items():
            lengths = np.fromiter((p[0].size for p in pairs), dtype=np.int64, count=len(pairs))
            indptr = np.concatenate(([0], np.cumsum(lengths)))
            idx = np.concatenate([p[0] for p in pairs]) if pairs else np.empty(0, np.uint32)
            val = np.concatenate([p[1] for p in pairs]) if pairs else np.empty(0, np.float32)
            batch.sparse[name] = SparseColumn(np.asarray(rows, dtype=np.int64), indptr, idx.astype(np.uint32), val)
        for name, (rows, mats) in self.multi.items():
            lengths = np.fromiter((x.shape[0] for x in mats), dtype=np.int64, count=len(mats))
            batch.multi[name] = MultiColumn(np.asarray(rows, dtype=np.int64), lengths, np.concatenate(mats))
        return batch


def _named(vector: Any) -> dict[str, Any]:
    """A point's `vector` field as {name: value}; a bare list/array is the default vector."""
    vector = m.to_builtins(vector)
    if vector is None:
        return {}
    if isinstance(vector, dict) and not _is_sparse(vector) and not _is_document(vector):
        return vector
    return {DEFAULT_VECTOR: vector}


def _check_unique(ids: list[PointId], where: str) -> None:
    if len(set(ids)) != len(ids):
        seen: set = set()
        for i, pid in enumerate(ids):
            if pid in seen:
                raise ValidationError(f"{where}[{i}].id", f"duplicate point id {pid} in one batch")
            seen.add(pid)


def _payload(value: Any, where: str) -> Optional[dict]:
    value = m.to_builtins(value)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(where, "payload must be a JSON object")
    return value


def batch_from_points(points: Any, schema: CollectionSchema, infer: Optional[Inference] = None,
                      with_payload: bool = True, where: str = "points") -> PointBatch:
    """Points given as a list of PointStruct-likes, or Qdrant's columnar Batch -> PointBatch.

    A Batch may carry dense columns as 2-D numpy arrays (no per-point conversion)."""
    if isinstance(points, dict) and "ids" in points:
        return _batch_from_columns(points, schema, infer, where)
    points = m.to_builtins(points)
    if isinstance(points, dict) and "ids" in points:  # Batch / PointsBatch.batch
        return _batch_from_columns(points, schema, infer, where)
    if isinstance(points, dict) and "batch" in points:
        return _batch_from_columns(points["batch"], schema, infer, f"{where}.batch")
    if not isinstance(points, list):
        raise ValidationError(where, "expected a list of points or a batch")
    collector = _Collector(schema, infer)
    ids: list[PointId] = []
    payloads: list[Optional[dict]] = []
    for row, point in enumerate(points):
        at = f"{where}[{row}]"
        if not isinstance(point, dict) or "id" not in point:
            raise ValidationError(at, "point must have an id")
        ids.append(normalize_id(point["id"], f"{at}.id"))
        vec = point.get("vector", point.get("vectors"))
        for name, value in _named(vec).items():
            collector.add(row, name, value, f"{at}.vector" + (f".{name}" if name else ""))
        if with_payload:
            payloads.append(_payload(point.get("payload"), f"{at}.payload"))
    _check_unique(ids, where)
    return collector.build(PointBatch(ids, payloads if with_payload else None), where)


def _batch_from_columns(batch: dict, schema: CollectionSchema, infer: Optional[Inference], where: str) -> PointBatch:
    ids = batch.get("ids")
    ids = [normalize_id(v, f"{where}.ids[{i}]") for i, v in enumerate(ids.tolist() if isinstance(ids, np.ndarray) else ids or [])]
    n = len(ids)
    vectors = batch.get("vectors")
    if isinstance(vectors, list) or not isinstance(vectors, dict):
        vectors = {DEFAULT_VECTOR: vectors}
    collector = _Collector(schema, infer)
    for name, column in vectors.items():
        if column is None:
            continue
        if isinstance(column, np.ndarray) and column.ndim == 2 and name in schema.dense \
                and not schema.dense[name].multivector:
            collector.dense[name] = (list(range(n)) if column.shape[0] == n else [], column)  # fast path
            if column.shape[0] != n:
                raise ValidationError(f"{where}.vectors", f"has {column.shape[0]} vectors for {n} ids")
            continue
        if not isinstance(column, (list, tuple)):  # lists keep their items (arrays stay arrays)
            column = m.to_builtins(column)
        if len(column) != n:
            raise ValidationError(f"{where}.vectors", f"has {len(column)} vectors for {n} ids")
        for row, value in enumerate(column):
            if value is not None:
                collector.add(row, name, value, f"{where}.vectors" + (f".{name}" if name else "") + f"[{row}]")
    payloads = batch.get("payloads")
    if payloads is None:
        payloads = [None] * n
    elif len(payloads) != n:
        raise ValidationError(f"{where}.payloads", f"has {len(payloads)} payloads for {n} ids")
    payloads = [_payload(p, f"{where}.payloads[{i}]") for i, p in enumerate(payloads)]
    _check_unique(ids, f"{where}.ids")
    return collector.build(PointBatch(ids, payloads), where)


def check_batch(batch: PointBatch, schema: CollectionSchema) -> None:
    """A batch validated against an earlier schema still fits `schema` (a vector name may have
    been deleted or made again meanwhile): every column's name, kind and dimension. O(names)."""
    for kind, columns in (("dense", batch.dense), ("sparse", batch.sparse), ("multivector", batch.multi)):
        for name, column in columns.items():
            where = "vector" + (f".{name}" if name else "")
            if name not in schema.columns or schema.kind_of(name) != kind:
                raise ValidationError(where, f"Not existing vector name error: {name or '(default)'}")
            size = schema.dense[name].size if kind != "sparse" else None
            if size is not None and column.data.shape[1] != size:
                raise ValidationError(where, f"Vector dimension error: expected dim: {size}, got {column.data.shape[1]}")
