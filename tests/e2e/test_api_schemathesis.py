"""Property-based fuzzing of every route in our /openapi.json: no input may cause a 5xx.

Requests go to the real server. The collection path parameter is pinned to a collection with
data (recreated when a fuzzed request deletes it), so the engine sees the generated bodies.
Bounded: a few seeded examples per operation (about a minute in all).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

TRANSPORTS = ["rest"]  # fuzzes REST routes; tests/e2e/test_grpc.py sends bad gRPC input
FUZZ = "fuzz"
EXAMPLES_PER_OPERATION = 10


def test_no_server_errors(server, remote, build_twins):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            if "collection_name" in (case.path_parameters or {}):
                case.path_parameters["collection_name"] = FUZZ
                if not server.client.collection_exists(FUZZ):
                    build_twins(remote, FUZZ).close()
            response = case.call(base_url=server.url, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{operation.label}: {response.status_code} {response.text[:300]}\n"
                                f"  {case.as_curl_command()}")

        fuzz()
    assert not failures, "\n".join(failures[:20])
