"""Layout changes are atomic across coordinators: two coordinators changing one collection's
layout at once (payload indexes from one, replica states as the health loop sets them and
update_collection history from the other) lose none of the changes."""

from __future__ import annotations

import threading

from hybrid.cluster.meta import ACTIVE, PARTIAL


def test_concurrent_layout_changes_from_two_coordinators_are_all_kept(ray_cluster, coordinator, tmp_path):
    from hybrid.cluster.coordinator import ClusterClient

    first, second = coordinator, ClusterClient(data_root=str(tmp_path), health_interval=0)
    first.create_collection("lu", vectors_config={"size": 2, "distance": "Dot"}, shard_number=2,
                            replication_factor=2)
    start, errors = threading.Barrier(3), []

    def run(steps):
        start.wait()
        try:
            for step in steps:
                step()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    layout = second.layout("lu")
    indexes = [lambda i=i: first.create_payload_index("lu", f"f{i}", "keyword") for i in range(6)]
    marks = [lambda i=i: second.mark(layout, i % 2, 1, PARTIAL if i < 38 else ACTIVE) for i in range(40)]
    history = [lambda i=i: second.meta.update("lu", lambda now: now.updates.append({"metadata": {"step": i}})) for i in range(40)]
    threads = [threading.Thread(target=run, args=(steps,)) for steps in (indexes, marks, history)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    now = first.layout("lu")
    assert sorted(now.field_indexes) == [f"f{i}" for i in range(6)]
    assert [u["metadata"]["step"] for u in now.updates] == list(range(40))
    assert [r.state for s in now.shards for r in s.replicas] == [ACTIVE] * 4
    second.close()
    first.delete_collection("lu")
