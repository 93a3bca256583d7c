"""Property-based fuzzing of every route in our /openapi.json: no input may cause a 5xx.

Requests go to the real server (evals.fuzz_api's loop). The collection path parameter is pinned
to a collection with data (recreated when a fuzzed request deletes it), so the engine sees the
generated bodies. Bounded: a few seeded examples per operation; `python -m evals.fuzz_api
--examples 100` runs the full budget.
"""

from __future__ import annotations

from evals.fuzz_api import FUZZ, fuzz

TRANSPORTS = ["rest"]  # fuzzes REST routes; tests/e2e/test_grpc.py sends bad gRPC input
EXAMPLES_PER_OPERATION = 5


def test_no_server_errors(server, remote, build_twins):
    def prepare() -> None:
        if not server.client.collection_exists(FUZZ):
            build_twins(remote, FUZZ).close()

    report = fuzz(server.url, EXAMPLES_PER_OPERATION, prepare)
    assert report.operations > 60
    assert not report.server_errors, "\n".join(report.server_errors[:20])
