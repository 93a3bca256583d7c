"""Service routes: version (and qdrant-client's compatibility check), probes, metrics, OpenAPI."""

from __future__ import annotations

import re
import warnings

import httpx

from api.settings import QDRANT_VERSION


def test_root_reports_a_qdrant_version(server):
    from qdrant_client import QdrantClient
    from qdrant_client.common.version_check import get_server_version

    body = httpx.get(server.url).json()
    assert body["version"] == QDRANT_VERSION
    assert get_server_version(server.url, rest_headers={}, auth_provider=None, timeout=10) == QDRANT_VERSION
    with warnings.catch_warnings():  # the installed qdrant-client accepts our version without a warning
        warnings.simplefilter("error")
        QdrantClient(url=server.url, timeout=10).close()


def test_probes(server):
    for path, text in (("/healthz", "healthz check passed"), ("/livez", "livez check passed"),
                       ("/readyz", "all shards are ready")):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 200 and response.text == text


def test_metrics_count_requests_of_either_transport(server, twins, remote, transport, refused):
    """REST by route template and HTTP status, gRPC by method and status code (as Qdrant labels them)."""
    twins("svc_metrics")
    for _ in range(3):
        remote.count("svc_metrics")
    with refused(404):
        remote.count("svc_nope")
    text = httpx.get(f"{server.url}/metrics").text
    if transport == "rest":
        route = 'method="POST",endpoint="/collections/{collection_name}/points/count"'
        ok, missing, family = f'{route},status="200"', f'{route},status="404"', "rest"
    else:
        route = 'endpoint="/qdrant.Points/Count"'
        ok, missing, family = f'{route},status="0"', f'{route},status="5"', "grpc"  # OK, NOT_FOUND
    assert re.search(rf"{family}_responses_total{{{ok}}} ([3-9]|\d\d+)", text), text
    assert re.search(rf"{family}_responses_total{{{missing}}} \d+", text)
    assert re.search(rf"{family}_response_duration_seconds_count{{{route}}} \d+", text)
    assert 'collection_points{collection="svc_metrics"} 60' in text
    assert re.search(r"^collections_total \d+$", text, re.M)


def test_openapi_document_covers_routes_and_extensions(server):
    doc = httpx.get(f"{server.url}/openapi.json").json()
    paths = doc["paths"]
    for path in ("/collections/{collection_name}/points/query", "/collections/{collection_name}/points/search",
                 "/collections/{collection_name}/snapshots/upload", "/collections/aliases", "/metrics"):
        assert path in paths, path
    query_body = paths["/collections/{collection_name}/points/query"]["post"]["requestBody"]
    assert query_body["content"]["application/json"]["schema"]["$ref"].endswith("Query")
    schemas = doc["components"]["schemas"]
    assert "bm25" in schemas["Query"]["properties"]["query"]["description"]
    assert "linear" in doc["info"]["description"] and "explain" in schemas["Query"]["properties"]
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_docs_page_loads_every_asset_from_this_server(server):
    """/docs must work offline: every script, stylesheet and icon it names is served by us."""
    page = httpx.get(f"{server.url}/docs").text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert {u.rsplit("/", 1)[-1] for u in urls} >= {"swagger-ui-bundle.js", "swagger-ui.css",
                                                     "swagger-ui-standalone-preset.js"}
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"/docs loads {url} from another host"
        asset = httpx.get(f"{server.url}{url}")
        assert asset.status_code == 200 and len(asset.content) > 100, url


def test_unknown_fields_as_qdrant_treats_them(server, twins):
    """Qdrant ignores unknown top-level fields (serde's default) but denies them inside a filter."""
    twins("svc_unknown")
    base = f"{server.url}/collections/svc_unknown/points"
    ignored = httpx.post(f"{base}/query", json={"qurey": [0.1, 0.2], "limit": 2})
    assert ignored.status_code == 200
    denied = httpx.post(f"{base}/query", json={"limit": 2, "filter": {"mustt": []}})
    assert 400 <= denied.status_code < 500 and "mustt" in denied.json()["status"]["error"]
