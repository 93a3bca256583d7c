"""Congruence with qdrant-client local mode: same collection, same MaxSim scores and order."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from indexes.multivector.index import MultiVectorIndex
from indexes.multivector.maxsim import normalize_tokens
from indexes.multivector.store import MultiVectorStore

DIM = 6
N_DOCS = 30


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid", "Manhattan"])
def test_scores_match_qdrant_local_mode(distance: str) -> None:
    rng = np.random.default_rng(11)
    documents = [rng.standard_normal((int(rng.integers(1, 9)), DIM)).astype(np.float32) for _ in range(N_DOCS)]
    query = rng.standard_normal((4, DIM)).astype(np.float32)

    client = QdrantClient(":memory:")
    client.create_collection(
        "c",
        vectors_config={"mv": models.VectorParams(
            size=DIM, distance=models.Distance(distance),
            multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM))},
    )
    client.upsert("c", [models.PointStruct(id=i, vector={"mv": d.tolist()}) for i, d in enumerate(documents)])
    theirs = client.query_points("c", query=query.tolist(), using="mv", limit=N_DOCS).points

    store = MultiVectorStore(DIM, name="mv")
    for offset, document in enumerate(documents):  # the engine normalises Cosine tokens on upsert
        store.append(offset, normalize_tokens(document) if distance == "Cosine" else document)
    hits = MultiVectorIndex(store, distance).search(query, N_DOCS)

    # our scores are higher-is-better: the edge negates Euclid and Manhattan, as for dense vectors
    to_api = -1.0 if distance in ("Euclid", "Manhattan") else 1.0
    ours = dict(zip(hits.offsets.tolist(), (to_api * hits.scores).tolist()))
    assert [p.id for p in theirs] == hits.offsets.tolist()
    np.testing.assert_allclose([ours[p.id] for p in theirs], [p.score for p in theirs], rtol=1e-5, atol=1e-5)
