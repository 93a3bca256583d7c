"""Glue between the engine and the index packages: which index serves which store, and the
payload schema report. Kept apart so collection/segment code never imports index internals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid import models as m

if TYPE_CHECKING:
    from hybrid.collection import Collection


def load_index(store: Any, directory: Path) -> Any:
    """Reopen the index saved beside a sealed store (no rebuild)."""
    if store.kind == "sparse":
        from indexes.sparse import SparseIndex

        return SparseIndex.load(directory)
    from indexes.dense.hnsw import HnswIndex

    return HnswIndex.load(directory, store.data)


def build_indexes(seg: Any) -> None:
    """Indexes of a freshly sealed segment (called by the optimizer outside the collection lock)."""
    for store in seg.vectors.values():
        if store.kind == "sparse":
            store.build_index()


def payload_schema(c: "Collection") -> dict[str, m.PayloadIndexInfo]:
    out = {}
    for field, schema in c.field_indexes.items():
        kind = schema.get("type", "keyword") if isinstance(schema, dict) else str(schema)
        params = schema if isinstance(schema, dict) and len(schema) > 1 else None
        out[field] = m.PayloadIndexInfo(data_type=kind, params=params, points=c.points_count())
    return out
