"""AdminMixin aliases: all-or-nothing actions, conflicts, persistence."""

from __future__ import annotations

import pytest

from hybrid import Client
from hybrid.admin import AliasNotFound, NameConflict
from hybrid.errors import CollectionNotFound, ValidationError

VEC = {"size": 2, "distance": "Dot"}


def names(client) -> list[tuple[str, str]]:
    return [(a.alias_name, a.collection_name) for a in client.get_aliases().aliases]


def test_create_rename_delete(client):
    client.create_collection("a", vectors_config=VEC)
    client.create_collection("b", vectors_config=VEC)
    client.update_collection_aliases([{"create_alias": {"collection_name": "a", "alias_name": "x"}},
                                      {"create_alias": {"collection_name": "b", "alias_name": "y"}}])
    assert names(client) == [("x", "a"), ("y", "b")] and client.resolve_alias("x") == "a"
    client.update_collection_aliases([{"rename_alias": {"old_alias_name": "x", "new_alias_name": "z"}}])
    client.update_collection_aliases([{"create_alias": {"collection_name": "a", "alias_name": "y"}}])  # reassign
    assert names(client) == [("y", "a"), ("z", "a")]
    assert [a.alias_name for a in client.get_collection_aliases("a").aliases] == ["y", "z"]
    client.update_collection_aliases([{"delete_alias": {"alias_name": "z"}}])
    assert names(client) == [("y", "a")]
    assert client.resolve_alias("a") == "a" and client.resolve_alias("unknown") == "unknown"


@pytest.mark.parametrize("actions, error", [
    ([{"create_alias": {"collection_name": "missing", "alias_name": "q"}}], CollectionNotFound),
    ([{"create_alias": {"collection_name": "a", "alias_name": "a"}}], NameConflict),
    ([{"delete_alias": {"alias_name": "never"}}], AliasNotFound),
    ([{"rename_alias": {"old_alias_name": "never", "new_alias_name": "q"}}], AliasNotFound),
    ([{"create_alias": {"collection_name": "a"}}], ValidationError),
    ([{"drop_alias": {"alias_name": "x"}}], ValidationError),
    ("not a list", ValidationError),
])
def test_bad_actions_change_nothing(client, actions, error):
    client.create_collection("a", vectors_config=VEC)
    client.update_collection_aliases([{"create_alias": {"collection_name": "a", "alias_name": "keep"}}])
    batch = actions if isinstance(actions, str) else [{"delete_alias": {"alias_name": "keep"}}, *actions]
    with pytest.raises(error):
        client.update_collection_aliases(batch)
    assert names(client) == [("keep", "a")]


def test_aliases_of_deleted_collections_disappear(client):
    client.create_collection("a", vectors_config=VEC)
    client.update_collection_aliases([{"create_alias": {"collection_name": "a", "alias_name": "x"}}])
    client.delete_collection("a")
    assert names(client) == []  # hidden at once ...
    client.drop_aliases_of("a")
    client.create_collection("a", vectors_config=VEC)
    assert names(client) == []  # ... and not inherited by a new collection of that name


def test_aliases_persist(tmp_path):
    with Client(path=tmp_path) as first:
        first.create_collection("a", vectors_config=VEC)
        first.update_collection_aliases([{"create_alias": {"collection_name": "a", "alias_name": "x"}}])
    with Client(path=tmp_path) as second:
        assert names(second) == [("x", "a")]
