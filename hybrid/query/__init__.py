"""Building blocks of the Universal Query API (used by hybrid.query.plan and hybrid.query).

- `parse`: a query as written (Qdrant JSON / qdrant-client model) -> a typed operation;
- `vectors`: example inputs (vectors, point ids, documents, lookup_from) -> prepared queries;
- `scoring`: vectorised scorers (nearest, recommend, discover, context) over segments;
- `diversity`: MMR re-ranking with pairwise candidate similarities;
- `formula`: the FormulaContext of `fusion.Formula` over prefetched candidates;
- `ordering`: order_by and random sampling; `groups`: group_by; `explain`: per-branch scores.
"""
