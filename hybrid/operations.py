"""Write operations as data: what the WAL stores and what `Collection.apply` executes.

Filters are resolved to ids *before* an operation is logged, so replaying the log is
deterministic. Upserts carry the internal point keys (`pids`) they assigned, so a replay gives
every point the same key it had (text indexes are keyed by them).
"""

from __future__ import annotations

from typing import Callable, Optional, Union

import msgspec
import numpy as np

from hybrid.points import DenseColumn, MultiColumn, PointBatch, SparseColumn

PointId = Union[int, str]


class _Dense(msgspec.Struct, array_like=True):
    rows: bytes
    dim: int
    data: bytes


class _Sparse(msgspec.Struct, array_like=True):
    rows: bytes
    indptr: bytes
    indices: bytes
    values: bytes


class _Multi(msgspec.Struct, array_like=True):
    rows: bytes
    lengths: bytes
    dim: int
    data: bytes


class Upsert(msgspec.Struct, tag="upsert"):
    """Replace whole points (or only their vectors when `payloads` is None: update_vectors)."""

    ids: list[PointId]
    pids: bytes  # int64 internal keys
    payloads: Optional[list[Optional[dict]]]
    dense: dict[str, _Dense]
    sparse: dict[str, _Sparse]
    multi: dict[str, _Multi]


class Delete(msgspec.Struct, tag="delete"):
    ids: list[PointId]


class SetPayload(msgspec.Struct, tag="set_payload"):
    ids: list[PointId]
    payload: dict
    key: Optional[str] = None


class OverwritePayload(msgspec.Struct, tag="overwrite_payload"):
    ids: list[PointId]
    payload: dict


class DeletePayload(msgspec.Struct, tag="delete_payload"):
    ids: list[PointId]
    keys: list[str]


class ClearPayload(msgspec.Struct, tag="clear_payload"):
    ids: list[PointId]


class DeleteVectors(msgspec.Struct, tag="delete_vectors"):
    ids: list[PointId]
    names: list[str]


class CreateFieldIndex(msgspec.Struct, tag="create_index"):
    field: str
    schema: dict


class DeleteFieldIndex(msgspec.Struct, tag="delete_index"):
    field: str


class CreateVectorName(msgspec.Struct, tag="create_vector_name"):
    """A new vector name (`params`: Qdrant's VectorParams or SparseVectorParams JSON); no
    existing point has a vector of it."""

    name: str
    sparse: bool
    params: dict


class DeleteVectorName(msgspec.Struct, tag="delete_vector_name"):
    name: str


Operation = Union[Upsert, Delete, SetPayload, OverwritePayload, DeletePayload, ClearPayload,
                  DeleteVectors, CreateFieldIndex, DeleteFieldIndex, CreateVectorName, DeleteVectorName]

#: Operations that consume memory or disk, refused while the global quota is reached (Qdrant's
#: `consumes_quota`, plus the index and vector name creations it checks before proposing them).
CONSUMES_QUOTA = (Upsert, SetPayload, OverwritePayload, DeletePayload, ClearPayload, DeleteVectors, CreateFieldIndex,
                  CreateVectorName)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Operation)


def encode(op: Operation) -> bytes:
    return _encoder.encode(op)


def decode(body: bytes) -> Operation:
    return _decoder.decode(body)


def upsert_op(batch: PointBatch, pids: np.ndarray) -> Upsert:
    return Upsert(
        ids=batch.ids,
        pids=pids.astype(np.int64).tobytes(),
        payloads=batch.payloads,
        dense={n: _Dense(c.rows.tobytes(), c.data.shape[1], np.ascontiguousarray(c.data, np.float32).tobytes())
               for n, c in batch.dense.items()},
        sparse={n: _Sparse(c.rows.tobytes(), c.indptr.tobytes(), c.indices.tobytes(), c.values.tobytes())
                for n, c in batch.sparse.items()},
        multi={n: _Multi(c.rows.tobytes(), c.lengths.tobytes(), c.data.shape[1],
                         np.ascontiguousarray(c.data, np.float32).tobytes()) for n, c in batch.multi.items()},
    )


def batch_of(op: Upsert, keep: Callable[[str], bool] = lambda name: True) -> tuple[PointBatch, np.ndarray]:
    """The PointBatch and pids an Upsert carries (arrays are zero-copy views of the record);
    only the vector names `keep` accepts (replay: a name deleted, or made again, since)."""
    batch = PointBatch(list(op.ids), op.payloads)
    op = msgspec.structs.replace(op, dense={n: c for n, c in op.dense.items() if keep(n)},
                                 sparse={n: c for n, c in op.sparse.items() if keep(n)},
                                 multi={n: c for n, c in op.multi.items() if keep(n)})
    for n, c in op.dense.items():
        batch.dense[n] = DenseColumn(np.frombuffer(c.rows, np.int64), np.frombuffer(c.data, np.float32).reshape(-1, c.dim))
    for n, c in op.sparse.items():
        batch.sparse[n] = SparseColumn(np.frombuffer(c.rows, np.int64), np.frombuffer(c.indptr, np.int64),
                                       np.frombuffer(c.indices, np.uint32), np.frombuffer(c.values, np.float32))
    for n, c in op.multi.items():
        batch.multi[n] = MultiColumn(np.frombuffer(c.rows, np.int64), np.frombuffer(c.lengths, np.int64),
                                     np.frombuffer(c.data, np.float32).reshape(-1, c.dim))
    return batch, np.frombuffer(op.pids, np.int64)
