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
    if store.kind == "multivector":
        return load_multivector_index(store, directory)
    if store.kind == "sparse":
        from indexes.sparse import SparseIndex

        return SparseIndex.load(directory)
    from indexes.dense.hnsw import HnswIndex

    return HnswIndex.load(directory, store.data)


def build_indexes(seg: Any, extend: Any = None) -> None:
    """Indexes of a freshly built segment (called by the optimizer outside the collection lock).
    `extend`: a segment whose points are the first rows of `seg`: its HNSW graphs are grown
    rather than rebuilt (a merge then inserts only the other segments' points)."""
    for name, store in seg.vectors.items():
        if store.kind == "sparse":
            store.build_index()
        elif store.kind == "dense":
            # (`extend` may no longer hold the name: deleted while this segment was built)
            build_dense_index(store, seg.size, getattr(extend.vectors.get(name), "index", None) if extend else None)
        elif store.kind == "multivector":
            build_multivector_index(store)


def build_dense_index(store: Any, size: int, extend: Any = None) -> None:
    """An HNSW graph (m, ef_construct, int8 traversal codes when quantized) over a sealed store,
    unless its vectors weigh less than `full_scan_threshold` KB: exact scoring is faster then.
    `extend`: an HNSW index over the store's first rows, grown instead of rebuilt."""
    from hybrid.optimizations import indexing_threads
    from indexes.dense.hnsw import HnswIndex, HnswParams
    from indexes.dense.quantization import ScalarQuantization

    spec = store.spec
    if size == 0 or size * spec.size * 4 / 1024 < spec.hnsw.full_scan_threshold:
        return
    quantization = None
    if spec.quantization is not None:
        quantization = ScalarQuantization(quantile=spec.quantization.scalar.quantile)
    params = HnswParams(m=spec.hnsw.m, ef_construct=spec.hnsw.ef_construct)
    store.index = HnswIndex.build(store.data[:size], spec.distance, params, quantization,
                                  extend=extend if isinstance(extend, HnswIndex) else None,
                                  threads=indexing_threads(spec.hnsw.max_indexing_threads))


# ---------------------------------------------------------------- multivectors (MaxSim)
def build_multivector_index(store: Any) -> None:
    """A sealed multivector store's MaxSim index (centroid first stage / int8 copy as configured;
    none for exact-only names): `hybrid.storage.multivectors` documents the configuration."""
    store.build_index()


def load_multivector_index(store: Any, directory: Path) -> Any:
    """Reopen a multivector index over its (possibly memory-mapped) sealed store."""
    return store.open_index(directory)


def payload_schema(c: "Collection") -> dict[str, m.PayloadIndexInfo]:
    out = {}
    for field, schema in c.field_indexes.items():
        kind = schema.get("type", "keyword") if isinstance(schema, dict) else str(schema)
        params = schema if isinstance(schema, dict) and len(schema) > 1 else None
        out[field] = m.PayloadIndexInfo(data_type=kind, params=params, points=c.points_count())
    return out
