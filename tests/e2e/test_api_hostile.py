"""Hostile input over REST (issue 19): every case answers 4xx as Qdrant would, never 5xx, and
leaves nothing behind. One keyed server on a data folder for the module."""

from __future__ import annotations

import io
import tarfile
from urllib.parse import quote

import httpx
import pytest

from hybrid import Client
from tests.e2e.conftest import start_server

FULL, READ_ONLY = "full-key-H19", "read-key-H19"
KEY = {"api-key": FULL}
DEEP = 1200
DIM = 4


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile") / "data"
    engine = Client(path=data)
    running = start_server(engine, api_key=FULL, read_only_api_key=READ_ONLY)
    http = httpx.Client(base_url=running.url, headers=KEY, timeout=60)
    assert http.put("/collections/h", json={"vectors": {"size": DIM, "distance": "Cosine"}}).status_code == 200
    points = [{"id": i, "vector": [1.0, i, 0.0, 0.5], "payload": {"tag": f"t{i}", "n": i}} for i in range(5)]
    assert http.put("/collections/h/points?wait=true", json={"points": points}).status_code == 200
    yield running, http, data
    http.close()
    running.stop()
    engine.close()


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"status", "time"}, body  # Qdrant's error envelope
    return body["status"]["error"]


def nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/collections/h/points/query", '{"query": [1, 0, 0, 0], "filter": ' + nested(DEEP, '{"must": [', "]}", "{}")
     + "}"),
    ("PUT", "/collections/h/points", '{"points": [{"id": 9, "vector": [1, 0, 0, 0], "payload": {"a": '
     + nested(DEEP, "[", "]") + "}}]}"),
    ("POST", "/collections/h/points/query", '{"query": [1, 0, 0, 0], "prefetch": '
     + nested(DEEP, '{"prefetch": ', "}", '{"query": [1, 0, 0, 0]}') + "}"),
    ("POST", "/collections/h/points/query", '{"prefetch": {"query": [1, 0, 0, 0]}, "query": {"formula": '
     + nested(DEEP, '{"sum": [', "]}", '"$score"') + "}}"),
    ("POST", "/collections/h/points/scroll", '{"filter": {"must": [{"key": "tag", "match": {"value": '
     + nested(DEEP, "[", "]") + "}}]}}"),
])
def test_deep_nesting_is_a_400(hostile, method, path, body):
    _, http, _ = hostile
    response = http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nested more than 127 levels" in error_of(response)


