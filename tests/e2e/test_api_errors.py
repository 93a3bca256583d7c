"""Error envelopes and status codes; rejected writes change nothing."""

from __future__ import annotations

import httpx
import pytest


def call(server, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", timeout=60, **kwargs)


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"status", "time"} and isinstance(body["time"], float)
    return body["status"]["error"]


@pytest.mark.parametrize("method, path, kwargs, status, words", [
    ("POST", "/collections/err_c/points/query", {"content": b"{not json"}, 400, "Format error"),
    ("POST", "/collections/err_c/points/query", {"content": b""}, 400, "body"),
    ("POST", "/collections/err_c/points/query", {"json": {"limit": "ten"}}, 400, "limit"),
    ("POST", "/collections/err_c/points/query", {"json": {"limit": 0}}, 422, "limit"),
    ("POST", "/collections/err_c/points/query", {"json": {"query": [1, 2], "using": "d"}}, 400, "dim"),
    ("POST", "/collections/err_c/points/query", {"json": {"query": [0.1] * 8, "using": "d", "filter": {"must": 5}}}, 400, "must"),
    ("PUT", "/collections/err_c/points?wait=maybe", {"json": {"points": []}}, 400, "wait"),
    ("POST", "/collections/err_c/points/scroll", {"json": {"offset": {"a": 1}}}, 400, "offset"),
    ("POST", "/collections/err_missing/points/count", {"json": {}}, 404, "err_missing"),
    ("GET", "/collections/err_c/points/12345", {}, 404, "12345"),
    ("GET", "/no/such/route", {}, 404, "Not Found"),
    ("DELETE", "/collections/err_c/points/scroll", {}, 405, "Method Not Allowed"),
    ("PUT", "/collections/err_c", {"json": {"vectors": {"size": 4, "distance": "Cosine"}}}, 409,
     "Wrong input: Collection `err_c` already exists!"),
    ("PUT", "/collections/bad:name", {"json": {"vectors": {"size": 4, "distance": "Cosine"}}}, 422, "name"),
    ("PUT", "/collections/err_new", {"json": {"vectors": {"size": -1, "distance": "Cosine"}}}, 400, "size"),
    ("PUT", "/collections/err_new", {"json": {"vectors": {"size": 4, "distance": "Cosine"},
                                              "quantization_config": {"binary": {}}}}, 400, "quantization_config"),
])
def test_error_status_and_envelope(server, twins, method, path, kwargs, status, words):
    if not server.client.collection_exists("err_c"):
        twins("err_c")
    response = call(server, method, path, **kwargs)
    assert response.status_code == status, response.text
    assert words.lower() in error_of(response).lower()


def test_rejected_writes_change_nothing(server, twins, plain):
    twins("err_atomic")
    before = call(server, "POST", "/collections/err_atomic/points/scroll", json={"limit": 100, "with_vector": True})
    bad_upsert = {"points": [{"id": 1000, "vector": {"d": [0.0] * 8}},
                             {"id": 1001, "vector": {"d": [0.0] * 7}}]}
    response = call(server, "PUT", "/collections/err_atomic/points?wait=true", json=bad_upsert)
    assert response.status_code == 400 and "points[1]" in error_of(response)
    bad_batch = {"operations": [
        {"upsert": {"points": [{"id": 2000, "vector": {"d": [1.0] * 8}}]}},
        {"delete": {"points": [1, 2]}},
        {"set_payload": {"payload": "not an object", "points": [3]}},
    ]}
    response = call(server, "POST", "/collections/err_atomic/points/batch", json=bad_batch)
    assert response.status_code == 400 and "operations[2]" in error_of(response)
    after = call(server, "POST", "/collections/err_atomic/points/scroll", json={"limit": 100, "with_vector": True})
    assert after.json()["result"] == before.json()["result"]


def test_body_size_limit(start):
    small = start(max_request_bytes=1000)
    response = httpx.put(f"{small.url}/collections/big", json={"vectors": {"size": 4, "distance": "Cosine"},
                                                               "metadata": {"x": "y" * 2000}})
    assert response.status_code == 413
    assert error_of(response)
    assert not small.client.collection_exists("big")


def test_internal_errors_are_500_without_details(start):
    class Broken:
        def get_collections(self):
            raise RuntimeError("secret internals")

        def resolve_alias(self, name):
            return name

    broken = start(Broken())
    response = httpx.get(f"{broken.url}/collections")
    assert response.status_code == 500
    assert "secret" not in error_of(response)
