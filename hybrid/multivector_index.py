"""Which MaxSim index a multivector name asks for, from its Qdrant config (checked when the
collection is created, used when a segment is sealed: hybrid.storage.multivectors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from hybrid import models as m
from indexes.multivector import MultiVectorConfig

if TYPE_CHECKING:
    from hybrid.config import DenseSpec

#: Keys of the `multivector_index` extension besides "type" (MultiVectorConfig fields).
INDEX_KEYS = ("n_centroids", "n_probe", "n_candidates", "kmeans_iterations", "kmeans_sample", "seed")


def index_config(spec: DenseSpec) -> Optional[MultiVectorConfig]:
    """The sealed-segment index a multivector name asks for; None: exact search only."""
    where = f"vectors.{spec.name}" if spec.name else "vectors"
    approximate = "centroids" if spec.hnsw.m > 0 else None
    tuning: dict[str, Any] = {}
    extension = _builtins(getattr(spec.params, "multivector_index", None))
    if extension is not None:
        if not isinstance(extension, dict):
            raise ValueError(f"{where}.multivector_index: expected an object")
        kind = extension.get("type", "centroids")
        if kind not in ("centroids", "exact"):
            raise ValueError(f"{where}.multivector_index.type: expected 'centroids' or 'exact', got {kind!r}")
        unknown = sorted(set(extension) - {"type", *INDEX_KEYS})
        if unknown:
            raise ValueError(f"{where}.multivector_index.{unknown[0]}: unknown field")
        approximate = None if kind == "exact" else "centroids"
        tuning = {k: v for k, v in extension.items() if k in INDEX_KEYS and v is not None}
    quantization, quantile = None, None
    scalar = getattr(spec.quantization, "scalar", None)
    if scalar is not None:
        quantization, quantile = "int8", getattr(scalar, "quantile", None)
    if approximate is None and quantization is None:
        return None
    try:
        return MultiVectorConfig(approximate=approximate, quantization=quantization,
                                 **({"quantile": quantile} if quantile is not None else {}), **tuning)
    except TypeError as exc:
        raise ValueError(f"{where}.multivector_index: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}.multivector_index: {exc}") from None


def _builtins(value: Any) -> Any:
    return value if value is None or isinstance(value, dict) else m.to_builtins(value)
