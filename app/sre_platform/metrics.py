"""Prometheus metrics: the names the canary analysis templates query (docs/interfaces.md).

The middleware is pure ASGI (no BaseHTTPMiddleware) so it costs microseconds per request,
and it sits outside the routes and the fault injection so that injected errors and
latency are counted exactly as a client sees them.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Dense up to 100 ms for the fast path, then steps that resolve a p99 near the 500 ms SLO.
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.4,
    0.5,
    0.6,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
# The label for requests no route matched: raw paths would make cardinality unbounded.
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the last response byte, by method and route template.",
    ["method", "route"],
    buckets=DURATION_BUCKETS,
)
BUILD_INFO = Gauge(
    "sre_platform_build_info",
    "Always 1; the labels say which build is running.",
    ["version", "git_sha"],
    multiprocess_mode="max",
)

access_log = logging.getLogger("sre_platform.access")


def set_build_info(version: str, git_sha: str) -> None:
    # One series per process: an app rebuilt with another version replaces it.
    BUILD_INFO.clear()
    BUILD_INFO.labels(version=version, git_sha=git_sha).set(1)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type, merged across workers if there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def route_of(scope: Scope) -> str:
    """The matched route's template, e.g. `/api/v1/items/{item_id}`."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Count and time every HTTP request, and write one access-log line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            _observe(scope, status, time.perf_counter() - start)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Count before the last byte leaves: a client that got its answer and then
                # scrapes /metrics (possibly from another worker) must see it counted.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not recorded:
                record()


def _observe(scope: Scope, status: int, elapsed: float) -> None:
    method = scope["method"]
    route = route_of(scope)
    REQUESTS.labels(method, route, str(status)).inc()
    DURATION.labels(method, route).observe(elapsed)
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "%s %s %d",
            method,
            scope["path"],
            status,
            extra={
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
