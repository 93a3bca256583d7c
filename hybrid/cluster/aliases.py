"""Collection aliases of a cluster: one table in the GCS key-value store (next to the layouts,
hybrid.cluster.meta), so every coordinator resolves the same names. The rules of each action
(create/delete/rename, all or none, no alias named like a collection) are the single-node
Client's own (hybrid.admin), applied to the cluster's collection names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import msgspec

from hybrid import models as m
from hybrid.admin import AdminMixin
from hybrid.errors import CollectionNotFound, ValidationError

if TYPE_CHECKING:
    from hybrid.cluster.coordinator import ClusterClient

KEY = b"hybrid/cluster/aliases"


class _Collections:
    """What the single-node alias rules look at: the collection names and `_get`."""

    def __init__(self, names: Sequence[str]) -> None:
        self._collections = set(names)

    def _get(self, name: str) -> None:
        if name not in self._collections:
            raise CollectionNotFound(name)


class AliasMixin:
    def _aliases(self: "ClusterClient") -> dict[str, str]:
        return _table(self.meta.store.get(KEY))

    def resolve_alias(self: "ClusterClient", name: str) -> str:
        """The collection a name stands for: itself when it is a collection, else its alias target."""
        if self.meta.get(name) is not None:
            return name
        return self._aliases().get(name, name)

    def update_collection_aliases(self: "ClusterClient", change_aliases_operations: Sequence[Any],
                                  timeout: Optional[int] = None) -> bool:
        actions = m.to_builtins(change_aliases_operations)
        if not isinstance(actions, list):
            raise ValidationError("actions", "expected a list of alias operations")
        names = _Collections(self.meta.names())

        def change(raw: Optional[bytes]) -> bytes:  # all actions or none, on the table as stored now
            table = _table(raw)
            for i, action in enumerate(actions):
                AdminMixin._alias_action(names, table, action, f"actions[{i}]")
            return msgspec.json.encode(table)

        self.meta.transact(KEY, change)
        return True

    def get_aliases(self: "ClusterClient") -> m.CollectionsAliasesResponse:
        names = set(self.meta.names())
        live = {a: c for a, c in self._aliases().items() if c in names}
        return m.CollectionsAliasesResponse([m.AliasDescription(a, c) for a, c in sorted(live.items())])

    def get_collection_aliases(self: "ClusterClient", collection_name: str) -> m.CollectionsAliasesResponse:
        self.layout(collection_name)
        return m.CollectionsAliasesResponse([a for a in self.get_aliases().aliases
                                             if a.collection_name == collection_name])

    def drop_aliases_of(self: "ClusterClient", collection_name: str) -> None:
        """Forget the aliases of a deleted collection (a new one of that name does not inherit them)."""
        def change(raw: Optional[bytes]) -> Optional[bytes]:
            table = _table(raw)
            kept = {a: c for a, c in table.items() if c != collection_name}
            return raw if kept == table else msgspec.json.encode(kept)

        self.meta.transact(KEY, change)


def _table(raw: Optional[bytes]) -> dict[str, str]:
    return {} if raw is None else msgspec.json.decode(raw, type=dict[str, str])