def test_nesting_below_the_limit_is_parsed(hostile):
    _, http, _ = hostile
    flt = nested(40, '{"must": [', "]}", '{"key": "n", "range": {"gte": 2}}')
    response = http.post("/collections/h/points/count", content='{"filter": ' + flt + "}",
                         headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["result"]["count"] == 3
    # brackets inside strings are no nesting, escaped quotes do not end a string
    payload = {"text": "[" * 500 + '\\"' + "{" * 500}
    response = http.put("/collections/h/points?wait=true", json={"points": [{"id": 7, "vector": [0, 1, 0, 0],
                                                                            "payload": payload}]})
    assert response.status_code == 200, response.text
    assert http.get("/collections/h/points/7").json()["result"]["payload"] == payload


@pytest.mark.parametrize("path, body", [
    ("/collections/h/points/query", {"query": [1, 0, 0, 0], "with_payload": {"include": 5}}),
    ("/collections/h/points/scroll", {"with_payload": {"include": 5}}),
    ("/collections/h/points/scroll", {"with_payload": {"exclude": [1, 2]}}),
    ("/collections/h/points", {"ids": [1], "with_payload": {"include": "tag"}}),
    ("/collections/h/points/scroll", {"with_vector": {"a": 1}}),
])
def test_malformed_selectors_are_a_400(hostile, path, body):
    _, http, _ = hostile
    response = http.post(path, json=body)
    assert response.status_code == 400 and "with_" in error_of(response), response.text


BAD_NAMES = ["x" * 247, "y" * 255, "é" * 120, "z" * 240, "...", ".lock", "..", "a\nb", "a\x00b", "a:b", "a/b"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_bad_collection_names_are_refused(hostile, name):
    running, http, _ = hostile
    response = http.put(f"/collections/{quote(name, safe='')}", json={"vectors": {"size": DIM, "distance": "Dot"}})
    assert 400 <= response.status_code < 500, response.text
    assert name not in [c.name for c in running.client.get_collections().collections]


@pytest.mark.parametrize("alias", ["../../etc", "a\x00b", "\n", "." * 3, "q" * 300])
def test_bad_alias_names_are_refused(hostile, alias):
    running, http, _ = hostile
    response = http.post("/collections/aliases", json={"actions": [
        {"create_alias": {"collection_name": "h", "alias_name": alias}}]})
    assert 400 <= response.status_code < 500, response.text
    assert running.client.get_aliases().aliases == []


def test_snapshot_paths_stay_inside_the_collections_folder(hostile):
    _, http, data = hostile
    bait = data / "x.snapshot"
    bait.write_bytes(b"secret")
    for path in ("/collections/%2e%2e/snapshots/x.snapshot", "/collections/h/snapshots/..%2F..%2Fx.snapshot",
                 "/collections/h/snapshots/%2e%2e%2f%2e%2e%2fx.snapshot"):
        assert http.get(path).status_code == 404, path
        assert http.delete(path).status_code == 404, path
    assert bait.read_bytes() == b"secret"
    response = http.put("/collections/h2/snapshots/recover", json={"location": f"file://{bait}"})
    assert response.status_code == 400 and "location" in error_of(response)


def gzip_bomb(expanded: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("collection/big.bin")
        info.size = expanded
        tar.addfile(info, io.BytesIO(bytes(expanded)))
    return out.getvalue()


def test_gzip_bomb_upload_is_refused_while_unpacking(hostile):
    running, http, data = hostile
    bomb = gzip_bomb(64 << 20)  # 64 MiB of zeros in about 64 KB
    assert len(bomb) < 100_000
    response = http.post("/collections/bomb/snapshots/upload", files={"snapshot": ("b.snapshot", bomb)})
    assert response.status_code == 400 and "expands beyond" in error_of(response), response.text
    assert not running.client.collection_exists("bomb")
    leftovers = [p for p in data.rglob("*") if p.is_file() and p.stat().st_size > 1 << 20]
    assert leftovers == []  # nothing of the expansion stays on disk (and nothing large was written)
    assert not any((data / ".staging").iterdir())


def test_public_routes_and_preflight_as_qdrant(hostile):
    running, _, _ = hostile
    with httpx.Client(base_url=running.url) as anonymous:
        for public in ("/", "/healthz", "/readyz", "/livez"):  # Qdrant's whitelist
            assert anonymous.get(public).status_code == 200, public
        for keyed in ("/metrics", "/telemetry", "/collections", "/snapshots", "/cluster"):
            assert anonymous.get(keyed).status_code == 401, keyed
        preflight = anonymous.options("/collections/h/points/query", headers={
            "Origin": "http://example.test", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "api-key, content-type"})
        assert preflight.status_code in (200, 204) and preflight.headers["access-control-allow-origin"] == "*"
        assert anonymous.options("/collections").status_code == 401  # not a preflight: the key is needed


def test_wrong_types_and_bounds_answer_as_qdrant(hostile):
    _, http, _ = hostile
    wrong_type = http.post("/collections/h/points/query", json={"limit": "ten"})
    assert wrong_type.status_code == 400 and error_of(wrong_type).startswith("Format error in JSON body")
    out_of_bounds = http.post("/collections/h/points/query", json={"limit": 0})
    assert out_of_bounds.status_code == 422 and error_of(out_of_bounds).startswith("Validation error in JSON body")
    exists = http.put("/collections/h", json={"vectors": {"size": DIM, "distance": "Dot"}})
    assert exists.status_code == 409 and error_of(exists) == "Wrong input: Collection `h` already exists!"
    missing = http.get("/collections/nope")
    assert missing.status_code == 404 and error_of(missing) == "Not found: Collection `nope` doesn't exist!"
