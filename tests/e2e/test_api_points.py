"""Point writes and reads through the server (real qdrant-client, HTTP) vs the embedded Client."""

from __future__ import annotations

import httpx
from qdrant_client import models as qm



def everything(client, name: str) -> list:
    """Every point of a collection, with payload and vectors, in id order."""
    points, _ = client.scroll(name, limit=1000, with_payload=True, with_vectors=True)
    return points


def test_upsert_list_and_batch_forms_store_the_same_points(remote, twins, plain):
    local = twins("pts_upsert")
    batch = {"ids": [100, 101], "vectors": {"d": [[1.0] * 8, [0.5] * 8]}, "payloads": [{"k": 1}, {"k": 2}]}
    result = remote.upsert("pts_upsert", qm.Batch(**batch))
    local.upsert("pts_upsert", batch)
    assert result.status == qm.UpdateStatus.COMPLETED
    assert plain(everything(remote, "pts_upsert")) == plain(everything(local, "pts_upsert"))
    assert remote.count("pts_upsert").count == 62


def test_wait_false_is_acknowledged(remote, twins, plain):
    twins("pts_ack")
    result = remote.upsert("pts_ack", [qm.PointStruct(id=500, vector={"d": [0.1] * 8})], wait=False)
    assert result.status == qm.UpdateStatus.ACKNOWLEDGED


def test_retrieve_post_and_get_one(remote, server, twins, plain):
    local = twins("pts_get")
    got = remote.retrieve("pts_get", [3, 5, 999], with_payload=["tag"], with_vectors=["s"])
    assert plain(got) == plain(local.retrieve("pts_get", [3, 5, 999], with_payload=["tag"], with_vectors=["s"]))
    one = httpx.get(f"{server.url}/collections/pts_get/points/3").json()
    assert one["status"] == "ok"
    assert plain(one["result"]) == plain(local.retrieve("pts_get", [3], with_payload=True, with_vectors=True)[0])
    missing = httpx.get(f"{server.url}/collections/pts_get/points/999")
    assert missing.status_code == 404 and "999" in missing.json()["status"]["error"]


def test_scroll_pages_and_count_with_filter(remote, twins, plain):
    local = twins("pts_scroll")
    flt = qm.Filter(must=[qm.FieldCondition(key="group", match=qm.MatchAny(any=[1, 2]))])
    page, offset = remote.scroll("pts_scroll", scroll_filter=flt, limit=7, with_vectors=True)
    want, want_offset = local.scroll("pts_scroll", scroll_filter=flt, limit=7, with_vectors=True)
    assert plain(page) == plain(want) and offset == want_offset
    page2, _ = remote.scroll("pts_scroll", scroll_filter=flt, limit=7, offset=offset)
    assert plain(page2) == plain(local.scroll("pts_scroll", scroll_filter=flt, limit=7, offset=want_offset)[0])
    assert remote.count("pts_scroll", count_filter=flt).count == local.count("pts_scroll", count_filter=flt).count == 30


def test_payload_operations_by_ids_and_filter(remote, twins, plain):
    name = "pts_payload"
    local = twins(name)
    red = {"must": [{"key": "tag", "match": {"value": "red"}}]}
    for client in (remote, local):
        client.set_payload(name, {"flag": True}, points=[1, 2, 3])
        client.set_payload(name, {"inner": 5}, points=qm.Filter(**red) if client is remote else red, key="nested")
        client.overwrite_payload(name, {"only": "this"}, points=[4])
        client.delete_payload(name, ["price"], points=[5, 6])
        client.clear_payload(name, points_selector=[7])
    assert plain(everything(remote, name)) == plain(everything(local, name))


def test_vector_updates_and_deletes(remote, twins, plain):
    name = "pts_vectors"
    local = twins(name)
    remote.update_vectors(name, [qm.PointVectors(id=1, vector={"d": [2.0] * 8})])
    local.update_vectors(name, [{"id": 1, "vector": {"d": [2.0] * 8}}])
    remote.delete_vectors(name, ["s"], points=[2, 3])
    local.delete_vectors(name, ["s"], points=[2, 3])
    remote.delete(name, points_selector=qm.PointIdsList(points=[10, 11]))
    local.delete(name, [10, 11])
    remote.delete(name, points_selector=qm.FilterSelector(filter=qm.Filter(must=[
        qm.FieldCondition(key="group", match=qm.MatchValue(value=3))])))
    local.delete(name, {"filter": {"must": [{"key": "group", "match": {"value": 3}}]}})
    assert plain(everything(remote, name)) == plain(everything(local, name))
    assert remote.count(name).count == 44


def test_batch_update_applies_in_order(remote, twins, plain):
    name = "pts_batch"
    local = twins(name)
    remote_ops = [
        qm.UpsertOperation(upsert=qm.PointsList(points=[qm.PointStruct(id=200, vector={"d": [1.0] * 8},
                                                                       payload={"tag": "red"})])),
        qm.SetPayloadOperation(set_payload=qm.SetPayload(payload={"x": 1}, points=[200, 1])),
        qm.DeleteOperation(delete=qm.FilterSelector(filter=qm.Filter(must=[
            qm.FieldCondition(key="tag", match=qm.MatchValue(value="blue"))]))),
        qm.DeleteVectorsOperation(delete_vectors=qm.DeleteVectors(points=[1], vector=["s"])),
    ]
    results = remote.batch_update_points(name, remote_ops)
    local.batch_update_points(name, remote_ops)
    assert [r.status for r in results] == [qm.UpdateStatus.COMPLETED] * 4
    assert plain(everything(remote, name)) == plain(everything(local, name))


def test_scroll_order_by_over_rest(remote, server, twins):
    """order_by over REST as embedded: values in order with order_value, no next page; the
    key without a range index is a 400 naming it."""
    local = twins("pts_order")
    for client in (remote, local):
        client.create_payload_index("pts_order", "price", qm.PayloadSchemaType.FLOAT)
    order = qm.OrderBy(key="price", direction=qm.Direction.DESC, start_from=30.0)
    page, offset = remote.scroll("pts_order", order_by=order, limit=5)
    want, _ = local.scroll("pts_order", order_by=order, limit=5)
    assert [(p.id, p.order_value) for p in page] == [(p.id, p.order_value) for p in want] == [
        (20, 30.0), (19, 28.5), (18, 27.0), (17, 25.5), (16, 24.0)]
    assert offset is None
    response = httpx.post(f"{server.url}/collections/pts_order/points/scroll",
                          json={"order_by": "group", "limit": 3})
    assert response.status_code == 400 and "`group`" in response.json()["status"]["error"]
