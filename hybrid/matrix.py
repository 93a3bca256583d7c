"""The distance matrix of a sample (Qdrant's search matrix API): `sample` random points matching
a filter, and for each its `limit` nearest among the sample, as pairs or as offsets.

As in Qdrant: the sample is drawn by a random-sample query, ordered by id; each point's
neighbours are the other sampled points by the vector's own distance (Cosine and Dot: larger is
nearer; Euclid and Manhattan: the distance, smaller is nearer). The whole matrix is one numpy
computation over the sample's vectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.config import DEFAULT_VECTOR
from hybrid.errors import ValidationError

if TYPE_CHECKING:
    from hybrid.collection import Collection

DEFAULT_SAMPLE, DEFAULT_LIMIT = 10, 3


def scores_matrix(vectors: np.ndarray, distance: str) -> tuple[np.ndarray, bool]:
    """(n x n scores, larger_is_nearer) in Qdrant's score convention for `distance`."""
    if distance == "Cosine":
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return unit @ unit.T, True
    if distance == "Dot":
        return vectors @ vectors.T, True
    if distance == "Euclid":
        sq = np.sum(vectors * vectors, axis=1)
        return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * vectors @ vectors.T, 0.0)), False
    if distance == "Manhattan":
        return np.abs(vectors[:, None, :] - vectors[None, :, :]).sum(axis=2), False
    raise ValidationError("using", f"distance {distance} has no matrix")


def nearest_in_sample(vectors: np.ndarray, distance: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, scores), each n x k (k = min(limit, n - 1)): every row's nearest other rows, best first."""
    scores, larger = scores_matrix(vectors.astype(np.float64), distance)
    keyed = -scores if larger else scores.copy()
    np.fill_diagonal(keyed, np.inf)  # a point is not its own neighbour
    k = min(limit, len(vectors) - 1)
    cols = np.argsort(keyed, axis=1, kind="stable")[:, :k]
    return cols, np.take_along_axis(scores, cols, axis=1)


class MatrixMixin:
    """Client methods `search_matrix_pairs` and `search_matrix_offsets` (qdrant-client names)."""

    if TYPE_CHECKING:
        def _get(self, name: str) -> "Collection": ...
        def query_points(self, collection_name: str, **kw: Any) -> m.QueryResponse: ...

    def _schema_of(self, collection_name: str) -> Any:
        return self._get(collection_name).schema

    def _sample_matrix(self, collection_name: str, query_filter: Any, limit: int, sample: int, using: Optional[str],
                       shard_key_selector: Any, consistency: Any, timeout: Any) -> tuple[list, np.ndarray, np.ndarray]:
        if not isinstance(sample, int) or isinstance(sample, bool) or sample < 2:
            raise ValidationError("sample", "must be an integer of at least 2")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValidationError("limit", "must be an integer of at least 1")
        name = DEFAULT_VECTOR if using is None else using
        schema = self._schema_of(collection_name)
        if schema.kind_of(name) != "dense":
            raise ValidationError("using", "the search matrix needs a dense vector")
        drawn = self.query_points(collection_name, query={"sample": "random"}, query_filter=query_filter,
                                  limit=sample, with_payload=False, with_vectors=[name], consistency=consistency,
                                  shard_key_selector=shard_key_selector, timeout=timeout).points
        drawn = sorted((p for p in drawn if isinstance(p.vector, dict) and name in p.vector),
                       key=lambda p: (isinstance(p.id, str), p.id))  # Qdrant's id order: numbers, then UUIDs
        if len(drawn) < 2:
            return [], np.zeros((0, 0), np.int64), np.zeros((0, 0))
        vectors = np.asarray([p.vector[name] for p in drawn], dtype=np.float32)
        cols, scores = nearest_in_sample(vectors, schema.dense[name].distance, limit)
        return [p.id for p in drawn], cols, scores

    def search_matrix_pairs(self, collection_name: str, query_filter: Any = None, limit: int = DEFAULT_LIMIT,
                            sample: int = DEFAULT_SAMPLE, using: Optional[str] = None, consistency: Any = None,
                            timeout: Optional[int] = None, shard_key_selector: Any = None) -> m.SearchMatrixPairsResponse:
        ids, cols, scores = self._sample_matrix(collection_name, query_filter, limit, sample, using, shard_key_selector,
                                                consistency, timeout)
        rows = np.repeat(np.arange(len(ids)), cols.shape[1] if len(ids) else 0)
        a, b = [ids[i] for i in rows], [ids[j] for j in cols.ravel()]
        return m.SearchMatrixPairsResponse(pairs=[m.SearchMatrixPair(a=x, b=y, score=s)
                                                for x, y, s in zip(a, b, scores.ravel().tolist())])

    def search_matrix_offsets(self, collection_name: str, query_filter: Any = None, limit: int = DEFAULT_LIMIT,
                              sample: int = DEFAULT_SAMPLE, using: Optional[str] = None, consistency: Any = None,
                              timeout: Optional[int] = None, shard_key_selector: Any = None) -> m.SearchMatrixOffsetsResponse:
        ids, cols, scores = self._sample_matrix(collection_name, query_filter, limit, sample, using, shard_key_selector,
                                                consistency, timeout)
        rows = np.repeat(np.arange(len(ids)), cols.shape[1] if len(ids) else 0)
        return m.SearchMatrixOffsetsResponse(offsets_row=rows.tolist(), offsets_col=cols.ravel().tolist(),
                                           scores=scores.ravel().tolist(), ids=ids)
