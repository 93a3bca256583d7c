"""One real local Ray cluster of 3 nodes for the cluster tests (package-scoped: starting one
takes ~20 s on a loaded 2-core machine). Each node carries a `hybrid_slot_<i>` resource, the
name a node keeps when it is restarted (hybrid.cluster.coordinator.slots)."""

from __future__ import annotations

import pytest

OBJECT_STORE = 80 * 1024**2


@pytest.fixture(scope="package")
def ray_cluster(tmp_path_factory):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"hybrid_slot_0": 1}, "object_store_memory": OBJECT_STORE,
        "include_dashboard": False,
        # a killed node is noticed in ~2 s rather than Ray's default ~30 s
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4}})

    def add_node(slot: int):
        return cluster.add_node(num_cpus=1, resources={f"hybrid_slot_{slot}": 1}, object_store_memory=OBJECT_STORE)

    nodes = [cluster.head_node, add_node(1), add_node(2)]
    ray.init(address=cluster.address, namespace="hybrid", include_dashboard=False, log_to_driver=False)
    try:
        yield cluster, nodes, add_node
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="package")
def coordinator(ray_cluster, tmp_path_factory):
    from hybrid.cluster.coordinator import ClusterClient

    client = ClusterClient(data_root=str(tmp_path_factory.mktemp("cluster")), health_interval=0)
    yield client
    client.close()
