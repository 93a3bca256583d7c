"""Client methods of the Query API beyond query_points/query_batch_points (groups, facets, ...).

`QueryMixin` is mixed into `hybrid.Client`; its methods use `self._get(name)` and `self.infer`.
"""

from __future__ import annotations

from typing import Any, Optional

from hybrid import models as m
from hybrid.query.parse import shallow
from hybrid.query.request import QueryGroupsRequest, run_groups


class QueryMixin:
    _view: Any
    _lookup: Any
    infer: Any

    def query_points_groups(self, collection_name: str, group_by: str, query: Any = None, using: Optional[str] = None,
                            prefetch: Any = None, query_filter: Any = None, search_params: Any = None,
                            limit: int = 10, group_size: int = 3, with_payload: Any = True, with_vectors: Any = False,
                            score_threshold: Optional[float] = None, with_lookup: Any = None,
                            lookup_from: Any = None, explain: bool = False, consistency: Any = None,
                            shard_key_selector: Any = None, timeout: Optional[int] = None) -> m.GroupsResult:
        """Best `limit` groups (distinct values of payload `group_by`), `group_size` hits each;
        `with_lookup` attaches the point whose id is the group id from another collection."""
        m.single_node_read(shard_key_selector, consistency, timeout)
        req = QueryGroupsRequest(
            query=query, using=using, prefetch=shallow(prefetch), filter=shallow(query_filter),
            params=m.convert(search_params, m.SearchParams, "params") if search_params is not None else None,
            score_threshold=score_threshold, limit=limit, with_payload=m.to_builtins(with_payload),
            with_vector=m.to_builtins(with_vectors), lookup_from=m.to_builtins(lookup_from), explain=explain,
            group_by=group_by, group_size=group_size, with_lookup=m.to_builtins(with_lookup),
        )
        return run_groups(self._view(collection_name), req, self.infer, self._lookup)
