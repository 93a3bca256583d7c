"""The global quota: persisted with the data folder, enforced on the writes that consume memory
or disk, with Qdrant's release margin and measurement cache."""

from __future__ import annotations

import pytest

from hybrid import Client
from hybrid import quotas
from hybrid.errors import DataDamaged, InsufficientStorage, InvalidValue


def fake_disk(manager: quotas.QuotaManager, readings: list[int]) -> list[int]:
    """The disk meter reads from `readings` (the last one repeats); returns the calls made."""
    calls: list[int] = []

    def measure() -> int:
        calls.append(1)
        return readings.pop(0) if len(readings) > 1 else readings[0]

    manager.meters["max_disk_usage_percent"] = quotas.Meter(measure)
    return calls


def test_limit_trips_and_releases_below_the_margin(monkeypatch):
    monkeypatch.setattr(quotas, "MEASUREMENT_TTL", 0.0)  # every check measures
    client = Client()
    client.update_quotas({"enabled": True, "max_disk_usage_percent": 90})
    fake_disk(client.quota, [80, 90, 87, 84, 88])
    client.create_collection("c", vectors_config={"size": 2, "distance": "Dot"})
    client.upsert("c", [{"id": 1, "vector": [1, 2]}])  # 80%: under the limit
    with pytest.raises(InsufficientStorage, match="Disk usage is at 90% of total capacity, exceeding the configured"):
        client.upsert("c", [{"id": 2, "vector": [1, 2]}])
    with pytest.raises(InsufficientStorage, match="has to fall below 85%"):  # back under, inside the margin
        client.set_payload("c", {"k": 1}, points=[1])
    client.delete("c", [1])  # deletes are never refused (and do not measure)
    client.upsert("c", [{"id": 3, "vector": [1, 2]}])  # 84%: released
    client.create_payload_index("c", "k", "keyword")  # 88%: under the limit again
    assert client.count("c").count == 1
    assert client.collection("c").seq == 4  # the refused writes left no trace


def test_readings_below_the_limit_are_reused_and_at_it_never(monkeypatch):
    manager = quotas.QuotaManager(None)
    manager.set_config(quotas.QuotaConfig(enabled=True, max_disk_usage_percent=50))
    calls = fake_disk(manager, [10, 60, 20])
    manager.check_update()
    manager.check_update()
    assert len(calls) == 1
    manager.meters["max_disk_usage_percent"].last = None
    with pytest.raises(InsufficientStorage):
        manager.check_update()
    manager.check_update()  # a reading at the limit is never reused: freed room counts at once
    assert len(calls) == 3


def test_disabled_or_unset_limits_refuse_nothing():
    manager = quotas.QuotaManager(None)
    manager.set_config(quotas.QuotaConfig(enabled=False, max_disk_usage_percent=1, max_resident_memory_percent=1))
    manager.check_update()
    manager.set_config(quotas.QuotaConfig(enabled=True))
    manager.check_update()


def test_config_is_persisted_and_validated(tmp_path):
    first = Client(path=tmp_path)
    with pytest.raises(InvalidValue, match="max_disk_usage_percent"):
        first.update_quotas({"enabled": True, "max_disk_usage_percent": 0})
    first.update_quotas({"enabled": True, "max_resident_memory_percent": 99, "release_margin_percent": 0})
    first.close()
    again = Client(path=tmp_path)
    status = again.get_quotas()
    assert status.config == quotas.QuotaConfig(True, 99, None, 0)
    assert 0 <= status.usage.disk_usage_percent <= 100
    again.close()
    (tmp_path / quotas.FILE).write_bytes(b"garbage")
    with pytest.raises(DataDamaged, match="quota.json"):  # a quota it cannot honour is not "no limits"
        Client(path=tmp_path)
