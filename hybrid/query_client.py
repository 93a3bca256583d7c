"""Client methods of the Query API beyond query_points/query_batch_points (groups, facets, ...).

`QueryMixin` is mixed into `hybrid.Client`; its methods use `self._get(name)` and `self.infer`.
"""

from __future__ import annotations


class QueryMixin:
    pass
