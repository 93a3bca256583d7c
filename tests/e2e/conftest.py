"""Run the real server (uvicorn on a free loopback port, in a thread) for end-to-end tests.

Every test that talks to a server through qdrant-client (the fixtures `remote`, `twins`,
`shared_twin`, `connect`) runs once per transport: REST, gRPC (`prefer_grpc=True`) and gRPC with
`AsyncQdrantClient`; each transport has its own session server. A module narrows the list with
`TRANSPORTS = [...]`, a test with `@pytest.mark.transports("rest")`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Optional

import pytest
import uvicorn

from api.app import create_app
from api.settings import Settings
from hybrid import Client


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports: every socket stays bound until all are chosen (two one-at-a-time
    picks can return the same port, and then the REST and gRPC servers collide)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


@pytest.fixture
def pick_ports():
    """`free_ports` for test modules (conftest functions are not importable)."""
    return free_ports


TRANSPORTS = ["rest", "grpc", "grpc-async"]
CLIENT_FIXTURES = {"remote", "twins", "shared_twin", "connect"}
GRPC_PORTS: dict[str, int] = {}  # server url -> its gRPC port


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "transports(*names): the transports a client test runs on")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if CLIENT_FIXTURES & set(metafunc.fixturenames):
        marker = metafunc.definition.get_closest_marker("transports")
        transports = marker.args if marker else getattr(metafunc.module, "TRANSPORTS", TRANSPORTS)
        metafunc.parametrize("transport", transports, indirect=True, scope="session")


@pytest.fixture(scope="session")
def transport(request) -> str:
    """How qdrant-client talks to the server: rest, grpc or grpc-async."""
    return getattr(request, "param", "rest")


@dataclass
class RunningServer:
    url: str
    client: Client  # the engine behind the server
    server: uvicorn.Server
    thread: threading.Thread
    grpc_port: int = 0

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(client: Optional[Client] = None, **settings: object) -> RunningServer:
    port, grpc_port = free_ports(2)
    settings.setdefault("grpc_port", grpc_port)
    config = Settings(port=port, **settings)  # type: ignore[arg-type]
    app = create_app(client, config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    GRPC_PORTS[url] = config.grpc_port
    return RunningServer(url, app.state.runtime.client, server, thread, config.grpc_port)


class AsyncClientAsSync:
    """An AsyncQdrantClient driven by sync tests: its coroutines run on a loop of its own."""

    def __init__(self, **kwargs: object) -> None:
        from qdrant_client import AsyncQdrantClient

        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="async-qdrant-client", daemon=True).start()
        self._client = self._run(self._make(AsyncQdrantClient, kwargs))

    @staticmethod
    async def _make(cls, kwargs):  # the client's channels belong to the loop they were made in
        return cls(**kwargs)

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return lambda *args, **kwargs: self._run(attribute(*args, **kwargs))

    def close(self) -> None:
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)


def remote_client(url: str, transport: str = "rest", **kwargs: object):
    """A qdrant-client for the server at `url`, over `transport`."""
    from qdrant_client import QdrantClient

    if transport != "rest":
        kwargs.update(prefer_grpc=True, grpc_port=GRPC_PORTS[url])
    if transport == "grpc-async":
        return AsyncClientAsSync(url=url, timeout=60, **kwargs)
    return QdrantClient(url=url, timeout=60, **kwargs)


#: the gRPC status Qdrant sends where REST sends an HTTP status
GRPC_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
              405: "UNIMPLEMENTED", 409: "ALREADY_EXISTS", 422: "INVALID_ARGUMENT", 507: "RESOURCE_EXHAUSTED"}


@contextlib.contextmanager
def refusal(status: int, mentioning: str = "") -> Iterator[None]:
    """Expects the block's qdrant-client call to be refused with HTTP `status` (or its gRPC code),
    the error message mentioning `mentioning`."""
    import grpc
    from qdrant_client.http.exceptions import UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as exc:
        assert exc.status_code == status and mentioning in exc.content.decode(), exc
    except grpc.RpcError as exc:
        assert exc.code().name == GRPC_CODES[status] and mentioning in exc.details(), exc
    else:
        pytest.fail(f"not refused (expected status {status})")


@pytest.fixture
def refused():
    """`with refused(404): remote.get_collection(...)`, whatever the transport."""
    return refusal


@pytest.fixture(scope="session")
def server(transport: str) -> Iterator[RunningServer]:
    """One in-memory server per transport; tests use their own collection names."""
    running = start_server()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def remote(server: RunningServer, transport: str):
    qc = remote_client(server.url, transport)
    yield qc
    qc.close()


# ---------------------------------------------------------------- comparing server and embedded
def to_plain(value: object) -> object:
    """Qdrant-shaped builtins of any result (qdrant_client pydantic or our Structs), floats rounded,
    without a collection's `created_at` (two twins are never made at the same instant)."""
    from api.responses import with_defaults
    from hybrid import models as m

    def walk(v: object) -> object:
        if isinstance(v, float):
            return round(v, 5)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if x is not None and k != "created_at"}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    return walk(m.to_builtins(with_defaults(value)))


