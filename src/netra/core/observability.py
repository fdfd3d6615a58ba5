"""Metrics (Prometheus, one registry per process runtime) and structured logging."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class Metrics:
    """Every metric Netra exports, registered in a registry of its own (no global state)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "netra_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "netra_http_request_duration_seconds", "HTTP latency", ["route"], registry=r
        )
        self.ws_connections = Gauge(
            "netra_ws_connections", "Open WebSocket connections", registry=r
        )
        self.ws_frames = Counter(
            "netra_ws_frames_total", "WebSocket frames", ["direction", "type"], registry=r
        )
        self.ws_closes = Counter("netra_ws_closes_total", "WebSocket closes", ["code"], registry=r)
        self.runs = Counter("netra_runs_total", "Agent runs finished", ["status"], registry=r)
        self.run_events = Counter("netra_run_events_total", "Run events stored", registry=r)
        self.usage_records = Counter(
            "netra_usage_records_total", "Usage records ingested", ["result"], registry=r
        )
        self.logins = Counter("netra_logins_total", "Login attempts", ["result"], registry=r)
        self.cache = Counter("netra_cache_total", "Cache lookups", ["result"], registry=r)
        self.llm_calls = Counter("netra_llm_calls_total", "LLM calls", ["result"], registry=r)
        self.webhooks = Counter(
            "netra_webhook_deliveries_total", "Webhook deliveries", ["result"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts HTTP requests by route template (not raw path: ids would explode cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], Metrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                route = scope.get("route")
                name = getattr(route, "path", None) or "unmatched"
                metrics.http_requests.labels(scope["method"], name, str(status["code"])).inc()
                metrics.http_latency.labels(name).observe(time.perf_counter() - start)


def metrics_endpoint(get: Callable[[Request], Metrics]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(
            get(request).render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return endpoint


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    """Called by process entry points (CLI), not at import."""
    logging.basicConfig(level=level.upper(), format="%(message)s")
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )
