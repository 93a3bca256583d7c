"""hybrid.integrations.store (framework-free) and the optional-dependency guard of the adapters."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid

import pytest

from hybrid import Client
from hybrid.integrations.store import (
    HybridCollection, check_mode, check_weights, connect, point_id, rrf_relevance,
)


def test_point_ids_are_canonical_uuids_and_stable():
    given = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert point_id(given) == given.lower()
    assert point_id("doc-1") == point_id("doc-1") != point_id("doc-2")
    assert point_id(7) == point_id("7") and uuid.UUID(point_id("7")).version == 5


def test_mode_and_weight_checks_name_the_field():
    assert check_mode("hybrid") == "hybrid"
    with pytest.raises(ValueError, match="retrieval_mode"):
        check_mode("fuzzy")
    assert check_weights(None) is None and check_weights([1, 0]) == (1.0, 0.0)
    for bad in ([1], [0, 0], ["a", 1], [-1, 2]):
        with pytest.raises(ValueError, match="alpha"):
            check_weights(bad, "alpha")


def test_rrf_relevance_is_one_for_first_place_in_every_branch():
    assert rrf_relevance(1.0, None, None) == 1.0  # k=2: 1/2 + 1/2
    assert rrf_relevance(0.5, None, None) == 0.5
    assert rrf_relevance(0.5, None, (1.0, 0.0)) == 1.0  # only the dense branch counts
    assert rrf_relevance(2 / 60, 60, None) == pytest.approx(1.0)


def test_connect_owns_only_what_it_opens(tmp_path):
    given = Client()
    assert connect(given) == (given, False)
    memory, owned = connect()
    assert isinstance(memory, Client) and owned and memory.path is None
    on_disk, owned = connect(path=tmp_path / "db")
    assert owned and on_disk.path == tmp_path / "db"
    on_disk.close()
    with pytest.raises(ValueError, match="client, url"):
        connect(given, url="http://localhost:6333")


def test_collection_reads_before_any_write_are_empty():
    coll = HybridCollection(Client(), "none_yet")
    assert coll.search("dense", 3, dense=[1.0, 0.0]) == [] and coll.retrieve(["x"]) == []
    assert list(coll.scroll()) == [] and coll.count() == 0
    coll.delete_ids([point_id("x")])  # nothing to delete: no error
    assert not coll.client.collection_exists("none_yet")


def test_collection_layout_and_query_checks():
    coll = HybridCollection(Client(), "layout", keyword_fields=("doc_id",))
    ids = [point_id(i) for i in range(3)]
    sparse = [{"indices": [1, 2], "values": [1.0, 1.0]}, {"indices": [2], "values": [1.0]},
              {"indices": [], "values": []}]
    coll.upsert(ids, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], sparse, [{"doc_id": "a"}, {"doc_id": "b"}, {}])
    config = coll.client.get_collection("layout")
    assert "doc_id" in config.payload_schema
    assert [h.id for h in coll.search("sparse", 3, sparse={"indices": [1], "values": [1.0]})] == [ids[0]]
    assert coll.search("sparse", 3, sparse={"indices": [], "values": []}) == []
    fused = coll.search("hybrid", 3, dense=[1.0, 0.0], sparse={"indices": [2], "values": [1.0]})
    assert {h.id for h in fused} == set(ids)
    with pytest.raises(ValueError, match="dense query vector"):
        coll.search("dense", 3, sparse={"indices": [1], "values": [1.0]})
    with pytest.raises(ValueError, match="retrieval mode"):
        coll.search("colbert", 3, dense=[1.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        coll.upsert(ids, [[1.0, 0.0]], sparse, [{}, {}, {}])
    coll.delete_where({"must": [{"key": "doc_id", "match": {"value": "a"}}]})
    assert coll.count() == 2
    coll.drop()
    assert not coll.client.collection_exists("layout") and coll.count() == 0


@pytest.mark.parametrize("module, package, hidden", [
    ("hybrid.integrations.langchain", "langchain-core", "langchain_core"),
    ("hybrid.integrations.llamaindex", "llama-index-core", "llama_index"),
])
def test_missing_framework_raises_an_import_error_naming_the_extra(monkeypatch, module, package, hidden):
    for name in [n for n in sys.modules if n == hidden or n.startswith(hidden + ".")] + [hidden]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes `import name` fail
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=rf"{package}.*hybrid-vecsearch\[adapters\]"):
        importlib.import_module(module)


def test_core_imports_no_framework():
    code = ("import sys, hybrid, hybrid.integrations, hybrid.integrations.store; "
            "print(sorted(m for m in ('langchain_core', 'llama_index', 'qdrant_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
