"""``python -m evals.fuzz_api --examples 100``: schemathesis over our /openapi.json against a real
server, counting 5xx answers per operation (the contract: none).

It starts an in-memory server on a free loopback port (or fuzzes ``--url``), pins every
``collection_name`` path parameter to a collection with data (recreated when a fuzzed request
deletes it) so the engine sees the generated bodies, and runs ``--examples`` seeded examples per
operation. Prints one line per operation with a 5xx and the total; exits 1 when there is any.
The CI test (tests/e2e/test_api_schemathesis.py) runs the same loop with a few examples.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

FUZZ = "fuzz"


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)  # "operation: status body\n  curl"
    by_status: dict[int, int] = field(default_factory=dict)


def fuzz(url: str, examples: int, prepare: Callable[[], None], seed_derandomize: bool = True,
         timeout: float = 30.0) -> FuzzReport:
    """Run `examples` generated requests per operation of `url`/openapi.json; `prepare()` runs
    before each request that names a collection (it makes sure the `fuzz` collection exists)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    report = FuzzReport()
    operations = [result.ok() for result in schema.get_all_operations()]
    report.operations = len(operations)
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, derandomize=seed_derandomize, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            if "collection_name" in (case.path_parameters or {}):
                case.path_parameters["collection_name"] = FUZZ
                prepare()
            response = case.call(base_url=url, timeout=timeout)
            report.requests += 1
            report.by_status[response.status_code] = report.by_status.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                report.server_errors.append(f"{operation.label}: {response.status_code} {response.text[:300]}\n"
                                            f"  {case.as_curl_command()}")

        run()
    return report


def fuzz_collection(client) -> Callable[[], None]:
    """`prepare` for a server over the embedded `client`: (re)creates the `fuzz` collection with
    dense, sparse and payload data when a fuzzed request deleted it. A fuzzed PUT /quotas is
    lifted first: its refusals (507) are tested on purpose in tests/e2e/test_api_vector_names.py."""
    def prepare() -> None:
        client.update_quotas({})
        if client.collection_exists(FUZZ):
            return
        import numpy as np

        rng = np.random.default_rng(7)
        client.create_collection(FUZZ, vectors_config={"d": {"size": 8, "distance": "Cosine"}},
                                 sparse_vectors_config={"s": {"modifier": "idf"}})
        points = [{"id": i, "vector": {"d": rng.normal(size=8).round(4).tolist(),
                                       "s": {"indices": [i % 40, 41], "values": [0.5, 0.25]}},
                   "payload": {"group": i % 4, "tag": ["red", "green", "blue"][i % 3], "price": i * 1.5}}
                  for i in range(60)]
        client.upsert(FUZZ, points)

    return prepare


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.fuzz_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="generated requests per operation")
    args = parser.parse_args(argv)

    import threading

    import uvicorn

    from api.app import create_app
    from api.settings import Settings
    from hybrid import Client
    with socket.socket() as sock:  # a free loopback port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client()
    app = create_app(client, Settings(port=port), owned=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    started = time.perf_counter()
    try:
        report = fuzz(f"http://127.0.0.1:{port}", args.examples, fuzz_collection(client))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    print(f"{report.operations} operations, {args.examples} examples each: {report.requests} requests in "
          f"{time.perf_counter() - started:.0f} s")
    print("status counts: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.by_status.items())))
    print(f"5xx answers: {len(report.server_errors)}")
    for line in report.server_errors[:20]:
        print(line)
    return 1 if report.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
