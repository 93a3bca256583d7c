"""Documents in, vectors out: qdrant/bm25 sparse and MiniLM dense inference on the Client."""

from __future__ import annotations

import pytest
from qdrant_client import models

from hybrid import Client
from hybrid.errors import ValidationError
from hybrid.inference import Inference
from indexes.sparse.bm25 import Bm25Encoder

TEXTS = ["cats purr on warm laps", "dogs bark at the mailman", "the stock market fell today"]


@pytest.fixture(scope="module")
def client() -> Client:
    c = Client(inference=Inference())
    c.create_collection("t", vectors_config={"dense": {"size": 384, "distance": "Cosine"}},
                        sparse_vectors_config={"bm25": {"modifier": "idf"}})
    c.upsert("t", [models.PointStruct(id=i, vector={
        "dense": models.Document(text=t, model="sentence-transformers/all-MiniLM-L6-v2"),
        "bm25": models.Document(text=t, model="qdrant/bm25")}) for i, t in enumerate(TEXTS)])
    return c


def test_bm25_documents_become_fastembed_compatible_sparse_vectors(client: Client) -> None:
    stored = client.retrieve("t", [0], with_vectors=["bm25"])[0].vector["bm25"]
    idx, val = Bm25Encoder().embed_documents([TEXTS[0]])[0]
    assert stored == {"indices": idx.tolist(), "values": pytest.approx(val.tolist())}
    hits = client.query_points("t", query=models.Document(text="barking dog", model="qdrant/bm25"), using="bm25").points
    assert hits[0].id == 1


def test_dense_documents_and_hybrid_query(client: Client) -> None:
    hits = client.query_points("t", query=models.Document(text="kitten", model="sentence-transformers/all-MiniLM-L6-v2"),
                               using="dense", limit=1).points
    assert hits[0].id == 0
    fused = client.query_points("t", prefetch=[
        models.Prefetch(query=models.Document(text="finance news", model="sentence-transformers/all-MiniLM-L6-v2"), using="dense"),
        models.Prefetch(query=models.Document(text="market", model="qdrant/bm25"), using="bm25")],
        query=models.FusionQuery(fusion=models.Fusion.RRF), limit=1).points
    assert fused[0].id == 2


def test_wrong_model_kind_is_a_validation_error(client: Client) -> None:
    with pytest.raises(ValidationError):
        client.query_points("t", query=models.Document(text="x", model="qdrant/bm25"), using="dense")
    with pytest.raises(ValidationError):
        c = Client()  # a client without inference rejects documents
        c.create_collection("u", vectors_config={"size": 2, "distance": "Dot"})
        c.upsert("u", [{"id": 1, "vector": {"text": "x", "model": "qdrant/bm25"}}])
