"""Client methods for collection administration (aliases, snapshots, collection updates).

`AdminMixin` is mixed into `hybrid.Client`; its methods use `self._get(name)`,
`self._collections`, `self._lock` and `self.path` of the client.
"""

from __future__ import annotations


class AdminMixin:
    pass