def dataset(n: int = 60, dim: int = 8, seed: int = 7) -> list[dict]:
    """Points with a dense `d`, a sparse `s` and a payload; seeded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        terms = np.sort(rng.choice(40, size=3, replace=False))
        out.append({"id": i, "vector": {"d": rng.normal(size=dim).round(4).tolist(),
                                        "s": {"indices": terms.tolist(), "values": rng.random(3).round(3).tolist()}},
                    "payload": {"group": i % 4, "tag": ["red", "green", "blue"][i % 3], "price": round(float(i) * 1.5, 2)}})
    return out


COLLECTION_CONFIG = {"vectors_config": {"d": {"size": 8, "distance": "Cosine"}},
                     "sparse_vectors_config": {"s": {"modifier": "idf"}}}


def make_twins(remote, name: str, points: Optional[list[dict]] = None) -> Client:
    """The same collection through the server and in a fresh embedded Client (returned)."""
    from qdrant_client import models as qm

    local = Client()
    points = dataset() if points is None else points
    remote.create_collection(name, vectors_config={"d": qm.VectorParams(size=8, distance=qm.Distance.COSINE)},
                             sparse_vectors_config={"s": qm.SparseVectorParams(modifier=qm.Modifier.IDF)})
    local.create_collection(name, **COLLECTION_CONFIG)
    remote.upsert(name, [qm.PointStruct(**p) for p in points])
    local.upsert(name, points)
    return local


@pytest.fixture
def plain():
    """Normalise a result for comparison (see `to_plain`)."""
    return to_plain


@pytest.fixture
def twins(remote):
    """`twins(name)`: create `name` on the server and in an embedded Client; returns the latter."""
    made: list[Client] = []

    def make(name: str, points: Optional[list[dict]] = None) -> Client:
        made.append(make_twins(remote, name, points))
        return made[-1]

    yield make
    for local in made:
        local.close()


@pytest.fixture(scope="session")
def shared_twin(remote):
    """`shared_twin(name)`: like `twins`, created once per session, for tests that only read."""
    cache: dict[str, Client] = {}

    def get(name: str) -> Client:
        if name not in cache:
            cache[name] = make_twins(remote, name)
        return cache[name]

    yield get
    for local in cache.values():
        local.close()


def _starter() -> Iterator:
    running: list[RunningServer] = []

    def make(client: Optional[Client] = None, **settings: object) -> RunningServer:
        running.append(start_server(client, **settings))
        return running[-1]

    yield make
    for item in running:
        item.stop()


@pytest.fixture
def start():
    """`start(client=None, **settings)`: another server, stopped at teardown."""
    yield from _starter()


@pytest.fixture(scope="module")
def module_start():
    """`start` for a module's servers."""
    yield from _starter()


@pytest.fixture
def connect(transport: str):
    """`connect(url, **kwargs)`: a qdrant_client.QdrantClient over the test's transport, closed at teardown."""
    made: list = []

    def make(url: str, **kwargs: object):
        made.append(remote_client(url, transport, **kwargs))
        return made[-1]

    yield make
    for qc in made:
        qc.close()


@pytest.fixture
def build_twins():
    """`build_twins(remote, name)`: `make_twins` for a server of the test's own."""
    return make_twins


@pytest.fixture
def free_tcp_port() -> int:
    return free_port()
