"""Collection and alias names that would misbehave as file names are refused up front, naming the
field (issue 19's hostile names); every accepted name can be created, snapshotted and reopened."""

from __future__ import annotations

import pytest

from hybrid import Client
from hybrid.errors import ValidationError
from hybrid.names import MAX_BYTES, check_name

BAD = ["", ".", "..", "...", ".lock", "a/b", "..\\x", "a\nb", "tab\t", "nul\0", "x" * 256, "x" * (MAX_BYTES + 1), "é" * 96, "a:b", "a*"]
GOOD = ["docs", "my-collection_1", "Données", "x" * MAX_BYTES, "日本" * 31, "a.b", "with space"]


@pytest.mark.parametrize("name", BAD)
def test_bad_names_name_the_field(name):
    with pytest.raises(ValidationError, match="collection_name"):
        check_name(name)
    with Client() as client:
        with pytest.raises(ValidationError, match="collection_name"):
            client.create_collection(name, vectors_config={"size": 2, "distance": "Dot"})
        client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
        with pytest.raises(ValidationError, match=r"actions\[0\]\.alias_name"):
            client.update_collection_aliases([{"create_alias": {"collection_name": "c", "alias_name": name}}])


@pytest.mark.parametrize("name", GOOD)
def test_good_names_live_on_disk_and_in_snapshots(tmp_path, name):
    with Client(path=tmp_path / "data") as client:
        client.create_collection(name, vectors_config={"size": 2, "distance": "Dot"})
        client.upsert(name, [{"id": 1, "vector": [1.0, 0.0]}])
        snapshot = client.create_snapshot(name)
        assert client.snapshot_file(name, snapshot.name).is_file()
    with Client(path=tmp_path / "data") as client:
        assert client.count(name).count == 1
