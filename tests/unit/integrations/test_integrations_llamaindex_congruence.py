"""hybrid.integrations.llamaindex against llama-index-core's own reference store.

llama-index-core ships no standard test suite for vector stores; its `SimpleVectorStore` is the
reference implementation of the protocol (exact cosine top-k, `MetadataFilters` evaluated in
Python). The same nodes, queries, filters and deletions must give the same answer in both."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode  # noqa: E402
from llama_index.core.vector_stores import (  # noqa: E402
    FilterCondition, FilterOperator, MetadataFilter, MetadataFilters, SimpleVectorStore, VectorStoreQuery,
)

from hybrid.integrations.llamaindex import HybridVectorStore  # noqa: E402

DIM, N = 8, 24
WORDS = ["alpha", "beta", "gamma", "delta"]


def make_nodes() -> list[TextNode]:
    rng = np.random.default_rng(11)
    nodes = []
    for i in range(N):
        metadata = {"group": i % 3, "tag": ["red", "green", "blue", "amber"][i % 4], "price": round(float(i) * 1.5, 1),
                    "labels": [WORDS[i % 4], WORDS[(i // 4) % 4]]}
        if i % 5 == 0:
            metadata["note"] = f"the quick fox number {i}"
        nodes.append(TextNode(id_=f"node-{i}", text=f"text {i}", metadata=metadata,
                              embedding=rng.normal(size=DIM).tolist(),
                              relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i % 6}")}))
    return nodes


def f(key: str, value, op: str = "==") -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=FilterOperator(op))


FILTERS = {
    "eq_str": [f("tag", "red")],
    "eq_int": [f("group", 1)],
    "eq_float": [f("price", 4.5)],
    "ne": [f("tag", "red", "!=")],
    "gt": [f("price", 12.0, ">")],
    "gte": [f("group", 1, ">=")],
    "lt": [f("price", 6.0, "<")],
    "lte": [f("price", 6.0, "<=")],
    "in": [f("tag", ["red", "blue"], "in")],
    "nin": [f("tag", ["red", "blue"], "nin")],
    "any": [f("labels", ["alpha", "delta"], "any")],
    "all": [f("labels", ["alpha", "beta"], "all")],
    "contains": [f("labels", "gamma", "contains")],
    "text_match": [f("note", "quick", "text_match")],
    "is_empty": [f("note", None, "is_empty")],
    "and": [f("group", 2), f("price", 10.0, ">")],
}
CONDITIONS = {"or": FilterCondition.OR, "not": FilterCondition.NOT}


def filters_for(name: str) -> MetadataFilters:
    if name in CONDITIONS:
        return MetadataFilters(filters=[f("tag", "red"), f("group", 1)], condition=CONDITIONS[name])
    return MetadataFilters(filters=FILTERS[name])


@pytest.fixture
def pair():
    nodes = make_nodes()
    reference, ours = SimpleVectorStore(), HybridVectorStore("congruence")
    reference.add(nodes)
    ours.add(nodes)
    yield reference, ours
    ours.close()


def answer(store, **query) -> tuple[list[str], list[float]]:
    result = store.query(VectorStoreQuery(**{"similarity_top_k": N, **query}))
    return list(result.ids), [round(s, 5) for s in result.similarities]


QUERY = np.random.default_rng(5).normal(size=DIM).tolist()


@pytest.mark.parametrize("name", [*FILTERS, *CONDITIONS])
def test_filtered_queries_match_the_reference(pair, name):
    reference, ours = pair
    want = answer(reference, query_embedding=QUERY, filters=filters_for(name))
    assert 0 < len(want[0]) < N  # every filter selects something, but not everything
    assert answer(ours, query_embedding=QUERY, filters=filters_for(name)) == want


def test_top_k_and_node_ids_match_the_reference(pair):
    reference, ours = pair
    for query in [dict(similarity_top_k=5), dict(node_ids=["node-3", "node-7", "node-20"])]:
        assert answer(ours, query_embedding=QUERY, **query) == answer(reference, query_embedding=QUERY, **query)


def test_doc_ids_keep_the_nodes_of_those_documents(pair):
    reference, ours = pair  # the reference ignores doc_ids: filter its full answer by hand
    ids, scores = answer(reference, query_embedding=QUERY)
    keep = [i for i, node in enumerate(ids) if int(node.split("-")[1]) % 6 in (1, 4)]
    assert answer(ours, query_embedding=QUERY, doc_ids=["doc-1", "doc-4"]) == \
        ([ids[i] for i in keep], [scores[i] for i in keep])


@pytest.mark.parametrize("lam", [0.2, 0.7])
def test_mmr_picks_match_the_reference(pair, lam):
    """Two picks: from the third on, the reference penalises similarity to the latest pick only,
    where MMR (ours, Qdrant's) takes the maximum over every pick."""
    reference, ours = pair
    query = VectorStoreQuery(query_embedding=QUERY, similarity_top_k=2, mode="mmr", mmr_threshold=lam)
    want = reference.query(query, mmr_threshold=lam).ids  # the reference reads lambda from kwargs only
    assert ours.query(query, mmr_prefetch_k=N).ids == want  # every node a candidate, as in the reference
    assert ours.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=2, mode="mmr"),
                      mmr_threshold=lam, mmr_prefetch_k=N).ids == want


@pytest.mark.parametrize("delete", [
    lambda s: s.delete("doc-2"),
    lambda s: s.delete_nodes(["node-1", "node-5", "node-404"]),
    lambda s: s.delete_nodes(filters=filters_for("gt")),
    lambda s: s.delete_nodes(["node-13", "node-14"], filters=filters_for("eq_int")),
])
def test_deletions_match_the_reference(pair, delete):
    reference, ours = pair
    delete(reference)
    delete(ours)
    assert answer(ours, query_embedding=QUERY) == answer(reference, query_embedding=QUERY)


def test_unsupported_operator_names_the_key(pair):
    _, ours = pair
    bad = MetadataFilters(filters=[f("tag", "RED", "text_match_insensitive")])
    with pytest.raises(ValueError, match="filters\\['tag'\\].*text_match_insensitive"):
        ours.query(VectorStoreQuery(query_embedding=QUERY, filters=bad))
