"""The read path of a query, one room each, walked in this order:

- `request`: Qdrant's QueryRequest shape; `run_query` / `run_groups` = plan + execute;
- `plan` (with `parse`, `vectors`): the whole request validated into a frozen `nodes.Plan`
  (leaves and merges) before anything runs; `str(plan)` prints it;
- `execute`: leaves per segment (`search`, `allowed`: the one exact-vs-graph decision;
  `scoring`, `ordering`, BM25 in hybrid.text), then the merge tree once (`merge`: fusion,
  `formula`, rescore, `diversity` (MMR), order_by, sample), then `hydrate` (payload, vectors,
  `explain`, `groups`). `execute_leaves` / `gather` / `finish` split it for distributed
  execution (DESIGN.md sections 5 and 9);
- `batch`: a batch planned all first (entries of one plain dense shape planned once) and its
  plain dense plans run through one graph walk per segment;
- `client`: the Client's query methods beyond query_points (groups).
"""
