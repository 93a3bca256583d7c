"""Prometheus metrics: request counts and latency histograms per route, plus collection gauges.

REST routes are labelled by their template (`/collections/{collection_name}/points/query`), never
the raw path, so label sets stay small; gRPC calls by their method (`/qdrant.Points/Query`) and
numeric status code, as Qdrant labels them (families `rest_*` and `grpc_*`). Rendered in the text
exposition format 0.0.4.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any

import grpc
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: Upper bounds (seconds) of the latency histogram buckets.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: dict[tuple[str, str, str, int], int] = {}  # (family, method, endpoint, status)
        self.latency: dict[tuple[str, str, str], list[float]] = {}  # bucket counts..., +Inf count, sum
        self.started = time.time()

    def observe(self, method: str, endpoint: str, status: int, seconds: float, family: str = "rest") -> None:
        """One response; `method` is the HTTP method ("" for gRPC, whose endpoint says it all)."""
        with self._lock:
            key = (family, method, endpoint, status)
            self.responses[key] = self.responses.get(key, 0) + 1
            row = self.latency.setdefault((family, method, endpoint), [0.0] * (len(BUCKETS) + 2))
            row[bisect.bisect_left(BUCKETS, seconds)] += 1
            row[-1] += seconds

    def render(self, client: Any, version: str) -> str:
        """The exposition text; `client` supplies collection gauges."""
        lines = [
            "# HELP app_info information about the server", "# TYPE app_info gauge",
            f'app_info{{name="hybrid",version="{version}"}} 1',
            "# HELP app_uptime_seconds seconds since the server started", "# TYPE app_uptime_seconds gauge",
            f"app_uptime_seconds {time.time() - self.started:.3f}",
        ]
        names = [d.name for d in client.get_collections().collections]
        lines += ["# HELP collections_total number of collections", "# TYPE collections_total gauge",
                  f"collections_total {len(names)}",
                  "# HELP collection_points number of points per collection", "# TYPE collection_points gauge"]
        for name in names:
            try:
                points = client.collection(name).points_count()
            except Exception:  # deleted meanwhile
                continue
            lines.append(f'collection_points{{collection="{_escape(name)}"}} {points}')
        with self._lock:
            responses = sorted(self.responses.items())
            latency = sorted((k, list(v)) for k, v in self.latency.items())
        for family, title in (("rest", "REST"), ("grpc", "gRPC")):
            lines += [f"# HELP {family}_responses_total {title} responses by endpoint and status",
                      f"# TYPE {family}_responses_total counter"]
            for (of, method, endpoint, status), n in responses:
                if of == family:
                    lines.append(f'{family}_responses_total{{{_labels(method, endpoint)},status="{status}"}} {n}')
            histogram = f"{family}_response_duration_seconds"
            lines += [f"# HELP {histogram} {title} response latency", f"# TYPE {histogram} histogram"]
            for (of, method, endpoint), row in latency:
                if of != family:
                    continue
                labels = _labels(method, endpoint)
                cumulative = 0.0
                for bound, n in zip((*BUCKETS, "+Inf"), row[:-1]):
                    cumulative += n
                    lines.append(f'{histogram}_bucket{{{labels},le="{bound}"}} {int(cumulative)}')
                lines.append(f"{histogram}_sum{{{labels}}} {row[-1]:.6f}")
                lines.append(f"{histogram}_count{{{labels}}} {int(cumulative)}")
        return "\n".join(lines) + "\n"


def _labels(method: str, endpoint: str) -> str:
    endpoint_label = f'endpoint="{_escape(endpoint)}"'
    return f'method="{method}",{endpoint_label}' if method else endpoint_label


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware(ASGIMiddleware):
    """Times every routed HTTP request and records its final status."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        scope.setdefault("state", {})["started"] = started  # type: ignore[typeddict-unknown-key]
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, record_status)
        finally:
            endpoint = scope.get("path_template") or "unmatched"
            self.metrics.observe(scope["method"], endpoint, status, time.perf_counter() - started)


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Times every unary gRPC call (all of Qdrant's RPCs are unary) and records its status code."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        call = handler.unary_unary

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started, failed = time.perf_counter(), False
            try:
                return await call(request, context)
            except BaseException:
                failed = True
                raise
            finally:  # an abort() set the code; an error that escaped is grpc's UNKNOWN
                code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
                self.metrics.observe("", details.method, code.value[0], time.perf_counter() - started, "grpc")

        return handler._replace(unary_unary=timed)
